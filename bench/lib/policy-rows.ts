/**
 * The policy rows of `npm run bench`: what a traffic policy costs per request, Cutover beside nginx, each
 * policy against the same proxy without it in the same run:
 *  - `rate`: Cutover `limits.rate` (one bucket per client IP, a limit so high that nothing is refused) vs
 *    nginx `limit_req` (`limit_req_zone $binary_remote_addr`, `burst ... nodelay`);
 *  - `hash`: Cutover `loadBalancer: { type: hash, key: header:x-user }` vs nginx `hash $http_x_user
 *    consistent`;
 *  - `plain`: round-robin over the same two upstream ports, no policy.
 * Cutover is one gateway whose route table is switched between the three (PUT /routes); nginx is one process
 * with three servers. The configs Cutover gets pass `cutover.yaml`'s own validator first (src/config).
 */

import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatIssues, parseConfig } from '../../src/config/load.ts';
import type { LoadBalancer, TrafficPolicy } from '../../src/config/types.ts';
import { fmtCpu, fmtInt, fmtMs, round, sum } from './format.ts';
import { adminRequest, benchRouteTable, putRoutes, startGateway } from './gateway-target.ts';
import { type FixedRun, fixedRunJson } from './latency-phase.ts';
import { type Cpu, heyWorkers, runHeyCsv, runWrk, withCpu } from './measure.ts';
import type { Options } from './options.ts';
import type { WrkResult } from './parse.ts';
import { policyText } from './policy-report.ts';
import { freePort, type Procs } from './procs.ts';
import { type Env, nginxCommon, nginxPrefix, type Running, startNginx, waitHttpOk } from './targets.ts';

export type PolicyName = 'plain' | 'rate' | 'hash';
export const POLICIES: PolicyName[] = ['plain', 'rate', 'hash'];
/** High enough that no request of the benchmark is refused: the rows measure the bookkeeping only. */
export const RATE_REQUESTS_PER_S = 100_000_000;
/** Distinct x-user values the wrk script cycles through. */
export const HASH_USERS = 1000;

export interface PolicyRow {
  target: 'cutover' | 'nginx';
  policy: PolicyName;
  /** How the policy is spelled in the target's config. */
  config: string;
  url: string;
  pgid: number | undefined;
  peak?: WrkResult & { cpu: Cpu };
  peakRounds: (WrkResult & { cpu: Cpu })[];
  fixed?: FixedRun;
  fixedRounds: FixedRun[];
}

export interface PolicyContext {
  procs: Procs;
  env: Env;
  o: Options;
  upstream: Running;
  upstreamPgid: number | undefined;
  hasNginx: boolean;
  log: (msg: string) => void;
}

export interface PolicyReport {
  text: string;
  json: unknown;
}

/** The YAML an operator would write for each policy; the validator's answer is what Cutover gets. */
export const POLICY_YAML: Record<Exclude<PolicyName, 'plain'>, string> = {
  rate: `limits:\n      rate: { requests: ${RATE_REQUESTS_PER_S}, per: 1s, burst: ${RATE_REQUESTS_PER_S}, key: ip }`,
  hash: 'loadBalancer: { type: hash, key: "header:x-user" }',
};

/** Runs `cutover.yaml` text with `fragment` in its one service through src/config's validator. */
export function validatedPolicy(fragment: string): { balance: LoadBalancer; policy?: TrafficPolicy } {
  const text = `services:\n  bench:\n    version: bench\n    replicas: 2\n    run: { command: "true" }\n    ${fragment}\n`;
  const r = parseConfig(text, { baseDir: process.cwd() });
  if (!r.ok)
    throw new Error(`cutover's config validator refused the bench policy:\n${formatIssues(r.issues)}`);
  const svc = r.config.services.bench;
  return { balance: svc.loadBalancer, policy: svc.policy };
}

/** Cycles x-user through HASH_USERS values, one per request, so hashing spreads over both instances. */
const WRK_SCRIPT = `-- bench/lib/policy-rows.ts: a different x-user on every request
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, { ["x-user"] = "user-" .. (n % ${HASH_USERS}) })
end
`;

