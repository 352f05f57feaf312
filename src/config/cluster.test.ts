// biome-ignore-all lint/suspicious/noTemplateCurlyInString: a test writes a literal ${NAME} password
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { checkAdvertise, checkEndpoint, checkLeaseTtl, checkPrefix } from './cluster.ts';
import { diffConfig, REDACTED } from './diff.ts';
import { checkHostsAtOnce } from './fleet.ts';
import { formatIssues, loadConfigFile, type ParseOptions, parseConfig } from './load.ts';
import type { Checked } from './read.ts';
import { indent } from './test-helpers.ts';
import type { ClusterConfig, ConfigIssue, CutoverConfig } from './types.ts';

// Real files for the keys that must name readable ones.
const dir = mkdtempSync(join(tmpdir(), 'cutover-cluster-'));
after(() => rmSync(dir, { recursive: true, force: true }));
for (const f of ['ca.pem', 'client.pem', 'client-key.pem']) writeFileSync(join(dir, f), `${f}\n`);
writeFileSync(join(dir, 'etcd-password'), 's3cret\n');
writeFileSync(join(dir, 'empty-password'), '\n');
mkdirSync(join(dir, 'certs'));

/** The machine the tests pretend to load on: no environment, a fixed host name. */
const MACHINE: Pick<ParseOptions, 'env' | 'hostname'> = { env: {}, hostname: 'Test-Host' };

function parse(text: string, machine = MACHINE) {
  return parseConfig(text, { baseDir: dir, ...machine });
}

function ok(text: string, machine = MACHINE): CutoverConfig {
  const r = parse(text, machine);
  if (!r.ok) assert.fail(formatIssues(r.issues));
  return r.config;
}

function bad(text: string, machine = MACHINE): ConfigIssue[] {
  const r = parse(text, machine);
  assert.equal(r.ok, false, `expected issues:\n${text}`);
  return r.ok ? [] : r.issues;
}

const ETCD = 'etcd: { endpoints: [http://10.0.0.1:2379] }';
/** A file with `cluster` (indented under it) and one service `web` (its extra lines indented under it). */
const file = (cluster: string, web = '', control = '') =>
  `${control}cluster:\n${indent(cluster, '  ')}\nservices:\n  web:\n    version: v1\n    run: { command: x }\n${web === '' ? '' : `${indent(web, '    ')}\n`}`;

const FULL = `
etcd:
  endpoints: [https://10.0.0.1:2379, "HTTPS://Etcd-2.example.com:2379/"]
  username: cutover
  passwordFile: ./etcd-password
  tls: { ca: ./ca.pem, cert: ./client.pem, key: ${join(dir, 'client-key.pem')} }
  dialTimeout: 500ms
host: web-1
advertise: 10.0.0.1
prefix: /prod/cutover/
leaseTtl: 10s
onHostLost: continue
`;

