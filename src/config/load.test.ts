// biome-ignore-all lint/suspicious/noTemplateCurlyInString: tests use literal ${NAME} placeholders
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_GATEWAY_WORKERS } from './defaults.ts';
import { formatIssues, loadConfigFile, parseConfig, validateService } from './load.ts';
import type { ConfigIssue, CutoverConfig, ServiceConfig } from './types.ts';

const BASE = '/srv/app';

function parseOk(text: string, baseDir = BASE): CutoverConfig {
  const r = parseConfig(text, { baseDir });
  if (!r.ok) assert.fail(`expected ok, got:\n${formatIssues(r.issues)}`);
  return r.config;
}

function parseIssues(text: string, baseDir = BASE): ConfigIssue[] {
  const r = parseConfig(text, { baseDir });
  assert.equal(r.ok, false, 'expected issues');
  return r.ok ? [] : r.issues;
}

/** `line: path` pairs, the shape most assertions care about. */
const where = (issues: ConfigIssue[]) => issues.map((i) => `${i.line}: ${i.path}`);

const FULL = `# every key, with non-default values
gateway:
  listen: 0.0.0.0:9000
  workers: 3
  connectTimeout: 1500ms
  upstreamTimeout: 2m
  upstreamIdleTimeout: 3s
  clientIdleTimeout: 6s
  requestHeadTimeout: 1m30s
  maxBodySize: 64KB
  retries: 1
  ejectAfterFailures: 5
  ejectFor: 10s
  startupTimeout: 45s
  health: { path: /lb/ping }
control:
  listen: 9001
  dataDir: state
services:
  web:
    route: { host: Example.COM, pathPrefix: /app }
    version: 1.10
    replicas: 4
    loadBalancer: leastInFlight
    run:
      command: ./releases/\${VERSION}/server --port \${PORT}
      cwd: ./web
      env: { APP_VERSION: "\${VERSION}", WORKERS: 4, DEBUG: true, RATIO: 1.50 }
    readiness: { path: /ready?full=1, interval: 2s, timeout: 500ms, successThreshold: 2, failureThreshold: 4, initialDelay: 1s }
    liveness: { path: /health, interval: 5s, timeout: 2s, failureThreshold: 3 }
    drainTimeout: 45s
    stopTimeout: 15s
    logMaxSize: 1MB
    restartBackoff: 250ms
    restartBackoffMax: 1m
    strategy:
      type: rolling
      maxSurge: 150%
      maxUnavailable: 0
      minReadySeconds: 2.5
      progressDeadline: 5m
    revisionHistoryLimit: 3
  api:
    route: { pathPrefix: /api }
    version: v2
    run: { command: node server.js, cwd: /opt/api }
`;

const DEFAULT_READINESS = {
  path: '/ready',
  intervalMs: 1000,
  timeoutMs: 1000,
  successThreshold: 1,
  failureThreshold: 3,
  initialDelayMs: 0,
};