async function startNginxPolicy(
  ctx: PolicyContext,
  ports: number[],
): Promise<{ proc: Running['proc']; urls: Record<PolicyName, string> }> {
  const listen: Record<PolicyName, number> = {
    plain: await freePort(),
    rate: await freePort(),
    hash: await freePort(),
  };
  const servers = ports.map((p) => `server 127.0.0.1:${p};`).join(' ');
  const keep = 'keepalive 64; keepalive_requests 10000000; keepalive_timeout 60s;';
  const proxy = (pool: string): string =>
    `proxy_pass http://${pool}; proxy_http_version 1.1; proxy_set_header Connection "";`;
  const prefix = nginxPrefix(ctx.env, 'nginx-policy');
  const conf = `${nginxCommon(ctx.env.workers, prefix)}
  limit_req_zone $binary_remote_addr zone=bench:10m rate=${RATE_REQUESTS_PER_S}r/s;
  upstream pool { ${servers} ${keep} }
  upstream pool_hash { hash $http_x_user consistent; ${servers} ${keep} }
  server { listen 127.0.0.1:${listen.plain} backlog=4096; location / { ${proxy('pool')} } }
  server {
    listen 127.0.0.1:${listen.rate} backlog=4096;
    location / { limit_req zone=bench burst=${RATE_REQUESTS_PER_S} nodelay; ${proxy('pool')} }
  }
  server { listen 127.0.0.1:${listen.hash} backlog=4096; location / { ${proxy('pool_hash')} } }
}
`;
  const proc = startNginx(ctx.env, 'nginx-policy', conf);
  const urls = {
    plain: `http://127.0.0.1:${listen.plain}/`,
    rate: `http://127.0.0.1:${listen.rate}/`,
    hash: `http://127.0.0.1:${listen.hash}/`,
  };
  const withLog = { ...proc, logFile: path.join(prefix, 'error.log') };
  for (const u of Object.values(urls)) await waitHttpOk(u, withLog);
  return { proc, urls };
}

/** Sums `limited.rate` over every revision of a /stats report (its shape: src/gateway/protocol.ts). */
export function rateLimitedIn(stats: unknown): number {
  let n = 0;
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) {
        if (
          k === 'limited' &&
          x !== null &&
          typeof x === 'object' &&
          'rate' in x &&
          typeof x.rate === 'number'
        )
          n += x.rate;
        else walk(x);
      }
    }
  };
  walk(stats);
  return n;
}

