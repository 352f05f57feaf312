// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
/**
 * Property test: random mutations of a valid document never make the loader throw; the result is
 * always either a config or a non-empty list of well-formed issues.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { prng } from '../../test/helpers/prng.ts';
import { parseConfig, validateService } from './load.ts';
import { NOTIFICATION_EVENTS } from './notifications.ts';
import { compilePattern } from './pattern.ts';
import { validateTraffic, validateWeight } from './traffic.ts';
import type { ConfigIssue, CutoverConfig } from './types.ts';

const TRAFFIC = {
  stickyBy: 'header:X-User-Id',
  rules: [
    { match: { header: { 'X-Gray-Version': 'beta' } }, to: 'canary' },
    { match: { header: { 'X-Gray-Version': { prefix: 'be' } } }, to: 'canary' },
    { match: { header: { 'X-B': { regex: '^v[0-9]+$' } } }, to: 'canary' },
    { match: { cookie: { canary: 'always' } }, to: 'canary' },
    { match: { query: { beta: '1' } }, to: 'canary' },
    { match: { userIn: ['alice', 'bob'] }, to: 'canary' },
    { match: { userAgent: '(?i)iphone|android' }, to: 'stable' },
  ],
};

const ANALYSIS = {
  interval: '1s',
  minRequests: 50,
  metrics: [
    { name: 'errors', errorRate: { max: 0.01 } },
    { name: 'vs-stable', errorRate: { maxIncreaseOver: 'stable', by: 0.005 } },
    { name: 'latency', latency: { percentile: 99, max: '800ms' } },
    {
      name: 'prom',
      prometheus: { address: 'http://127.0.0.1:9090', query: 'up{revision="{{revision}}"}', max: 1 },
    },
    { name: 'web', web: { url: 'http://127.0.0.1:1/check?v={{version}}', jsonPath: '$.ok', equals: true } },
  ],
};

const HOOKS = {
  preRollout: { command: './migrate.sh', timeout: '2m' },
  prePromotion: { http: { url: '${TARGET_URL}/smoke', method: 'GET', expectStatus: 200 }, timeout: '10s' },
  postPromotion: { command: 'curl -s ${TARGET_URL}/', timeout: '30s' },
};

const VALID = {
  notifications: [
    {
      url: 'http://127.0.0.1:9000/hook',
      format: 'json',
      events: [...NOTIFICATION_EVENTS],
      timeout: '5s',
      retries: 3,
    },
    { url: 'https://hooks.example/slack', format: 'slack' },
  ],
  gateway: { listen: '127.0.0.1:0', workers: 2, connectTimeout: '2s', maxBodySize: '10MB', retries: 2 },
  control: { listen: 0, dataDir: './.cutover' },
  services: {
    web: {
      route: { host: '*', pathPrefix: '/' },
      version: 'v1',
      replicas: 4,
      loadBalancer: 'roundRobin',
      run: {
        command: './releases/${VERSION}/server --port ${PORT}',
        cwd: '.',
        env: { APP_VERSION: '${VERSION}' },
      },
      readiness: { path: '/ready', interval: '1s', timeout: '1s', successThreshold: 1, failureThreshold: 3 },
      liveness: { path: '/health', interval: '5s', timeout: '2s' },
      drainTimeout: '30s',
      strategy: {
        type: 'rolling',
        maxSurge: '25%',
        maxUnavailable: 1,
        minReadySeconds: 0,
        progressDeadline: '60s',
      },
      revisionHistoryLimit: 10,
    },
    api: { route: { pathPrefix: '/api' }, version: 'v2', run: { command: 'node api.js' } },
    shop: {
      route: { pathPrefix: '/shop' },
      version: 'v3',
      replicas: 3,
      run: { command: 'node shop.js' },
      strategy: {
        type: 'canary',
        canaryReplicas: '50%',
        progressDeadline: '60s',
        mirrorMaxBodySize: '64KB',
        steps: [
          { mirror: { percent: 20, methods: ['GET', 'HEAD'], pathPrefix: '/api' } },
          { setWeight: 10 },
          { pause: {} },
          { pause: { duration: '2m' } },
          { analysis: { duration: '30s' } },
          { setWeight: 100 },
        ],
      },
      traffic: TRAFFIC,
      analysis: ANALYSIS,
      hooks: HOOKS,
    },
    admin: {
      route: { pathPrefix: '/admin' },
      version: 'v4',
      run: { command: 'node admin.js' },
      strategy: {
        type: 'blueGreen',
        previewReplicas: 2,
        autoPromote: false,
        autoPromoteAfter: '0s',
        scaleDownDelay: '30s',
        preview: { header: 'X-Cutover-Preview: true' },
        progressDeadline: '60s',
      },
    },
  },
};

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function randomScalar(rand: () => number): Json {
  const pick = Math.floor(rand() * 16);
  const strings = [
    '',
    '0',
    '-1',
    '25%',
    '101%',
    '1m30s',
    '10',
    'v1',
    '/x',
    '*',
    'yes',
    '${PORT}',
    'a:b',
    '[::1]:1',
    'rolling',
    'blueGreen',
    'canary',
    'stable',
    'header:x',
    'cookie:',
    '(a+)+',
    '(?i)x',
    '(',
    'X-A: b',
    'GET',
    'slack',
    'promoted',
    'http://x/',
    '${TARGET_URL}/x',
    '${NOPE}',
    '{{revision}}',
    '$.a[0]',
  ];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return Math.floor(rand() * 200) - 100;
    case 3:
      return rand() * 1e6;
    case 4:
      return [Number.NaN, Number.POSITIVE_INFINITY, -0, 2 ** 60, 65536][Math.floor(rand() * 5)];
    case 5:
      return [];
    case 6:
      return {};
    case 7:
      return Array.from({ length: Math.floor(rand() * 12) }, () =>
        String.fromCharCode(Math.floor(rand() * 0x3000)),
      ).join('');
    default:
      return strings[Math.floor(rand() * strings.length)];
  }
}

function mutate(value: Json, rand: () => number, depth = 0): Json {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const out: { [k: string]: Json } = {};
    for (const [k, v] of Object.entries(value)) {
      const r = rand();
      if (r < 0.05) continue; // delete key
      const key = r < 0.08 ? `${k}${rand() < 0.5 ? 'x' : ''}`.replace(/^./, (c) => c.toUpperCase()) : k;
      out[key] = rand() < 0.1 ? randomScalar(rand) : mutate(v, rand, depth + 1);
    }
    if (rand() < 0.05) out[String(randomScalar(rand))] = randomScalar(rand);
    return out;
  }
  if (rand() < 0.3) return randomScalar(rand);
  return value;
}

function assertWellFormed(result: { ok: true } | { ok: false; issues: ConfigIssue[] }, input: string): void {
  if (result.ok) return;
  assert.ok(result.issues.length > 0, `failure without issues for:\n${input}`);
  for (const issue of result.issues) {
    assert.equal(typeof issue.path, 'string');
    assert.equal(typeof issue.message, 'string');
    assert.ok(issue.message.length > 0);
    if (issue.line !== undefined) assert.ok(Number.isInteger(issue.line) && issue.line >= 1, input);
  }
}

/** What consumers rely on in an accepted config (for issue 4's keys). */
function assertInvariants(config: CutoverConfig, input: string): void {
  for (const n of config.notifications ?? []) {
    assert.ok(/^https?:\/\//.test(n.url), input);
    assert.ok(n.format === 'json' || n.format === 'slack', input);
    assert.ok(n.timeoutMs > 0 && Number.isSafeInteger(n.retries) && n.retries >= 0, input);
    if (n.events) assert.ok(n.events.length > 0, input);
  }
  for (const svc of Object.values(config.services)) {
    for (const hook of Object.values(svc.hooks ?? {})) {
      assert.ok((hook.command === undefined) !== (hook.http === undefined), input);
      assert.ok(hook.timeoutMs > 0, input);
      if (hook.http) assert.equal(hook.http.method, hook.http.method.toUpperCase(), input);
    }
    if (svc.strategy.type === 'canary') {
      for (const step of svc.strategy.steps) {
        if ('analysis' in step) {
          assert.ok(svc.analysis, input);
          assert.ok(step.analysis.durationMs > 0, input);
        }
      }
    }
    if (svc.analysis) assert.ok(svc.analysis.metrics.length > 0, input);
  }
}

/** The property itself: whatever the text, parseConfig answers instead of throwing. */
function parseNeverThrows(text: string, run: number): ReturnType<typeof parseConfig> {
  try {
    return parseConfig(text, { baseDir: '/srv' });
  } catch (e) {
    assert.fail(`parseConfig threw on run ${run}: ${String(e)}\n${text}`);
  }
}

describe('fuzz', () => {
  test('the unmutated document is valid', () => {
    const r = parseConfig(stringify(VALID), { baseDir: '/srv' });
    assert.ok(r.ok, r.ok ? '' : JSON.stringify(r.issues));
  });

  test('thousands of structural mutations never throw', () => {
    const rand = prng(0xc0ffee);
    // A fixed number of runs, not a time budget: the seeded sequence is then the same on every machine and
    // a busy CI runner cannot fail the test by being slow.
    const RUNS = 2000;
    let runs = 0;
    let okCount = 0;
    for (; runs < RUNS; runs++) {
      const doc = mutate(VALID as unknown as Json, rand);
      const text = stringify(doc);
      const result = parseNeverThrows(text, runs);
      assertWellFormed(result, text);
      if (result.ok) {
        okCount++;
        assertInvariants(result.config, text);
      }
      const service = (doc as { services?: Json } | null)?.services;
      const web = service && typeof service === 'object' && !Array.isArray(service) ? service.web : doc;
      assertWellFormed(validateService('web', web, '/srv'), JSON.stringify(web));
    }
    assert.equal(runs, RUNS);
    assert.ok(okCount > 0, 'some mutations should stay valid');
  });

  test('mutated traffic bodies and weights never make the runtime validators throw', () => {
    const rand = prng(7);
    let okCount = 0;
    for (let runs = 0; runs < 2000; runs++) {
      const body = mutate(TRAFFIC as unknown as Json, rand);
      let r: ReturnType<typeof validateTraffic>;
      try {
        r = validateTraffic(body);
      } catch (e) {
        assert.fail(`validateTraffic threw: ${String(e)}\n${JSON.stringify(body)}`);
      }
      assertWellFormed(r, JSON.stringify(body));
      if (r.ok) okCount++;
      const w = randomScalar(rand);
      const wr = validateWeight(w);
      assertWellFormed(wr, JSON.stringify(w));
      if (wr.ok) assert.ok(wr.weight >= 0 && wr.weight <= 100);
    }
    assert.ok(okCount > 0, 'some mutations should stay valid');
  });

  test('random patterns: compilePattern never throws, accepted ones never blow up', () => {
    const rand = prng(99);
    const alphabet = [
      'a',
      'b',
      '.',
      '*',
      '+',
      '?',
      '|',
      '(',
      ')',
      '(?:',
      '[ab]',
      '\\w',
      '\\s',
      '\\d',
      '{2,}',
      '^',
      '$',
    ];
    const inputs = [
      'a'.repeat(28) + '!',
      'ab'.repeat(14) + '!',
      ' a'.repeat(14) + '!',
      '1a'.repeat(14) + '!',
    ];
    let accepted = 0;
    for (let runs = 0; runs < 3000; runs++) {
      const len = 1 + Math.floor(rand() * 10);
      const src = Array.from({ length: len }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
      let r: ReturnType<typeof compilePattern>;
      try {
        r = compilePattern(src);
      } catch (e) {
        assert.fail(`compilePattern threw on ${src}: ${String(e)}`);
      }
      if (!r.ok) continue;
      accepted++;
      for (const input of inputs) {
        // A blow-up on these inputs costs seconds on every run; a busy machine's pause costs one run. So only
        // the fastest of three runs counts.
        let ms = Number.POSITIVE_INFINITY;
        for (let i = 0; i < 3 && ms >= 50; i++) {
          const t0 = performance.now();
          r.re.test(input);
          ms = Math.min(ms, performance.now() - t0);
        }
        assert.ok(ms < 50, `${src} took ${ms.toFixed(1)}ms on ${JSON.stringify(input)}`);
      }
    }
    assert.ok(accepted > 100);
  });

  test('random text edits of the YAML never throw', () => {
    const rand = prng(42);
    const source = stringify(VALID);
    const alphabet = ':-{}[]#&*!|>\'"%@` \n\t,?0123456789abcXYZ${}\\\u00e9\ufeff';
    const RUNS = 1500;
    let runs = 0;
    for (; runs < RUNS; runs++) {
      const chars = [...source];
      const edits = 1 + Math.floor(rand() * 5);
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * chars.length);
        const r = rand();
        const c = alphabet[Math.floor(rand() * alphabet.length)];
        if (r < 0.33) chars.splice(at, 1);
        else if (r < 0.66) chars.splice(at, 0, c);
        else chars[at] = c;
      }
      const text = chars.join('');
      const result = parseNeverThrows(text, runs);
      assertWellFormed(result, text);
    }
    assert.equal(runs, RUNS);
  });
});
