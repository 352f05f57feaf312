#!/usr/bin/env node
// Entry point of the `cutover` command. Cutover runs its TypeScript sources directly (Node >= 24).
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(
    `cutover needs Node.js 24 or newer (this is ${process.version}); run it through npx or npm scripts\n`,
  );
  process.exit(2);
}
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
