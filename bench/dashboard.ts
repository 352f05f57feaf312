/**
 * `npm run bench:dashboard`: the dashboard's frame budget (issue 12: 60 fps while 20 services update
 * every second). A real `cutover up` with 20 services (one example instance each) under steady load on
 * every service, and Debian's chromium (playwright-core) on the Services view, which redraws every
 * row and its sparklines each second. In the page, requestAnimationFrame timestamps are sampled for
 * `--seconds`, with the DOM mutations in that time (proof the page updated); reported: frames per second, frame-interval percentiles, the share of frames over
 * 20 ms, and long tasks (> 50 ms). Headless chromium with --disable-gpu renders in software, so a
 * real browser with a GPU does better. Prints a table, then `JSON:` and the document, and writes
 * bench/results/dashboard-latest.json.
 *
 *   node bench/dashboard.ts [--services 20] [--seconds 10]
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { newPage, signIn, useBrowser } from '../test/helpers/browser.ts';
import { Cluster, ROOT } from '../test/helpers/cluster.ts';
import { fmtMs, table } from './lib/format.ts';
import { REPO_ROOT } from './lib/targets.ts';

const { values } = parseArgs({
  options: { services: { type: 'string', default: '20' }, seconds: { type: 'string', default: '10' } },
});
const SERVICES = Number(values.services);
const SECONDS = Number(values.seconds);

/** Services beside `web` (which the cluster helper always writes), one per path prefix. */
function extraServices(n: number): string {
  let yaml = '';
  for (let i = 1; i < n; i++) {
    yaml += `  svc${i}:
    route: { host: "*", pathPrefix: /s${i} }
    version: v1
    replicas: 1
    run:
      command: "${process.execPath} ${ROOT}examples/releases/\${VERSION}/server.mjs --port \${PORT}"
    readiness: { path: /ready, interval: 500ms, timeout: 200ms, successThreshold: 1, failureThreshold: 2 }
    stopTimeout: 5s
`;
  }
  return yaml;
}

/** Steady requests to every service, so every row's rates change each second. */
function loadEvery(port: number, paths: string[]): { stop(): Promise<number> } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let running = true;
  let sent = 0;
  const loops = Array.from({ length: 8 }, async (_, k) => {
    let i = k;
    while (running) {
      const p = paths[i++ % paths.length];
      await new Promise<void>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
            res.resume();
            res.on('end', resolve);
          })
          .on('error', () => resolve());
      });
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return sent;
    },
  };
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const afters: Array<() => Promise<void>> = [];
const c = new Cluster();
try {
  await c.up({ replicas: 1, extraService: extraServices(SERVICES) });
  const paths = ['/', ...Array.from({ length: SERVICES - 1 }, (_, i) => `/s${i + 1}/`)];
  const load = loadEvery(c.gatewayPort, paths);
  const browser = await useBrowser({ after: (fn) => afters.push(fn) });
  const { page } = await newPage(browser);
  const base = `http://127.0.0.1:${c.controlPort}/`;
  await signIn(page, base, c.adminToken()!);
  await page.goto(`${base}#/`);
  await page
    .locator('tbody tr')
    .nth(SERVICES - 1)
    .waitFor({ timeout: 60_000 });
  // Let the live updates and sparklines settle in before measuring.
  await page.waitForTimeout(3_000);
  // In the page (a string: the bench is type-checked without the DOM library).
  const sample = (await page.evaluate(`(async () => {
    const longTasks = [];
    const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) longTasks.push(e.duration); });
    try { obs.observe({ type: 'longtask', buffered: false }); } catch {}
    let mutations = 0;
    const mo = new MutationObserver((records) => { mutations += records.length; });
    mo.observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    const stamps = [];
    await new Promise((resolve) => {
      const start = performance.now();
      const frame = (t) => { stamps.push(t); if (t - start < ${SECONDS * 1000}) requestAnimationFrame(frame); else resolve(); };
      requestAnimationFrame(frame);
    });
    obs.disconnect();
    mo.disconnect();
    return { stamps, longTasks, mutations };
  })()`)) as { stamps: number[]; longTasks: number[]; mutations: number };
  const requests = await load.stop();
  const gaps = sample.stamps.slice(1).map((t, i) => t - sample.stamps[i]);
  const sorted = [...gaps].sort((a, b) => a - b);
  const span = (sample.stamps[sample.stamps.length - 1] - sample.stamps[0]) / 1000;
  const doc = {
    services: SERVICES,
    seconds: SECONDS,
    requestsDuringSample: requests,
    frames: gaps.length,
    fps: gaps.length / span,
    frameMs: {
      p50: pct(sorted, 0.5),
      p95: pct(sorted, 0.95),
      p99: pct(sorted, 0.99),
      max: sorted[sorted.length - 1],
    },
    framesOver20msShare: gaps.filter((g) => g > 20).length / gaps.length,
    longTasks: { count: sample.longTasks.length, maxMs: Math.max(0, ...sample.longTasks) },
    /** DOM changes during the sample: proof the page was really updating while frames were counted. */
    domMutations: sample.mutations,
    target: '60 fps while 20 services update every second',
    browser: 'Debian chromium, headless, --disable-gpu (software rendering)',
  };
  console.log(
    table([
      ['measure', 'value'],
      ['services on the page', String(SERVICES)],
      ['frames per second', doc.fps.toFixed(1)],
      [
        'frame interval p50 / p95 / p99 / max (ms)',
        `${fmtMs(doc.frameMs.p50)} / ${fmtMs(doc.frameMs.p95)} / ${fmtMs(doc.frameMs.p99)} / ${fmtMs(doc.frameMs.max)}`,
      ],
      ['frames over 20 ms', `${(doc.framesOver20msShare * 100).toFixed(1)}%`],
      ['long tasks (> 50 ms)', `${doc.longTasks.count} (max ${fmtMs(doc.longTasks.maxMs)} ms)`],
      ['DOM mutations while sampled', String(doc.domMutations)],
    ]),
  );
  console.log(`JSON:\n${JSON.stringify(doc, null, 2)}`);
  const out = path.join(REPO_ROOT, 'bench', 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'dashboard-latest.json'), `${JSON.stringify(doc, null, 2)}\n`);
} finally {
  for (const fn of afters) await fn();
  c.destroy();
}
