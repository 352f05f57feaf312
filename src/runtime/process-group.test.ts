import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  killProcessGroupsSync,
  processAlive,
  processesWithEnvironment,
  processGroupAlive,
  spawnGroup,
  terminateGroup,
  waitGroupGone,
} from './process-group.ts';

/** A shell leading its own group, with one background member; `ignoreTerm`: both ignore SIGTERM. */
function spawnShell(
  t: { after: (fn: () => void) => void },
  ignoreTerm: boolean,
  env: NodeJS.ProcessEnv = {},
) {
  const trap = ignoreTerm ? "trap '' TERM; " : '';
  const child = spawnGroup('/bin/sh', ['-c', `${trap}sleep 30 & echo ready; wait`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  t.after(() => killProcessGroupsSync([child.pid!]));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { child, pgid: child.pid!, exited, ready };
}

/** terminateGroup on the shell's group; `killed`: whether it came to SIGKILL. */
async function terminate(g: { pgid: number; exited: Promise<void> }, graceMs: number, reapMs: number) {
  let killed = false;
  const gone = await terminateGroup(g.pgid, {
    graceMs,
    reapMs,
    leaderExited: g.exited,
    onKill: () => {
      killed = true;
    },
  });
  return { gone, killed };
}

describe('process groups', () => {
  test('a spawned group is alive until terminated; SIGTERM suffices for a willing group', async (t) => {
    const g = spawnShell(t, false);
    await g.ready;
    assert.ok(processGroupAlive(g.pgid));
    assert.ok(processAlive(g.pgid));
    const { gone, killed } = await terminate(g, 5000, 1000);
    assert.equal(gone, true);
    assert.equal(killed, false, 'no SIGKILL needed');
    assert.equal(processGroupAlive(g.pgid), false);
  });

  test('a group that ignores SIGTERM is killed after the grace', async (t) => {
    const g = spawnShell(t, true);
    await g.ready;
    const { gone, killed } = await terminate(g, 200, 2000);
    assert.equal(gone, true);
    assert.equal(killed, true);
    assert.equal(processGroupAlive(g.pgid), false);
  });

  test('processes are found by an environment marker; killProcessGroupsSync skips invalid ids', async (t) => {
    const marker = `CUTOVER_PG_TEST=${randomUUID()}`;
    const [name, value] = marker.split('=');
    const g = spawnShell(t, false, { [name]: value });
    await g.ready;
    const found = processesWithEnvironment(marker);
    assert.ok(found.includes(g.pgid), `${found} includes the shell ${g.pgid}`);
    assert.ok(found.length >= 2, 'and its background member');
    assert.deepEqual(killProcessGroupsSync([0, 1, -5, g.pgid]), [g.pgid]);
    assert.equal(await waitGroupGone(g.pgid, 5000), true);
    assert.deepEqual(processesWithEnvironment(marker), []);
  });
});