describe('cluster: valid sections', () => {
  test('every key parses into exactly the expected cluster and fleet service keys', () => {
    const c = ok(file(FULL, 'hosts: [web-1, web-2]\nstrategy: { type: rolling, hostsAtOnce: 50% }'));
    const expected: ClusterConfig = {
      etcd: {
        endpoints: ['https://10.0.0.1:2379', 'https://etcd-2.example.com:2379'],
        username: 'cutover',
        password: 's3cret',
        tls: { ca: join(dir, 'ca.pem'), cert: join(dir, 'client.pem'), key: join(dir, 'client-key.pem') },
        dialTimeoutMs: 500,
      },
      host: 'web-1',
      advertise: '10.0.0.1',
      prefix: '/prod/cutover/',
      leaseTtlMs: 10_000,
      onHostLost: 'continue',
    };
    assert.deepEqual(c.cluster, expected);
    assert.deepEqual(c.services.web.hosts, ['web-1', 'web-2']);
    assert.equal(c.services.web.strategy.type === 'rolling' && c.services.web.strategy.hostsAtOnce, '50%');
  });

  test('defaults: host is the machine name in lower case, advertise is control.listen host', () => {
    const c = ok(file(ETCD));
    const expected: ClusterConfig = {
      etcd: { endpoints: ['http://10.0.0.1:2379'], dialTimeoutMs: 2000 },
      host: 'test-host',
      advertise: '127.0.0.1',
      prefix: '/cutover/',
      leaseTtlMs: 5000,
      onHostLost: 'pause',
    };
    assert.deepEqual(c.cluster, expected);
    assert.equal(c.services.web.hosts, 'all');
    assert.equal(c.services.web.strategy.type === 'rolling' && c.services.web.strategy.hostsAtOnce, 1);
  });

  test('without cluster: there is no cluster, every service is on all hosts, hostsAtOnce is 1', () => {
    const c = ok('services:\n  web:\n    version: v1\n    run: { command: x }\n');
    assert.equal(c.cluster, undefined);
    assert.equal(c.services.web.hosts, 'all');
    assert.equal(c.services.web.strategy.type === 'rolling' && c.services.web.strategy.hostsAtOnce, 1);
  });

  test('good values, one per row', () => {
    const rows: [string, string, (c: CutoverConfig) => unknown, unknown][] = [
      [
        'https without tls trusts the system CAs',
        'etcd: { endpoints: [https://e:2379] }',
        (c) => c.cluster?.etcd.tls,
        undefined,
      ],
      [
        'tls with a ca only',
        'etcd: { endpoints: [https://e:2379], tls: { ca: ca.pem } }',
        (c) => c.cluster?.etcd.tls,
        { ca: join(dir, 'ca.pem') },
      ],
      [
        'an IPv6 endpoint',
        'etcd: { endpoints: ["http://[fd00::1]:2379"] }',
        (c) => c.cluster?.etcd.endpoints,
        ['http://[fd00::1]:2379'],
      ],
      [
        'a default port written out is kept',
        'etcd: { endpoints: [http://e:80] }',
        (c) => c.cluster?.etcd.endpoints,
        ['http://e:80'],
      ],
      [
        'an inline password',
        `etcd: { endpoints: [http://e:2379], username: u, password: "p w" }`,
        (c) => c.cluster?.etcd.password,
        'p w',
      ],
      [
        'advertise as a DNS name',
        `${ETCD}\nadvertise: Web-1.Internal`,
        (c) => c.cluster?.advertise,
        'web-1.internal',
      ],
      ['advertise as IPv6', `${ETCD}\nadvertise: "fd00::1"`, (c) => c.cluster?.advertise, 'fd00::1'],
      ['the root prefix', `${ETCD}\nprefix: /`, (c) => c.cluster?.prefix, '/'],
      ['leaseTtl at the lower bound', `${ETCD}\nleaseTtl: 2s`, (c) => c.cluster?.leaseTtlMs, 2000],
      ['leaseTtl at the upper bound', `${ETCD}\nleaseTtl: 1m`, (c) => c.cluster?.leaseTtlMs, 60_000],
      ['cluster.host with dots', `${ETCD}\nhost: web-1.eu`, (c) => c.cluster?.host, 'web-1.eu'],
    ];
    assert.ok(rows.length > 0);
    for (const [name, cluster, pick, want] of rows) assert.deepEqual(pick(ok(file(cluster))), want, name);
    const web: [string, (c: CutoverConfig) => unknown, unknown][] = [
      ['hosts: all', (c) => c.services.web.hosts, 'all'],
      ['hosts: [a, b.c, "0"]', (c) => c.services.web.hosts, ['a', 'b.c', '0']],
      [
        'strategy: { hostsAtOnce: 3 }',
        (c) => c.services.web.strategy.type === 'rolling' && c.services.web.strategy.hostsAtOnce,
        3,
      ],
    ];
    for (const [extra, pick, want] of web) assert.deepEqual(pick(ok(file(ETCD, extra))), want, extra);
  });
});

