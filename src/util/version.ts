import { readFileSync } from 'node:fs';

/** Cutover's version, read once from package.json (the one place it is written). */
export const CUTOVER_VERSION: string = readPackageVersion();

function readPackageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
