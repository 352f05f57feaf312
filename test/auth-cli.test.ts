import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliResult, Cluster, ROOT } from './helpers/cluster.ts';

const BIN = path.join(ROOT, 'bin', 'cutover.mjs');

/** The CLI with a chosen environment and working directory. */
function runCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd, env });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c) => (stdout += c));
    p.stderr.on('data', (c) => (stderr += c));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('cutover token', { timeout: 120_000 }, () => {
  const c = new Cluster();
  before(() => c.up({ replicas: 1 }));
  after(() => c.destroy());

  test('create prints the token alone; it works until revoked; list never shows secrets', async () => {
    const made = await c.cli([
      'token',
      'create',
      '--name',
      'release-bot',
      '--role',
      'deployer',
      '--service',
      'web',
    ]);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /^cut_[A-Za-z0-9_-]{43}\n$/);
    const token = made.stdout.trim();
    const viewer = (await c.cli(['token', 'create', '--name', 'dash', '--role', 'viewer'])).stdout.trim();

    // --token (before the local admin file) and CUTOVER_TOKEN.
    const st = await c.cli(['status', 'web', '--token', token]);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /web/);
    const asViewer = await c.cli(['token', 'list', '--token', viewer]);
    assert.equal(asViewer.code, 1);
    assert.match(asViewer.stderr, /dash.*viewer.*needs admin/);
    const env = { ...c.env(), CUTOVER_TOKEN: viewer };
    const viaEnv = await runCli(['deploy', 'web', '--version', 'v2'], env, c.dir);
    assert.equal(viaEnv.code, 1);
    assert.match(viaEnv.stderr, /needs deployer or admin/);

    const list = await c.cli(['token', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^NAME\s+ROLE\s+SERVICES\s+CREATED\s+LAST USED/);
    assert.match(list.stdout, /release-bot\s+deployer\s+web\s+\d{4}-\d\d-\d\dT\S+\s+\d{4}-/);
    assert.match(list.stdout, /dash\s+viewer\s+-\s+\S+\s+\S+/);
    assert.match(list.stdout, /admin\s+admin\s+-/);
    assert.ok(!list.stdout.includes('cut_'), list.stdout);
    const json = JSON.parse((await c.cli(['token', 'list', '--json'])).stdout) as {
      tokens: Array<{ name: string; lastUsedAt?: number }>;
    };
    assert.ok(json.tokens.find((t) => t.name === 'release-bot')?.lastUsedAt);

    const revoked = await c.cli(['token', 'revoke', 'release-bot']);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, /revoked token release-bot/);
    const after = await c.cli(['status', 'web', '--token', token]);
    assert.equal(after.code, 1);
    assert.match(after.stderr, /invalid or revoked token/);
    assert.equal((await c.api('GET', '/v1/services', undefined, token)).status, 401);
    const again = await c.cli(['token', 'revoke', 'release-bot']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /no token named "release-bot"/);
  });

  test('usage errors and help', async () => {
    const missing = await c.cli(['token', 'create', '--name', 'x']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--name and --role are required/);
    const badRole = await c.cli(['token', 'create', '--name', 'x', '--role', 'root']);
    assert.equal(badRole.code, 2);
    assert.match(badRole.stderr, /role: must be one of viewer, deployer, admin/);
    assert.equal((await c.cli(['token', 'frob'])).code, 2);
    for (const cmd of ['token', 'audit']) {
      const h = await c.cli([cmd, '--help']);
      assert.equal(h.code, 0);
      assert.match(h.stdout, new RegExp(`Usage: cutover ${cmd}`));
    }
    assert.match((await c.cli(['--help'])).stdout, /--token TOKEN/);
  });

  test('the local admin token is only sent to the controller of that config', async () => {
    // Same port, but an address that is not the config's control.listen: no token is sent.
    const env = { ...c.env(), CUTOVER_ADDR: `localhost:${c.controlPort}` };
    const r = await runCli(['status'], env, c.dir);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing token.*--token/);
    // With -c the CLI knows the data dir and the address: the admin token is used.
    const withConfig = await runCli(['status', '-c', c.configFile], env, path.dirname(ROOT));
    assert.equal(withConfig.code, 0, withConfig.stderr);
  });

  test('the admin token survives a restart; deleting its file and restarting rotates it', async () => {
    const file = path.join(c.dir, 'data', 'admin.token');
    const first = readFileSync(file, 'utf8');
    await c.stop();
    await c.restart();
    assert.equal(readFileSync(file, 'utf8'), first);
    assert.equal((await c.cli(['token', 'list'])).code, 0);
    await c.stop();
    rmSync(file);
    await c.restart();
    const second = readFileSync(file, 'utf8');
    assert.notEqual(second, first);
    assert.equal((await c.api('GET', '/v1/services', undefined, first.trim())).status, 401);
    assert.equal((await c.api('GET', '/v1/services', undefined, second.trim())).status, 200);
    // Other tokens are kept.
    assert.match((await c.cli(['token', 'list'])).stdout, /dash\s+viewer/);
  });
});
