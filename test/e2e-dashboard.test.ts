import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { newPage, signIn, useBrowser } from './helpers/browser.ts';
import { ROOT, useCluster } from './helpers/cluster.ts';

const SHOTS = path.join(ROOT, 'tmp');
const PHONE = { width: 390, height: 844 };
const XSS_LOG = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
const XSS_RULE = '<img src=x onerror="window.__xss=3">';
const ANALYSIS = `    analysis:
      interval: 1s
      minRequests: 50
      metrics:
        - name: errors
          errorRate: { max: 0.01 }
`;

/** A page on another origin (another port of 127.0.0.1: same site, cross origin) that posts a form to the control API. */
async function attackerSite(t: { after: (fn: () => Promise<void>) => void }, target: string) {
  const page = `<!doctype html><form method="POST" action="${target}" enctype="text/plain">
<input name='{"version":"v3","x":"' value='"}'></form><script>document.forms[0].submit()</script>`;
  const server = http.createServer((_q, res) => res.end(page));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });
}

/** Whether the page's window.__xss was set by an injected handler (it must stay undefined). */
const xssRan = (page: Page) => page.evaluate('window.__xss');

describe('web dashboard in a real browser', { timeout: 170_000 }, () => {
  test('viewer, deployer and admin against cutover up: roles, live canary, analysis abort, logs, XSS and CSRF', async (t) => {
    mkdirSync(SHOTS, { recursive: true });
    const c = useCluster(t);
    await c.up({
      replicas: 2,
      strategy:
        '{ type: canary, canaryReplicas: 1, steps: [ { setWeight: 20 }, { pause: {} }, { setWeight: 50 }, { pause: {} }, { setWeight: 100 } ] }',
      serviceYaml: ANALYSIS,
    });
    const base = `http://127.0.0.1:${c.controlPort}/`;
    const viewer = (await c.api<{ token: string }>('POST', '/v1/tokens', { name: 'vera', role: 'viewer' }))
      .body.token;
    const deployer = (await c.api<{ token: string }>('POST', '/v1/tokens', { name: 'dan', role: 'deployer' }))
      .body.token;
    const load = c.startLoad({ concurrency: 4, pauseMs: 10 });
    await load.more(20, 'load running');
    const browser = await useBrowser(t);

    // The page is served with a strict policy, gzipped; the first load's compressed size is measured
    const { page: vp, problems: vProblems } = await newPage(browser);
    let firstLoad = 0;
    const assets: string[] = [];
    vp.on('response', (r) => {
      if (!r.url().startsWith(base) || r.url().includes('/v1/')) return;
      firstLoad += Number(r.headers()['content-length'] ?? 0);
      assets.push(r.url());
      assert.equal(r.headers()['x-content-type-options'], 'nosniff', r.url());
      assert.equal(r.headers()['content-encoding'], 'gzip', r.url());
      assert.match(
        r.headers()['content-security-policy'] ?? '',
        /default-src 'self'.*frame-ancestors 'none'/,
      );
    });
    await signIn(vp, base, viewer);
    vp.removeAllListeners('response');
    assert.ok(assets.length >= 5, assets.join(' '));
    t.diagnostic(`first load: ${assets.length} files, ${firstLoad} bytes compressed`);
    assert.ok(firstLoad > 0 && firstLoad < 250 * 1024, `first load ${firstLoad} bytes`);

    // Viewer: sees the service, no action buttons; the server refuses actions with 403 whatever the page does
    await vp.locator('tr[data-service="web"] [data-testid="phase"]', { hasText: 'Healthy' }).waitFor();
    await vp.goto(`${base}#/service/web`);
    await vp.getByRole('heading', { name: 'Instances' }).waitFor();
    assert.equal(await vp.locator('[data-action]').count(), 0, 'a viewer sees no action buttons');
    // (page scripts as strings: the tests are compiled without the DOM's types)
    const forged = (await vp.evaluate(`(async () => {
      const s = await (await fetch('/v1/session')).json();
      const post = (headers) => fetch('/v1/services/web/promote', { method: 'POST', headers })
        .then(async (r) => ({ status: r.status, code: (await r.json()).error?.code }));
      return { withCsrf: await post({ 'x-csrf-token': s.csrf }), withoutCsrf: await post({}) };
    })()`)) as { withCsrf: unknown; withoutCsrf: unknown };
    assert.deepEqual(forged.withCsrf, { status: 403, code: 'forbidden' });
    assert.deepEqual(forged.withoutCsrf, { status: 403, code: 'csrf' });

    // Deployer: deploys a canary from the page, watches the weight and the canary's chart move, edits rules
    const { page: dp, problems: dProblems } = await newPage(browser);
    await signIn(dp, base, deployer);
    await dp.goto(`${base}#/service/web`);
    await dp.locator('[data-action="deploy"]').click();
    await dp.locator('input[name="version"]').fill('v2');
    await dp.locator('[data-confirm]').click();
    await dp.getByTestId('answer').filter({ hasText: 'revision 2' }).waitFor();
    await dp.getByTestId('canary-weight').filter({ hasText: '20%' }).waitFor({ timeout: 30_000 });
    // The canary's live rate: an attribute with a number above zero (not '' = unknown, not '0')
    await dp
      .locator('[data-testid="rate-r2"]:not([data-rps=""]):not([data-rps="0"])')
      .waitFor({ timeout: 30_000 });
    await dp.locator('[data-action="rules"]').click();
    await dp.locator('textarea').fill('{"rules":[{"to":"nowhere"}]}');
    await dp.locator('[data-confirm]').click();
    const refused = await dp.getByTestId('answer').textContent();
    assert.match(refused ?? '', /traffic\.rules/, "the server's validation error is shown");
    await dp
      .locator('textarea')
      .fill(JSON.stringify({ rules: [{ match: { header: { 'X-Test': XSS_RULE } }, to: 'canary' }] }));
    await dp.locator('[data-confirm]').click();
    await dp.getByTestId('rule-match').filter({ hasText: 'onerror' }).waitFor();
    assert.equal(await dp.locator('.rules img').count(), 0, 'the rule value is text, not markup');
    // A few seconds of both revisions on the charts for the picture (docs/dashboard.png is this one)
    const chart = dp.locator('.chart[data-points]').first();
    await c.waitFor(async () => Number(await chart.getAttribute('data-points')) >= 8, 30_000, 'chart points');
    await shot(dp, 'service-canary-1280');
    const { page: phone } = await newPage(browser, PHONE);
    await signIn(phone, base, deployer);
    await phone.goto(`${base}#/service/web`);
    await phone.getByTestId('canary-weight').waitFor();
    await shot(phone, 'service-canary-390');
    await phone.goto(`${base}#/`);
    await phone.locator('tr[data-service="web"]').waitFor();
    await shot(phone, 'services-390');
    await dp.goto(`${base}#/?phase=Paused`);
    await dp.locator('tr[data-service="web"] [data-testid="weight"]', { hasText: '20%' }).waitFor();
    await shot(dp, 'services-1280');
    assert.equal(new URL(dp.url()).hash, '#/?phase=Paused', 'the filter is kept in the URL');

    // ... promotes through the steps; the page follows without a reload
    await dp.goto(`${base}#/service/web`);
    await dp.locator('[data-action="promote"]').click();
    await dp.locator('[data-confirm]').click();
    await dp.getByTestId('canary-weight').filter({ hasText: '50%' }).waitFor({ timeout: 30_000 });
    await dp.locator('[data-action="promote-full"]').click();
    await dp.locator('[data-confirm]').click();
    await dp.locator('[data-testid="phase"]', { hasText: 'Healthy' }).waitFor({ timeout: 60_000 });
    assert.equal((await c.status()).stable.revision, 2);

    // ... and aborts the next canary from the page: Aborted, all traffic back on stable
    await dp.locator('[data-action="deploy"]').click();
    await dp.locator('input[name="version"]').fill('v1');
    await dp.locator('[data-confirm]').click();
    await dp.getByTestId('canary-weight').filter({ hasText: '20%' }).waitFor({ timeout: 30_000 });
    await dp.locator('[data-action="abort"]').click();
    await dp.locator('[data-confirm]').click();
    await dp.locator('[data-testid="phase"]', { hasText: 'Aborted' }).waitFor({ timeout: 30_000 });
    assert.equal((await c.status()).phase, 'Aborted');
    assert.equal((await c.status()).stable.revision, 2);

    // A bad canary is aborted by the analysis: the open page shows it without a reload
    const bad = await c.api<{ revision: number }>('POST', '/v1/services/web/deploy', {
      version: 'v2',
      set: ['run.env.ERROR_RATE=0.2'],
    });
    assert.equal(bad.status, 202);
    await dp
      .locator('[data-testid="phase"]', { hasText: 'Progressing' })
      .or(dp.locator('[data-testid="phase"]', { hasText: 'Paused' }))
      .first()
      .waitFor();
    await c.waitFor(async () => (await c.status()).rollout === undefined, 60_000, 'the bad canary ended');
    const after = await c.status();
    assert.match(after.lastRollout?.phase ?? '', /Failed|Aborted/);
    await dp.locator('[data-testid="phase"]', { hasText: after.phase }).waitFor();
    await dp
      .getByText(`Last rollout to revision ${bad.body.revision}: ${after.lastRollout?.phase}`)
      .waitFor();

    // Logs follow; an HTML log line is shown as text
    const inst = after.instances.find((i) => i.state === 'ready');
    assert.ok(inst, 'a ready instance');
    await dp.goto(`${base}#/service/web/logs?instance=${inst.id}`);
    await dp.getByLabel('Log lines').waitFor();
    await dp.locator('.logs .line').first().waitFor();
    // Instances that stopped (the promoted-away stable, the failed canary) keep their logs, listed too
    await dp.locator('option', { hasText: '(stopped)' }).first().waitFor({ state: 'attached' });
    appendFileSync(path.join(c.dir, 'data', 'logs', 'web', `${inst.id}.log`), `${XSS_LOG}\n`);
    await dp.locator('.logs .line', { hasText: 'onerror' }).waitFor();
    assert.equal(await dp.locator('.logs img, .logs script').count(), 0, 'the log line is text, not markup');
    await shot(dp, 'logs-1280');

    // CSRF: a form posted from another origin with the deployer's cookie is refused, nothing deployed
    const revisionsBefore = (await c.api<{ revisions: unknown[] }>('GET', '/v1/services/web/history')).body
      .revisions.length;
    const evil = await attackerSite(t, `${base}v1/services/web/deploy`);
    await dp.goto(evil);
    await dp.waitForURL(`${base}v1/services/web/deploy`);
    const answer = JSON.parse((await dp.locator('body').textContent()) ?? '{}') as {
      error?: { code: string };
    };
    assert.equal(answer.error?.code, 'csrf');
    const revisionsAfter = (await c.api<{ revisions: unknown[] }>('GET', '/v1/services/web/history')).body
      .revisions.length;
    assert.equal(revisionsAfter, revisionsBefore, 'the cross-site post deployed nothing');

    // Admin: history and the audit trail with its verification (the refused requests are in it)
    const { page: ap, problems: aProblems } = await newPage(browser);
    await signIn(ap, base, c.adminToken() ?? '');
    await ap.goto(`${base}#/service/web/history`);
    await ap.getByText('AnalysisFailed').first().waitFor();
    await shot(ap, 'history-1280');
    await ap.goto(`${base}#/audit`);
    await ap.getByText(/Chain verified: \d+ entries intact/).waitFor();
    assert.ok((await ap.getByText('csrf').count()) > 0, 'the refused cross-site posts are audited');
    await shot(ap, 'audit-1280');

    // Sign-out ends the session: its cookie no longer works
    await vp.getByRole('button', { name: 'Sign out' }).click();
    await vp.getByLabel('API token').waitFor();
    const status = await vp.evaluate(`fetch('/v1/services').then((r) => r.status)`);
    assert.equal(status, 401);

    for (const p of [vp, dp, ap]) assert.equal(await xssRan(p), undefined, 'no injected script ran');
    const problems = [...vProblems, ...dProblems, ...aProblems];
    assert.deepEqual(problems, [], 'no page errors or CSP violations');
    const report = await load.stop();
    assert.ok(report.ok > 0);
  });

  test('an action the gateway has not taken yet is shown as saved with the reason, not as plain done', async (t) => {
    // Given a canary paused at 20% and an admin on its page
    const c = useCluster(t);
    await c.up({
      replicas: 1,
      strategy:
        '{ type: canary, canaryReplicas: 1, steps: [ { setWeight: 20 }, { pause: {} }, { setWeight: 100 } ] }',
    });
    const deploy = await c.cli(['deploy', 'web', '--version', 'v2']);
    assert.equal(deploy.code, 0, deploy.stderr);
    await c.waitFor(async () => (await c.status()).weights?.canary === 20, 30_000, 'canary at 20%');
    const browser = await useBrowser(t);
    const { page } = await newPage(browser);
    await signIn(page, `http://127.0.0.1:${c.controlPort}/`, c.adminToken()!);
    await page.goto(`http://127.0.0.1:${c.controlPort}/#/service/web`);
    await page.getByTestId('canary-weight').filter({ hasText: '20%' }).waitFor({ timeout: 30_000 });
    // When the gateway master stops answering and the admin sets the weight to 30
    const master = (await c.gatewayAdmin<{ pid: number }>('/healthz')).pid;
    process.kill(master, 'SIGSTOP');
    t.after(() => {
      try {
        process.kill(master, 'SIGCONT');
      } catch {}
    });
    await page.locator('[data-action="weight"]').click();
    await page.locator('input[name="weight"]').fill('30');
    await page.locator('[data-confirm]').click();
    // Then the answer says the change is saved but not yet routed, as a warning
    const answer = page.locator('[data-testid="answer"].warn');
    await answer.waitFor({ timeout: 20_000 });
    assert.match(
      (await answer.textContent()) ?? '',
      /^Set weight: done; saved, but the gateway did not take the new routes yet \(.+\); the controller pushes them again on its next tick$/,
    );
    assert.equal((await c.status()).weights?.canary, 30);
    // and the page shows the saved weight
    await page.getByTestId('canary-weight').filter({ hasText: '30%' }).waitFor({ timeout: 30_000 });
  });
});