describe('cluster: problems', () => {
  /** [cluster section, web service extra lines, expected "path: message start" for every issue] */
  const rows: [string, string, string[]][] = [
    ['{}', '', ['cluster.etcd.endpoints: is required']],
    [
      '[a]',
      '',
      [
        'cluster: must be a mapping of keys (etcd, host, advertise, prefix, leaseTtl, onHostLost), got a list',
      ],
    ],
    ['etcd: [a]', '', ['cluster.etcd: must be a mapping of keys']],
    ['etcd: { endpoints: [] }', '', ['cluster.etcd.endpoints: must be a non-empty list']],
    ['etcd: { endpoints: http://e:2379 }', '', ['cluster.etcd.endpoints: must be a non-empty list']],
    ['etcd: { endpoints: [e:2379] }', '', ['cluster.etcd.endpoints.0: must use http:// or https://']],
    ['etcd: { endpoints: ["not a url"] }', '', ['cluster.etcd.endpoints.0: must be an etcd URL']],
    ['etcd: { endpoints: [2379] }', '', ['cluster.etcd.endpoints.0: must be an etcd URL']],
    ['etcd: { endpoints: [grpc://e:2379] }', '', ['cluster.etcd.endpoints.0: must use http:// or https://']],
    ['etcd: { endpoints: [http://e] }', '', ['cluster.etcd.endpoints.0: needs host:port']],
    [
      'etcd: { endpoints: [http://e:2379/v3] }',
      '',
      ['cluster.etcd.endpoints.0: must be scheme://host:port, without a path'],
    ],
    [
      'etcd: { endpoints: ["http://u:p@e:2379"] }',
      '',
      ['cluster.etcd.endpoints.0: must not contain credentials'],
    ],
    [
      'etcd: { endpoints: [http://e:2379, http://E:2379/] }',
      '',
      ['cluster.etcd.endpoints.1: duplicate endpoint http://e:2379'],
    ],
    [
      'etcd: { endpoints: [https://a:2379, http://b:2379] }',
      '',
      ['cluster.etcd.endpoints.1: mixes http:// and https://'],
    ],
    [
      'etcd: { endpoints: [http://a:2379], tls: { ca: ca.pem } }',
      '',
      ['cluster.etcd.tls: only with https:// endpoints (cluster.etcd.endpoints.0 is http://a:2379)'],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { cert: client.pem } }',
      '',
      ['cluster.etcd.tls.key: is required with cert'],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { key: client-key.pem } }',
      '',
      ['cluster.etcd.tls.cert: is required with key'],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { ca: missing.pem } }',
      '',
      [`cluster.etcd.tls.ca: cannot read ${join(dir, 'missing.pem')}: no such file`],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { ca: certs } }',
      '',
      [`cluster.etcd.tls.ca: ${join(dir, 'certs')} is not a file`],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { ca: "" } }',
      '',
      ['cluster.etcd.tls.ca: must be the path of a file'],
    ],
    [
      'etcd: { endpoints: [https://a:2379], tls: { cacert: ca.pem } }',
      '',
      ['cluster.etcd.tls.cacert: unknown key'],
    ],
    [
      'etcd: { endpoints: [http://a:2379], username: u }',
      '',
      ['cluster.etcd.username: needs password or passwordFile'],
    ],
    ['etcd: { endpoints: [http://a:2379], password: p }', '', ['cluster.etcd.password: needs username']],
    [
      'etcd: { endpoints: [http://a:2379], passwordFile: etcd-password }',
      '',
      ['cluster.etcd.passwordFile: needs username'],
    ],
    [
      'etcd: { endpoints: [http://a:2379], username: u, password: p, passwordFile: etcd-password }',
      '',
      ['cluster.etcd.passwordFile: give password or passwordFile, not both'],
    ],
    [
      'etcd: { endpoints: [http://a:2379], username: u, password: "${ETCD_PASSWORD}" }',
      '',
      ['cluster.etcd.password: the config has no environment substitution'],
    ],
    [
      'etcd: { endpoints: [http://a:2379], username: u, passwordFile: empty-password }',
      '',
      [`cluster.etcd.passwordFile: ${join(dir, 'empty-password')} is empty`],
    ],
    [
      'etcd: { endpoints: [http://a:2379], username: "", password: p }',
      '',
      ['cluster.etcd.username: must not be empty'],
    ],
    ['etcd: { endpoints: [http://a:2379], dialTimeout: 2 }', '', ['cluster.etcd.dialTimeout: ']],
    [
      'etcd: { endpoints: [http://a:2379], endpoint: x }',
      '',
      ['cluster.etcd.endpoint: unknown key; did you mean "endpoints"?'],
    ],
    [`${ETCD}\nhost: Web_1`, '', ['cluster.host: must be 1-63 lowercase letters']],
    [`${ETCD}\nhost: -web`, '', ['cluster.host: must be 1-63 lowercase letters']],
    [`${ETCD}\nadvertise: 0.0.0.0`, '', ['cluster.advertise: must be an address other hosts can connect to']],
    [
      `${ETCD}\nadvertise: "10.0.0.1:8081"`,
      '',
      ['cluster.advertise: must be an IP address or DNS name, without a port'],
    ],
    [
      `${ETCD}\nadvertise: "[fd00::1]"`,
      '',
      ['cluster.advertise: must be an IP address or DNS name, write an IPv6'],
    ],
    [`${ETCD}\nprefix: cutover/`, '', ['cluster.prefix: must start and end with "/"']],
    [`${ETCD}\nprefix: /cutover`, '', ['cluster.prefix: must start and end with "/"']],
    [`${ETCD}\nprefix: /a b/`, '', ['cluster.prefix: must start and end with "/"']],
    [`${ETCD}\nleaseTtl: 1s`, '', ['cluster.leaseTtl: must be whole seconds from 2s to 60s, got 1s']],
    [`${ETCD}\nleaseTtl: 61s`, '', ['cluster.leaseTtl: must be whole seconds from 2s to 60s']],
    [
      `${ETCD}\nleaseTtl: 2500ms`,
      '',
      ['cluster.leaseTtl: must be whole seconds from 2s to 60s, got 2s500ms'],
    ],
    [`${ETCD}\nleaseTtl: 5`, '', ['cluster.leaseTtl: ']],
    [
      `${ETCD}\nonHostLost: paus`,
      '',
      ['cluster.onHostLost: must be "pause" or "continue", got "paus"; did you mean "pause"?'],
    ],
    [`${ETCD}\nleaseTTL: 5s`, '', ['cluster.leaseTTL: unknown key; did you mean "leaseTtl"?']],
    [`${ETCD}\nhosts: [a]`, '', ['cluster.hosts: unknown key; did you mean "host"?']],
    [ETCD, 'hosts: []', ['services.web.hosts: must be "all" or a non-empty list']],
    [ETCD, 'hosts: every', ['services.web.hosts: must be "all" or a non-empty list']],
    [
      ETCD,
      'hosts: [a, A_b, a]',
      ['services.web.hosts.1: must be 1-63 lowercase letters', 'services.web.hosts.2: duplicate host "a"'],
    ],
    [
      ETCD,
      'strategy: { hostsAtOnce: 0 }',
      ['services.web.strategy.hostsAtOnce: must be an integer >= 1 or a percentage'],
    ],
    [
      ETCD,
      'strategy: { hostsAtOnce: 0% }',
      ['services.web.strategy.hostsAtOnce: must be an integer >= 1 or a percentage'],
    ],
    [
      ETCD,
      'strategy: { hostsAtOnce: 101% }',
      ['services.web.strategy.hostsAtOnce: must be an integer >= 1 or a percentage'],
    ],
    [
      ETCD,
      'strategy: { hostsAtOnce: 1.5 }',
      ['services.web.strategy.hostsAtOnce: must be an integer >= 1 or a percentage'],
    ],
    [
      ETCD,
      'strategy: { type: blueGreen, hostsAtOnce: 1 }',
      [
        'services.web.strategy.hostsAtOnce: only valid with type: rolling (blueGreen and canary switch all hosts together)',
      ],
    ],
    [
      ETCD,
      'strategy: { type: canary, steps: [{ setWeight: 10 }], hostsAtOnce: 1 }',
      [
        'services.web.strategy.hostsAtOnce: only valid with type: rolling (blueGreen and canary switch all hosts together)',
      ],
    ],
  ];

  test('bad values, one per row, each at its key path', () => {
    assert.ok(rows.length > 0);
    for (const [cluster, web, want] of rows) {
      const got = bad(file(cluster, web));
      assert.equal(got.length, want.length, `${cluster} | ${web}:\n${formatIssues(got)}`);
      got.forEach((issue, i) => {
        const text = `${issue.path}: ${issue.message}`;
        assert.ok(text.startsWith(want[i]), `${cluster} | ${web}:\n got  ${text}\n want ${want[i]}...`);
        assert.ok(issue.line !== undefined && issue.line > 0, `no line for ${text}`);
      });
    }
  });

  test('fleet keys without cluster: are errors at their keys; hostsAtOnce on blueGreen gets one error', () => {
    const svc = (extra: string) => `services:\n  web:\n    version: v1\n    run: { command: x }\n${extra}`;
    const got = bad(svc('    hosts: all\n    strategy: { hostsAtOnce: 2 }\n'));
    assert.deepEqual(
      got.map((i) => `${i.line}: ${i.path}: ${i.message}`),
      [
        '5: services.web.hosts: only with cluster: — single-host mode runs every service on this host',
        '6: services.web.strategy.hostsAtOnce: only with cluster: — single-host mode runs every service on this host',
      ],
    );
    const blueGreen = bad(svc('    strategy: { type: blueGreen, hostsAtOnce: 2 }\n'));
    assert.deepEqual(
      blueGreen.map((i) => i.path),
      ['services.web.strategy.hostsAtOnce'],
    );
  });

  test('advertise is required when control.listen is every interface', () => {
    for (const listen of ['0.0.0.0:8081', '"[::]:8081"']) {
      const got = bad(file(ETCD, '', `control: { listen: ${listen} }\n`));
      assert.deepEqual(
        got.map((i) => i.path),
        ['cluster.advertise'],
      );
      assert.match(
        got[0].message,
        /^is required when control\.listen is (0\.0\.0\.0|::) \(every interface\)/,
      );
      assert.match(got[0].message, /CUTOVER_ADVERTISE/);
    }
    const c = ok(file(`${ETCD}\nadvertise: 10.0.0.7`, '', 'control: { listen: 0.0.0.0:8081 }\n'));
    assert.equal(c.cluster?.advertise, '10.0.0.7');
  });

  test('a machine host name that is no valid cluster.host asks for cluster.host or CUTOVER_HOST', () => {
    const got = bad(file(ETCD), { env: {}, hostname: 'my_laptop' });
    assert.deepEqual(
      got.map((i) => i.path),
      ['cluster.host'],
    );
    assert.match(got[0].message, /"my_laptop" cannot be used.*set cluster\.host or CUTOVER_HOST$/);
  });
});