describe('parseConfig: valid files', () => {
  test('a file using every key parses into exactly the expected config', () => {
    const expected: CutoverConfig = {
      gateway: {
        listen: { host: '0.0.0.0', port: 9000 },
        workers: 3,
        connectTimeoutMs: 1500,
        upstreamTimeoutMs: 120_000,
        upstreamIdleTimeoutMs: 3000,
        clientIdleTimeoutMs: 6000,
        requestHeadTimeoutMs: 90_000,
        maxBodyBytes: 65536,
        maxHeaderBytes: 16 * 1024,
        maxHeaders: 100,
        trustedProxies: [],
        retries: 1,
        ejectAfterFailures: 5,
        ejectForMs: 10_000,
        startupTimeoutMs: 45_000,
        http2: { maxConcurrentStreams: 128, cleartext: false },
        health: { path: '/lb/ping' },
      },
      control: { listen: { host: '127.0.0.1', port: 9001 }, dataDir: '/srv/app/state', dashboard: true },
      services: {
        web: {
          name: 'web',
          route: { host: 'example.com', pathPrefix: '/app' },
          version: '1.10',
          replicas: 4,
          run: {
            command: './releases/${VERSION}/server --port ${PORT}',
            cwd: '/srv/app/web',
            env: { APP_VERSION: '${VERSION}', WORKERS: '4', DEBUG: 'true', RATIO: '1.50' },
          },
          readiness: {
            path: '/ready?full=1',
            intervalMs: 2000,
            timeoutMs: 500,
            successThreshold: 2,
            failureThreshold: 4,
            initialDelayMs: 1000,
          },
          liveness: {
            path: '/health',
            intervalMs: 5000,
            timeoutMs: 2000,
            successThreshold: 1,
            failureThreshold: 3,
            initialDelayMs: 0,
          },
          drainTimeoutMs: 45_000,
          stopTimeoutMs: 15_000,
          strategy: {
            type: 'rolling',
            maxSurge: '150%',
            maxUnavailable: 0,
            minReadySeconds: 2.5,
            progressDeadlineMs: 300_000,
            hostsAtOnce: 1,
          },
          traffic: { rules: [] },
          revisionHistoryLimit: 3,
          loadBalancer: 'leastInFlight',
          logMaxBytes: 1024 * 1024,
          restartBackoffMs: 250,
          restartBackoffMaxMs: 60_000,
          protocol: 'http',
          hosts: 'all',
        },
        api: {
          name: 'api',
          route: { host: '*', pathPrefix: '/api' },
          version: 'v2',
          replicas: 1,
          run: { command: 'node server.js', cwd: '/opt/api', env: {} },
          readiness: DEFAULT_READINESS,
          drainTimeoutMs: 30_000,
          stopTimeoutMs: 10_000,
          strategy: {
            type: 'rolling',
            maxSurge: '25%',
            maxUnavailable: '25%',
            minReadySeconds: 0,
            progressDeadlineMs: 60_000,
            hostsAtOnce: 1,
          },
          traffic: { rules: [] },
          revisionHistoryLimit: 10,
          loadBalancer: 'roundRobin',
          logMaxBytes: 10 * 1024 * 1024,
          restartBackoffMs: 500,
          restartBackoffMaxMs: 30_000,
          protocol: 'http',
          hosts: 'all',
        },
      },
    };
    assert.deepEqual(parseOk(FULL), expected);
  });

  test('services keep file order', () => {
    assert.deepEqual(Object.keys(parseOk(FULL).services), ['web', 'api']);
  });

  test('an empty file yields all defaults and no services', () => {
    for (const text of ['', '# nothing\n', '{}']) {
      const c = parseOk(text);
      assert.deepEqual(c.gateway, {
        listen: { host: '127.0.0.1', port: 8080 },
        workers: DEFAULT_GATEWAY_WORKERS,
        connectTimeoutMs: 2000,
        upstreamTimeoutMs: 60_000,
        upstreamIdleTimeoutMs: 4000,
        clientIdleTimeoutMs: 5000,
        requestHeadTimeoutMs: 10_000,
        maxBodyBytes: 10 * 1024 * 1024,
        maxHeaderBytes: 16 * 1024,
        maxHeaders: 100,
        trustedProxies: [],
        retries: 2,
        ejectAfterFailures: 3,
        ejectForMs: 5000,
        startupTimeoutMs: 30_000,
        http2: { maxConcurrentStreams: 128, cleartext: false },
        health: { path: '/_cutover/health' },
      });
      assert.deepEqual(c.control, {
        listen: { host: '127.0.0.1', port: 8081 },
        dataDir: '/srv/app/.cutover',
        dashboard: true,
      });
      assert.deepEqual(c.services, {});
      assert.equal('file' in c, false);
    }
  });

  test('a minimal service gets every default', () => {
    const c = parseOk('services:\n  web:\n    version: v1\n    run:\n      command: ./server\n');
    const web = c.services.web;
    assert.deepEqual(web.route, { host: '*', pathPrefix: '/' });
    assert.equal(web.replicas, 1);
    assert.equal(web.loadBalancer, 'roundRobin');
    assert.deepEqual(web.run, { command: './server', cwd: BASE, env: {} });
    assert.deepEqual(web.readiness, DEFAULT_READINESS);
    assert.equal('liveness' in web, false);
  });

  test('an empty liveness mapping enables liveness with its defaults', () => {
    const c = parseOk('services:\n  web:\n    version: v1\n    run: { command: x }\n    liveness: {}\n');
    assert.deepEqual(c.services.web.liveness, {
      path: '/health',
      intervalMs: 5000,
      timeoutMs: 2000,
      successThreshold: 1,
      failureThreshold: 3,
      initialDelayMs: 0,
    });
  });

  test('listen accepts host:port, [ipv6]:port, a bare port and port 0', () => {
    const cases: [string, { host: string; port: number }][] = [
      ['8080', { host: '127.0.0.1', port: 8080 }],
      ['"8080"', { host: '127.0.0.1', port: 8080 }],
      ['localhost:0', { host: 'localhost', port: 0 }],
      ['"[::1]:65535"', { host: '::1', port: 65535 }],
      ['0', { host: '127.0.0.1', port: 0 }],
    ];
    for (const [value, listen] of cases) {
      assert.deepEqual(
        parseOk(`gateway: { listen: ${value} }\ncontrol: { listen: 0 }`).gateway.listen,
        listen,
        value,
      );
    }
  });

  test('relative paths resolve against the base directory, absolute ones are kept', () => {
    const c = parseOk(
      'control: { dataDir: ../data }\nservices:\n  a: { version: v1, route: { pathPrefix: /a }, run: { command: x, cwd: sub/dir } }\n  b: { version: v1, run: { command: x, cwd: /abs } }\n',
      '/srv/app/conf',
    );
    assert.equal(c.control.dataDir, '/srv/app/data');
    assert.equal(c.services.a.run.cwd, '/srv/app/conf/sub/dir');
    assert.equal(c.services.b.run.cwd, '/abs');
  });

  test('YAML anchors and merge keys can share service settings', () => {
    const text = `services:
  a: &common
    version: v1
    route: { pathPrefix: /a }
    run: { command: ./server }
  b:
    <<: *common
    route: { pathPrefix: /b }
    replicas: 2
`;
    const merged = parseOk(text);
    assert.equal(merged.services.b.version, 'v1');
    assert.equal(merged.services.b.replicas, 2);
    assert.equal(merged.services.b.run.command, './server');
  });
});