export async function runPolicyRows(ctx: PolicyContext): Promise<PolicyReport> {
  const { procs, env, o, upstream, upstreamPgid, log } = ctx;
  const notes: string[] = [];
  const ports = [upstream.port, upstream.altPort ?? upstream.port];
  const addresses = ports.map((p) => `127.0.0.1:${p}`);
  const checked = { rate: validatedPolicy(POLICY_YAML.rate), hash: validatedPolicy(POLICY_YAML.hash) };
  const tables: Record<PolicyName, { balance: LoadBalancer; policy?: TrafficPolicy }> = {
    plain: { balance: 'roundRobin' },
    ...checked,
  };
  const script = path.join(env.tmp, 'x-user.lua');
  writeFileSync(script, WRK_SCRIPT);

  const gw = await startGateway(env, upstream.port, { main: o.gateway, name: 'cutover-policy' });
  let version = 1;
  const useTable = async (p: PolicyName): Promise<void> => {
    version++;
    await putRoutes(gw.adminSocket, benchRouteTable(version, addresses, tables[p].balance, tables[p].policy));
  };
  const rows: PolicyRow[] = POLICIES.map((policy) => ({
    target: 'cutover',
    policy,
    config: policy === 'plain' ? 'loadBalancer: roundRobin' : POLICY_YAML[policy].replace(/\n\s*/g, ' '),
    url: gw.url,
    pgid: gw.proc.child.pid,
    peakRounds: [],
    fixedRounds: [],
  }));
  let nginxProc: Running['proc'] | undefined;
  if (ctx.hasNginx) {
    const ng = await startNginxPolicy(ctx, ports);
    nginxProc = ng.proc;
    const nginxConfig: Record<PolicyName, string> = {
      plain: 'upstream: 2 servers, round-robin',
      rate: `limit_req_zone $binary_remote_addr rate=${RATE_REQUESTS_PER_S}r/s; limit_req burst=${RATE_REQUESTS_PER_S} nodelay`,
      hash: 'hash $http_x_user consistent',
    };
    for (const policy of POLICIES) {
      rows.push({
        target: 'nginx',
        policy,
        config: nginxConfig[policy],
        url: ng.urls[policy],
        pgid: ng.proc.child.pid,
        peakRounds: [],
        fixedRounds: [],
      });
    }
  } else notes.push('nginx is not installed: the policy rows show Cutover only.');

  const prepare = async (r: PolicyRow): Promise<void> => {
    if (r.target === 'cutover') await useTable(r.policy);
  };
  try {
    for (let round = 1; round <= o.rounds; round++) {
      for (const r of rows) {
        await prepare(r);
        if (round === 1 && o.warmupS > 0) await runWrk(procs, o, r.url, o.warmupS, undefined, script);
        log(`policy ${r.target} ${r.policy} peak (round ${round}/${o.rounds}): wrk -s x-user.lua`);
        const w = await withCpu(r.pgid, upstreamPgid, (onSpawn) =>
          runWrk(procs, o, r.url, o.durationS, onSpawn, script),
        );
        r.peakRounds.push(w);
        if (!r.peak || w.rps > r.peak.rps) r.peak = w;
        log(`  ${fmtInt(w.rps)} req/s, p99 ${fmtMs(w.p99Ms)} ms, non-2xx ${w.non2xx}, cpu ${fmtCpu(w.cpu)}`);
      }
    }
    const base = rows.find((r) => r.target === 'cutover' && r.policy === 'plain')?.peak?.rps ?? 0;
    const rate = Math.max(1, Math.floor(base / 2));
    for (let round = 1; round <= o.rounds; round++) {
      for (const r of rows) {
        await prepare(r);
        log(`policy ${r.target} ${r.policy} at ${rate} req/s (round ${round}/${o.rounds}): hey -o csv`);
        const h = await withCpu(r.pgid, upstreamPgid, (onSpawn) =>
          runHeyCsv(procs, o, r.url, rate, onSpawn, ['x-user: user-1']),
        );
        const run = { ...h, targetRate: rate, generator: 'hey' as const };
        r.fixedRounds.push(run);
        const p99 = (x: { p99Ms: number | null }): number => x.p99Ms ?? Number.POSITIVE_INFINITY;
        if (!r.fixed || p99(run) < p99(r.fixed)) r.fixed = run;
        log(`  p99 ${fmtMs(h.p99Ms)} ms, p99.9 ${fmtMs(h.p999Ms)} ms, non-2xx ${h.errors}`);
      }
    }
    const stats = await adminRequest(gw.adminSocket, 'GET', '/stats');
    const refused = stats.status === 200 ? rateLimitedIn(JSON.parse(stats.body)) : null;
    notes.push(
      refused === null
        ? `Cutover GET /stats answered ${stats.status}: refused-by-rate count unknown.`
        : `Cutover /stats after the policy rows: ${refused} request(s) refused by limits.rate (must be 0).`,
      'Every policy row runs wrk with bench x-user.lua (a different x-user per request, ' +
        `${HASH_USERS} values), plain and rate too, so the generator's Lua cost is the same in all rows; hey ` +
        'sends one x-user value (hey -H takes no variables), so at the fixed rate hash sends everything to one ' +
        'instance.',
      `Fixed rate = half of the Cutover plain row's peak (${fmtInt(rate)} req/s), the same for all six rows.`,
      'Both upstream "instances" are two ports of the same upstream nginx: the rows measure the proxy, not the ' +
        'spread of work.',
    );
    const heyC = heyWorkers(rate, o.heyConcurrency);
    return {
      text: policyText(rows, o, rate, heyC, notes),
      json: {
        fixedRps: rate,
        refusedByCutoverRateLimit: refused,
        cutoverPolicies: { rate: checked.rate, hash: checked.hash },
        yaml: POLICY_YAML,
        rows: rows.map((r) => ({
          target: r.target,
          policy: r.policy,
          config: r.config,
          peakRounds: r.peakRounds.map((x) => ({
            rps: round(x.rps, 1),
            requests: x.requests,
            p50Ms: round(x.p50Ms),
            p99Ms: round(x.p99Ms),
            non2xx: x.non2xx,
            socketErrors: x.socketErrors,
            cpuPercent: x.cpu,
          })),
          fixedRounds: r.fixedRounds.map(fixedRunJson),
          non2xx: sum(r.peakRounds.map((x) => x.non2xx)) + sum(r.fixedRounds.map((x) => x.errors)),
        })),
        notes,
      },
    };
  } finally {
    // Idle now: stop them so the memory rows run beside nothing of ours.
    await procs.stop(gw.proc);
    if (nginxProc) await procs.stop(nginxProc);
  }
}