describe('cluster: CUTOVER_HOST and CUTOVER_ADVERTISE', () => {
  const section = `${ETCD}\nhost: web-1\nadvertise: 10.0.0.1`;

  test('override cluster.host and cluster.advertise, so every host can load the same file', () => {
    const c = ok(file(section), {
      env: { CUTOVER_HOST: 'web-2', CUTOVER_ADVERTISE: '10.0.0.2' },
      hostname: 'x',
    });
    assert.equal(c.cluster?.host, 'web-2');
    assert.equal(c.cluster?.advertise, '10.0.0.2');
  });

  test('replace the defaults too: the machine name and control.listen as advertise', () => {
    const env = { CUTOVER_HOST: 'web-3', CUTOVER_ADVERTISE: 'web-3.internal' };
    const c = ok(file(ETCD, '', 'control: { listen: 0.0.0.0:8081 }\n'), { env, hostname: 'x' });
    assert.equal(c.cluster?.host, 'web-3');
    assert.equal(c.cluster?.advertise, 'web-3.internal');
  });

  test('an empty variable counts as unset', () => {
    const c = ok(file(section), { env: { CUTOVER_HOST: '', CUTOVER_ADVERTISE: '' }, hostname: 'x' });
    assert.equal(c.cluster?.host, 'web-1');
    assert.equal(c.cluster?.advertise, '10.0.0.1');
  });

  test('a bad value is an error at the key it overrides, naming the variable', () => {
    const got = bad(file(section), {
      env: { CUTOVER_HOST: 'Web 2', CUTOVER_ADVERTISE: '0.0.0.0' },
      hostname: 'x',
    });
    assert.deepEqual(
      got.map((i) => `${i.path}: ${i.message.split(':')[0]}`),
      ['cluster.host: from CUTOVER_HOST', 'cluster.advertise: from CUTOVER_ADVERTISE'],
    );
  });

  test('are ignored without cluster:', () => {
    const c = ok('services: {}\n', { env: { CUTOVER_HOST: 'Not Valid' }, hostname: 'x' });
    assert.equal(c.cluster, undefined);
  });

  test('loadConfigFile takes them and resolves cluster paths against the file directory', () => {
    const sub = join(dir, 'conf');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'ca.pem'), 'x\n');
    const path = join(sub, 'cutover.yaml');
    writeFileSync(
      path,
      'cluster:\n  etcd: { endpoints: [https://e:2379], tls: { ca: ./ca.pem } }\n  host: web-1\n',
    );
    const r = loadConfigFile(path, { env: { CUTOVER_HOST: 'web-9' } });
    if (!r.ok) assert.fail(formatIssues(r.issues));
    assert.equal(r.config.cluster?.host, 'web-9');
    assert.equal(r.config.cluster?.etcd.tls?.ca, join(sub, 'ca.pem'));
  });
});