describe('parseConfig: tricky keys', () => {
  test('top-level x- keys are ignored so they can hold YAML anchors', () => {
    const c = parseOk(`x-defaults: &defaults
  version: v1
  run: { command: ./server }
services:
  web: { <<: *defaults, replicas: 3 }
`);
    assert.equal(c.services.web.replicas, 3);
    assert.equal(c.services.web.run.command, './server');
    assert.deepEqual(where(parseIssues('x-ok: 1\nservices:\n  x-no: 1\n')), ['3: services.x-no']);
  });

  test('__proto__ keys are kept as data, never as prototypes', () => {
    const c = parseOk(
      'services:\n  web:\n    version: v1\n    run: { command: x, env: { __proto__: evil } }\n',
    );
    assert.equal(Object.getPrototypeOf(c.services.web.run.env), Object.prototype);
    assert.deepEqual(Object.entries(c.services.web.run.env), [['__proto__', 'evil']]);
    assert.deepEqual(where(parseIssues('services:\n  __proto__: { version: v1, run: { command: x } }\n')), [
      '2: services.__proto__',
    ]);
  });
});

describe('parseConfig: problems', () => {
  test('a file with many mistakes reports every one with its path and line', () => {
    const text = [
      /* 1 */ 'gateway:',
      /* 2 */ '  listen: 127.0.0.1:99999',
      /* 3 */ '  workers: 0',
      /* 4 */ '  connectTimeout: 2',
      /* 5 */ '  maxBodySize: lots',
      /* 6 */ '  retries: -1',
      /* 7 */ 'control:',
      /* 8 */ '  dataDir: ""',
      /* 9 */ 'services:',
      /* 10 */ '  web:',
      /* 11 */ '    version: "v 1"',
      /* 12 */ '    replicas: 2.5',
      /* 13 */ '    loadBalancer: fastest',
      /* 14 */ '    route:',
      /* 15 */ '      pathPrefix: api',
      /* 16 */ '    run:',
      /* 17 */ '      command: ""',
      /* 18 */ '      env:',
      /* 19 */ '        1BAD: x',
      /* 20 */ '        NESTED: { a: 1 }',
      /* 21 */ '    readiness:',
      /* 22 */ '      interval: 1s',
      /* 23 */ '      timeout: 5s',
      /* 24 */ '    liveness: { successThreshold: 2 }',
      /* 25 */ '    strategy:',
      /* 26 */ '      maxSurge: lots',
      /* 27 */ '      maxUnavailable: 101%',
      /* 28 */ '      minReadySeconds: -1',
      /* 29 */ '      progressDeadline: 0s',
      /* 30 */ '    revisionHistoryLimit: ten',
      /* 31 */ '    restartBackoff: 10s',
      /* 32 */ '    restartBackoffMax: 1s',
      /* 33 */ '  Web_2:',
      /* 34 */ '    run: { command: x }',
    ].join('\n');
    const issues = parseIssues(text);
    assert.deepEqual(where(issues), [
      '2: gateway.listen',
      '3: gateway.workers',
      '4: gateway.connectTimeout',
      '5: gateway.maxBodySize',
      '6: gateway.retries',
      '8: control.dataDir',
      '11: services.web.version',
      '12: services.web.replicas',
      '13: services.web.loadBalancer',
      '15: services.web.route.pathPrefix',
      '17: services.web.run.command',
      '19: services.web.run.env.1BAD',
      '20: services.web.run.env.NESTED',
      '23: services.web.readiness.timeout',
      '24: services.web.liveness.successThreshold',
      '26: services.web.strategy.maxSurge',
      '27: services.web.strategy.maxUnavailable',
      '28: services.web.strategy.minReadySeconds',
      '29: services.web.strategy.progressDeadline',
      '30: services.web.revisionHistoryLimit',
      '32: services.web.restartBackoffMax',
      '33: services.Web_2',
      '33: services.Web_2.version',
    ]);
    const byPath = new Map(issues.map((i) => [i.path, i.message]));
    assert.match(byPath.get('gateway.listen') ?? '', /port must be an integer between 0 and 65535/);
    assert.match(byPath.get('gateway.connectTimeout') ?? '', /not a bare number.*ms, s, m, h/);
    assert.match(
      byPath.get('services.web.strategy.maxSurge') ?? '',
      /^must be an integer >= 0 or a percentage like "25%"/,
    );
    assert.match(byPath.get('services.web.loadBalancer') ?? '', /must be one of roundRobin, leastInFlight/);
    assert.match(byPath.get('services.web.route.pathPrefix') ?? '', /must start with "\/"/);
  });

  test('formatIssues prints file:line: path: message, one per line', () => {
    const issues = parseIssues(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy: { maxSurge: x }\n',
    );
    assert.equal(
      formatIssues(issues, 'cutover.yaml'),
      'cutover.yaml:5: services.web.strategy.maxSurge: must be an integer >= 0 or a percentage like "25%", got "x"',
    );
    assert.equal(
      formatIssues(issues),
      'services.web.strategy.maxSurge: must be an integer >= 0 or a percentage like "25%", got "x" (line 5)',
    );
    assert.equal(
      formatIssues([{ path: '(file)', message: 'cannot read' }], 'c.yaml'),
      'c.yaml: (file): cannot read',
    );
  });

  const unknownKeys: [string, string, string, RegExp][] = [
    ['gateway:\n  listn: 1\n', 'gateway.listn', '2', /unknown key; did you mean "listen"\?/],
    ['gateway:\n  connectTimeoutMs: 1\n', 'gateway.connectTimeoutMs', '2', /did you mean "connectTimeout"\?/],
    ['gateway:\n  maxBodyBytes: 1\n', 'gateway.maxBodyBytes', '2', /did you mean "maxBodySize"\?/],
    ['service:\n  web: {}\n', 'service', '1', /did you mean "services"\?/],
    [
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy:\n      maxsurge: 1\n',
      'services.web.strategy.maxsurge',
      '6',
      /did you mean "maxSurge"\?/,
    ],
    ['control:\n  completelyDifferent: 1\n', 'control.completelyDifferent', '2', /^unknown key$/],
  ];
  for (const [text, path, line, message] of unknownKeys) {
    test(`unknown key ${path} is reported at line ${line} ${message.source.includes('did') ? 'with a suggestion' : 'without a far-fetched suggestion'}`, () => {
      const issues = parseIssues(text);
      assert.equal(issues.length, 1, formatIssues(issues));
      assert.equal(issues[0].path, path);
      assert.equal(String(issues[0].line), line);
      assert.match(issues[0].message, message);
    });
  }

  test('YAML syntax errors are reported with their line', () => {
    const issues = parseIssues('gateway:\n  listen: 1\n  workers: [1, 2\nservices: {}\n');
    assert.ok(issues.length >= 1);
    assert.equal(issues[0].path, '(yaml)');
    assert.ok(
      issues[0].line !== undefined && issues[0].line >= 3 && issues[0].line <= 4,
      `line ${issues[0].line}`,
    );
    const tabs = parseIssues('gateway:\n\tlisten: 1\n');
    assert.equal(tabs[0].line, 2);
  });

  test('duplicate keys are a syntax error at the duplicate', () => {
    const issues = parseIssues('gateway:\n  retries: 1\n  retries: 2\n');
    assert.deepEqual(where(issues), ['3: (yaml)']);
  });

  test('unknown strategy types are invalid, with a suggestion', () => {
    const issues = parseIssues(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy: { type: Rolling }\n',
    );
    assert.deepEqual(where(issues), ['5: services.web.strategy.type']);
    assert.match(issues[0].message, /must be "rolling", "blueGreen" or "canary".*did you mean "rolling"/);
    const bg = parseIssues(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy: { type: bluegreen }\n',
    );
    assert.match(bg[0].message, /did you mean "blueGreen"/);
  });

  test('maxSurge and maxUnavailable cannot both be zero', () => {
    for (const [s, u] of [
      ['0', '0'],
      ['"0%"', '0'],
      ['0', '0%'],
    ]) {
      const issues = parseIssues(
        `services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy:\n      maxSurge: ${s}\n      maxUnavailable: ${u}\n`,
      );
      assert.deepEqual(where(issues), ['7: services.web.strategy.maxUnavailable']);
      assert.match(issues[0].message, /both be 0/);
    }
    parseOk(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    strategy: { maxSurge: 0, maxUnavailable: 1 }\n',
    );
  });

  test('two services with the same host and pathPrefix conflict', () => {
    const issues = parseIssues(`services:
  a: { version: v1, run: { command: x } }
  b:
    version: v1
    route: { host: "*", pathPrefix: / }
    run: { command: x }
  c: { version: v1, route: { host: api.example.com, pathPrefix: /v1/ }, run: { command: x } }
  d: { version: v1, route: { host: API.example.com, pathPrefix: /v1 }, run: { command: x } }
`);
    assert.deepEqual(where(issues), ['5: services.b.route', '8: services.d.route']);
    assert.match(issues[0].message, /same route as service "a"/);
    assert.match(issues[1].message, /same route as service "c"/);
  });

  test('gateway.listen and control.listen must differ', () => {
    assert.deepEqual(where(parseIssues('control: { listen: 127.0.0.1:8080 }')), ['1: control.listen']);
    assert.deepEqual(where(parseIssues('gateway: { listen: "0.0.0.0:7000" }\ncontrol:\n  listen: 7000\n')), [
      '3: control.listen',
    ]);
    parseOk('gateway: { listen: 0 }\ncontrol: { listen: 0 }');
    parseOk('gateway: { listen: "127.0.0.1:7000" }\ncontrol: { listen: "127.0.0.2:7000" }');
  });

  test('control.dashboard: on by default, false turns it off, anything else is refused by key path', () => {
    assert.equal(parseOk('gateway: { listen: 0 }\ncontrol: { listen: 0 }').control.dashboard, true);
    assert.equal(
      parseOk('gateway: { listen: 0 }\ncontrol: { listen: 0, dashboard: false }').control.dashboard,
      false,
    );
    const issues = parseIssues('gateway: { listen: 0 }\ncontrol:\n  listen: 0\n  dashboard: "off"\n');
    assert.deepEqual(where(issues), ['4: control.dashboard']);
    assert.match(issues[0].message, /must be true or false/);
  });

  test('probe timeout longer than interval is rejected', () => {
    const issues = parseIssues(
      'services:\n  web:\n    version: v1\n    run: { command: x }\n    liveness:\n      timeout: 10s\n',
    );
    assert.deepEqual(where(issues), ['6: services.web.liveness.timeout']);
  });

  test('missing required keys are reported at the enclosing key', () => {
    const issues = parseIssues(
      'services:\n  web:\n    replicas: 2\n  api:\n    version: v1\n    route: { pathPrefix: /api }\n    run:\n      cwd: .\n',
    );
    assert.deepEqual(where(issues), [
      '2: services.web.version',
      '2: services.web.run',
      '7: services.api.run.command',
    ]);
  });

  test('wrong shapes are reported, not thrown', () => {
    const cases: [string, string[]][] = [
      ['- a\n- b\n', ['1: ']],
      ['# comment\njust a string', ['2: ']],
      ['gateway: 5\n', ['1: gateway']],
      ['services: [web]\n', ['1: services']],
      ['services:\n  web: v1\n', ['2: services.web']],
      ['services:\n  web:\n', ['2: services.web']],
      ['services:\n  web:\n    version: v1\n    run: ./server\n', ['4: services.web.run']],
      ['services:\n  web:\n    version: [v1]\n    run: { command: x }\n', ['3: services.web.version']],
      ['services:\n  "123":\n    version: v1\n    run: { command: x }\n', ['2: services.123']],
    ];
    for (const [text, expected] of cases) {
      assert.deepEqual(where(parseIssues(text)), expected, text);
    }
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cutover-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('resolves relative paths against the file directory and records the file', () => {
    mkdirSync(join(dir, 'conf'));
    const file = join(dir, 'conf', 'cutover.yaml');
    writeFileSync(
      file,
      'control: { dataDir: data }\nservices:\n  web: { version: v1, run: { command: x } }\n',
    );
    const r = loadConfigFile(file);
    assert.ok(r.ok);
    assert.equal(r.config.file, file);
    assert.equal(r.config.control.dataDir, join(dir, 'conf', 'data'));
    assert.equal(r.config.services.web.run.cwd, join(dir, 'conf'));
  });

  test('a missing file is a single (file) issue', () => {
    const r = loadConfigFile(join(dir, 'nope.yaml'));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.issues.length, 1);
      assert.equal(r.issues[0].path, '(file)');
      assert.match(r.issues[0].message, /no such file/);
    }
  });

  test('a directory is a single (file) issue', () => {
    const r = loadConfigFile(dir);
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['(file)'],
      );
  });
});

