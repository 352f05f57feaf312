/**
 * Idle memory of gateway builds in ONE run: each build's gateway is started with 2 workers and no
 * traffic, left alone for `--settle` seconds, and the VmRSS of its master and each worker read from
 * /proc. Builds alternate every round, so a slow phase of the machine reaches all of them.
 *
 *   node bench/profile/idle-rss.ts --build base=../base/src/gateway/main.ts --build new=src/gateway/main.ts \
 *        [--rounds 3] [--settle 3]
 *
 * A build is started from its main.ts; one given as `name=path@bundled` the way `cutover up` starts it
 * (src/gateway/master-launch.ts: the master from a bundle), for sources that have master-launch.ts.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { settingsIn } from '../../test/helpers/gateway-process.ts';
import { allProcs } from '../lib/rss.ts';

const { values } = parseArgs({
  options: {
    build: { type: 'string', multiple: true, default: [] },
    rounds: { type: 'string', default: '3' },
    settle: { type: 'string', default: '3' },
  },
});
const builds = values.build.map((b) => {
  const eq = b.indexOf('=');
  const spec = eq === -1 ? b : b.slice(eq + 1);
  const bundled = spec.endsWith('@bundled');
  const main = path.resolve(bundled ? spec.slice(0, -'@bundled'.length) : spec);
  return { name: eq === -1 ? b : b.slice(0, eq), main, bundled };
});
if (builds.length === 0)
  builds.push({ name: 'cutover', main: path.resolve('src/gateway/main.ts'), bundled: true });

/** The script and environment of a build's master (its own master-launch.ts for a bundled one). */
async function command(b: (typeof builds)[number]): Promise<{ script: string; env: Record<string, string> }> {
  if (!b.bundled) return { script: b.main, env: {} };
  const mod = (await import(pathToFileURL(path.join(path.dirname(b.main), 'master-launch.ts')).href)) as {
    masterLaunch: (
      main: string,
      warn: (m: string, e: string) => void,
    ) => { script: string; env: Record<string, string> };
  };
  return mod.masterLaunch(b.main, (m, e) => {
    throw new Error(`${b.name}: ${m}: ${e}`);
  });
}

interface Sample {
  build: string;
  masterMb: number;
  workersMb: number[];
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;

async function sample(b: (typeof builds)[number]): Promise<Sample> {
  const name = b.name;
  const cmd = await command(b);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'cutover-idle-'));
  try {
    const file = path.join(dir, 'settings.json');
    writeFileSync(file, JSON.stringify(settingsIn(dir, { workers: 2 })));
    const child = spawn(process.execPath, [cmd.script, '--settings', file], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, ...cmd.env },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.once('data', () => resolve());
        child.once('exit', (code) => reject(new Error(`${name}: gateway exited with ${code}`)));
      });
      await new Promise((r) => setTimeout(r, Number(values.settle) * 1000));
      const procs = allProcs();
      const master = procs.find((p) => p.pid === child.pid);
      const workers = procs.filter((p) => p.ppid === child.pid && p.rssKb > 0);
      return { build: name, masterMb: mb(master?.rssKb ?? 0), workersMb: workers.map((w) => mb(w.rssKb)) };
    } finally {
      child.kill('SIGTERM');
      if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const samples: Sample[] = [];
for (let round = 0; round < Number(values.rounds); round++) {
  for (const b of round % 2 === 0 ? builds : [...builds].reverse()) samples.push(await sample(b));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
console.log('build        master MB  worker MB (median)  workers seen');
for (const b of builds) {
  const mine = samples.filter((s) => s.build === b.name);
  const workers = mine.flatMap((s) => s.workersMb);
  console.log(
    `${b.name.padEnd(12)} ${median(mine.map((s) => s.masterMb))
      .toFixed(1)
      .padStart(9)}  ` + `${median(workers).toFixed(1).padStart(18)}  ${workers.length}`,
  );
}
console.log(JSON.stringify({ samples }));