describe('cluster: pure checks', () => {
  test('checkEndpoint, checkAdvertise, checkPrefix, checkLeaseTtl, checkHostsAtOnce (table)', () => {
    const rows: [string, Checked<unknown>, { ok: boolean; value?: unknown }][] = [
      [
        "checkEndpoint('http://10.0.0.1:2379')",
        checkEndpoint('http://10.0.0.1:2379'),
        { ok: true, value: 'http://10.0.0.1:2379' },
      ],
      [
        "checkEndpoint(' https://E:02379 ')",
        checkEndpoint(' https://E:02379 '),
        { ok: true, value: 'https://e:2379' },
      ],
      ["checkEndpoint('http://e:99999')", checkEndpoint('http://e:99999'), { ok: false }],
      ["checkEndpoint('http://e:2379?x=1')", checkEndpoint('http://e:2379?x=1'), { ok: false }],
      ["checkAdvertise('10.0.0.1')", checkAdvertise('10.0.0.1'), { ok: true, value: '10.0.0.1' }],
      ["checkAdvertise('::')", checkAdvertise('::'), { ok: false }],
      ["checkAdvertise('0:0::0')", checkAdvertise('0:0::0'), { ok: false }],
      ['checkAdvertise(7)', checkAdvertise(7), { ok: false }],
      ["checkPrefix('/a/b/')", checkPrefix('/a/b/'), { ok: true, value: '/a/b/' }],
      ["checkPrefix('/a\n/')", checkPrefix('/a\n/'), { ok: false }],
      ['checkLeaseTtl(30_000)', checkLeaseTtl(30_000), { ok: true, value: 30_000 }],
      ['checkLeaseTtl(1999)', checkLeaseTtl(1999), { ok: false }],
      ['checkHostsAtOnce(2)', checkHostsAtOnce(2), { ok: true, value: 2 }],
      ["checkHostsAtOnce(' 100% ')", checkHostsAtOnce(' 100% '), { ok: true, value: '100%' }],
      ["checkHostsAtOnce('007%')", checkHostsAtOnce('007%'), { ok: true, value: '7%' }],
      ["checkHostsAtOnce('1000%')", checkHostsAtOnce('1000%'), { ok: false }],
      ['checkHostsAtOnce(true)', checkHostsAtOnce(true), { ok: false }],
    ];
    assert.ok(rows.length > 0);
    for (const [call, r, want] of rows) {
      assert.equal(r.ok, want.ok, call);
      if (r.ok) assert.deepEqual(r.value, want.value, call);
      else assert.ok(r.error.length > 0, call);
    }
  });
});