describe('validateService', () => {
  const body = { version: 'v3', replicas: 2, run: { command: 'node s.js', cwd: 'app', env: { N: 1 } } };

  test('validates an API body against the same schema and defaults', () => {
    const r = validateService('web', body, '/base');
    assert.ok(r.ok);
    const s: ServiceConfig = r.service;
    assert.equal(s.name, 'web');
    assert.deepEqual(s.run, { command: 'node s.js', cwd: '/base/app', env: { N: '1' } });
    assert.equal(s.strategy.type === 'rolling' && s.strategy.maxSurge, '25%');
    assert.deepEqual(s.traffic, { rules: [] });
    assert.equal(s.readiness.path, '/ready');
  });

  test('reports every problem under the given path prefix, without lines', () => {
    const r = validateService(
      'Bad Name',
      { replicas: 'x', strategy: { maxSurge: -1 }, extra: 1 },
      '/base',
      'body',
    );
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['body', 'body.extra', 'body.version', 'body.replicas', 'body.run', 'body.strategy.maxSurge'],
      );
      assert.ok(r.issues.every((i) => i.line === undefined));
    }
  });

  test('the default path prefix is services.<name>', () => {
    const r = validateService('web', {}, '/base');
    assert.equal(r.ok, false);
    if (!r.ok)
      assert.deepEqual(
        r.issues.map((i) => i.path),
        ['services.web.version', 'services.web.run'],
      );
  });
});

describe('gateway.health', () => {
  test('is on at the default path unless turned off with false', () => {
    assert.deepEqual(parseOk('gateway:\n  health: false\n').gateway.health, false);
    assert.deepEqual(parseOk('gateway:\n  health: {}\n').gateway.health, { path: '/_cutover/health' });
  });
  const bad: [string, RegExp][] = [
    ['lb/health', /must be a path starting with "\/", got "lb\/health"/],
    ['/health?full=1', /must not contain "\?"/],
    ['"/a b"', /must not contain spaces/],
  ];
  for (const [value, message] of bad) {
    test(`rejects the path ${value} at gateway.health.path`, () => {
      const issues = parseIssues(`gateway:\n  health: { path: ${value} }\n`);
      assert.equal(issues.length, 1, formatIssues(issues));
      assert.equal(issues[0].path, 'gateway.health.path');
      assert.match(issues[0].message, message);
    });
  }
});