describe('cluster: apply effects', () => {
  const effects = (a: CutoverConfig, b: CutoverConfig) =>
    diffConfig(a, b).map((c) => `${c.path} ${c.effect} ${JSON.stringify(c.from)}->${JSON.stringify(c.to)}`);
  const pw = (p: string) => `etcd: { endpoints: [http://a:2379], username: u, password: ${p} }`;

  test('anything under cluster needs a restart; the password never shows', () => {
    const a = ok(file(`${pw('one')}\nhost: web-1\nleaseTtl: 5s`));
    const b = ok(file(`${pw('two')}\nhost: web-2\nleaseTtl: 6s\nonHostLost: continue`));
    assert.deepEqual(effects(a, b), [
      'cluster.etcd.password restart "(redacted)"->"(redacted)"',
      'cluster.host restart "web-1"->"web-2"',
      'cluster.leaseTtlMs restart 5000->6000',
      'cluster.onHostLost restart "pause"->"continue"',
    ]);
    assert.equal(REDACTED, '(redacted)');
  });

  test('cluster added or removed is one restart change', () => {
    const single = ok('services:\n  web:\n    version: v1\n    run: { command: x }\n');
    const fleet = ok(file(pw('one')));
    assert.deepEqual(effects(single, fleet), ['cluster restart undefined->undefined']);
    assert.deepEqual(effects(fleet, single), ['cluster restart undefined->undefined']);
  });

  test('a service moved to other hosts, or hostsAtOnce changed, applies live', () => {
    const a = ok(file(ETCD));
    const b = ok(file(ETCD, 'hosts: [web-1, web-2]\nstrategy: { hostsAtOnce: 25% }'));
    assert.deepEqual(effects(a, b), [
      'services.web.hosts live "all"->["web-1","web-2"]',
      'services.web.strategy.hostsAtOnce live 1->"25%"',
    ]);
  });
});
