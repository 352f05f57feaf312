/** The TLS rows' report: the summary with Cutover's ratios, the detail table, notes and the JSON part. */

import os from 'node:os';
import { fmtCpu, fmtInt, fmtMs, round, sum, table } from './format.ts';
import { type Cpu, heyWorkers } from './measure.ts';
import {
  type Measured,
  type TargetRuns,
  TLS_TARGETS,
  type TlsContext,
  type TlsRowName,
  type TlsRowsOptions,
  type TlsTargetName,
} from './tls-rows.ts';

/** CPU (% of one core) used by processes outside the benchmark above which a run is flagged. */
const FOREIGN_CPU_LIMIT = 25;
/** A generator above this share of its threads' cores is the bottleneck, not the target. */
const GENERATOR_BOUND_SHARE = 0.9;

/** One line of the summary: a figure per target and Cutover's ratios to nginx and Caddy. */
export interface SummaryRow {
  row: string;
  metric: string;
  unit: string;
  better: 'higher' | 'lower';
  nginx: number | null;
  caddy: number | null;
  cutover: number | null;
  cutoverVsNginx: number | null;
  cutoverVsCaddy: number | null;
}

export interface TlsReport {
  text: string;
  notes: string[];
  json: Record<string, unknown>;
}

function ratio(a: number | null, b: number | null): number | null {
  return a === null || b === null || b === 0 ? null : round(a / b, 3);
}

function summaryRows(o: TlsRowsOptions, runs: TargetRuns[], rate: number): SummaryRow[] {
  const get = (n: TlsTargetName, f: (r: TargetRuns) => number | null | undefined): number | null => {
    const r = runs.find((x) => x.target.name === n);
    const v = r ? f(r) : null;
    return v === undefined || v === null ? null : v;
  };
  const row = (
    name: TlsRowName,
    metric: string,
    unit: string,
    better: 'higher' | 'lower',
    f: (r: TargetRuns) => number | null | undefined,
  ): SummaryRow => {
    const [nginx, caddy, cutover] = TLS_TARGETS.map((n) => get(n, f));
    return {
      row: name,
      metric,
      unit,
      better,
      nginx,
      caddy,
      cutover,
      cutoverVsNginx: ratio(cutover, nginx),
      cutoverVsCaddy: ratio(cutover, caddy),
    };
  };
  /** Per core of CPU the target used: the cost per request, less sensitive to foreign load than raw rates. */
  const perCore = (v: number | undefined, cpu: Cpu | undefined): number | null =>
    v === undefined || cpu === undefined || cpu.target <= 0 ? null : (v * 100) / cpu.target;
  const out: SummaryRow[] = [];
  if (o.rows.includes('https')) {
    out.push(
      row(
        'https',
        `HTTPS keep-alive peak (wrk -c${o.connections})`,
        'req/s',
        'higher',
        (r) => r.peak.best?.rps,
      ),
      row('https', '  per core of target CPU', 'req/s', 'higher', (r) =>
        perCore(r.peak.best?.rps, r.peak.best?.cpu),
      ),
      row('https', 'HTTPS p99 at peak', 'ms', 'lower', (r) => r.peak.best?.p99Ms),
      row('https', `HTTPS p99 at ${fmtInt(rate)} req/s (hey)`, 'ms', 'lower', (r) => r.fixed.best?.p99Ms),
    );
  }
  if (o.rows.includes('handshakes')) {
    out.push(
      row(
        'handshakes',
        'new TLS connections (full handshakes)',
        'conn/s',
        'higher',
        (r) => r.handshakes.best?.rate,
      ),
      row('handshakes', '  per core of target CPU', 'conn/s', 'higher', (r) =>
        perCore(r.handshakes.best?.rate, r.handshakes.best?.cpu),
      ),
    );
  }
  if (o.rows.includes('h2')) {
    const h = `h2load -c ${o.h2.clients} -m ${o.h2.streams}`;
    out.push(
      row('h2', `HTTP/2 over TLS (${h})`, 'req/s', 'higher', (r) => r.h2.best?.rps),
      row('h2', '  per core of target CPU', 'req/s', 'higher', (r) =>
        perCore(r.h2.best?.rps, r.h2.best?.cpu),
      ),
      row('h2', 'HTTP/2 p50', 'ms', 'lower', (r) => r.h2.best?.p50Ms),
      row('h2', 'HTTP/2 p90', 'ms', 'lower', (r) => r.h2.best?.p90Ms),
      row('h2', 'HTTP/2 p99', 'ms', 'lower', (r) => r.h2.best?.p99Ms),
    );
  }
  return out;
}

export function report(
  ctx: TlsContext,
  runs: TargetRuns[],
  rate: number,
  rateFrom: string | null,
  notes: string[],
): TlsReport {
  const { o } = ctx;
  const summary = summaryRows(o, runs, rate);
  const fmt = (unit: string, v: number | null): string => (unit === 'ms' ? fmtMs(v) : fmtInt(v));
  const fmtRatio = (v: number | null): string => (v === null ? '-' : `${v.toFixed(2)}x`);
  const summaryTable = table([
    ['row', 'unit', 'nginx', 'caddy', 'cutover', 'cutover/nginx', 'cutover/caddy', 'better'],
    ...summary.map((s) => [
      s.metric,
      s.unit,
      fmt(s.unit, s.nginx),
      fmt(s.unit, s.caddy),
      fmt(s.unit, s.cutover),
      fmtRatio(s.cutoverVsNginx),
      fmtRatio(s.cutoverVsCaddy),
      s.better,
    ]),
  ]);

  const cut = runs.find((r) => r.target.name === 'cutover');
  const httpsP99 = cut?.fixed.best?.p99Ms ?? null;
  const httpP99 = cut?.plainFixed.best?.p99Ms ?? null;
  const addedByTls = httpsP99 !== null && httpP99 !== null ? round(httpsP99 - httpP99, 4) : null;
  const addedLine = o.rows.includes('https')
    ? `p99 added by TLS (cutover): ${addedByTls === null ? 'not measured' : `${addedByTls >= 0 ? '+' : ''}${fmtMs(addedByTls)} ms`}` +
      ` (HTTPS p99 ${fmtMs(httpsP99)} ms - plain HTTP p99 ${fmtMs(httpP99)} ms, same gateway, both at ${fmtInt(rate)} req/s = half of the ${rateFrom ?? '?'} HTTPS peak)`
    : '';

  // Per measurement and target: the figures behind the summary, with errors and CPU.
  const detail: string[][] = [
    ['measurement', 'target', 'rate', 'p50 ms', 'p99 ms', 'errors', 'cpu% t/u/g/o', 'note'],
  ];
  const line = (
    what: string,
    name: string,
    m: Measured<{ p50Ms: number | null; p99Ms: number | null; errors: number }>,
    rateValue: number | undefined,
    note = '',
  ): void => {
    if (!m.best && m.errors.length === 0) return;
    detail.push([
      what,
      name,
      fmtInt(rateValue),
      fmtMs(m.best?.p50Ms),
      fmtMs(m.best?.p99Ms),
      String(sum(m.rounds.map((x) => x.errors))),
      fmtCpu(m.best?.cpu),
      m.errors.length > 0 ? `${m.errors.length} failed run(s): ${m.errors[0].slice(0, 80)}` : note,
    ]);
  };
  for (const r of runs) {
    const n = r.target.name;
    line('https peak', n, r.peak, r.peak.best?.rps);
    line('https @rate', n, r.fixed, r.fixed.best?.rps);
    if (n === 'cutover')
      line('http @rate', n, r.plainFixed, r.plainFixed.best?.rps, 'same gateway, plain port');
    line('handshakes', n, r.handshakes, r.handshakes.best?.rate, 'p50/p99: connect to last byte');
    const tls = r.h2.best?.tls;
    const negotiated = tls ? [tls.protocol, tls.cipher, tls.tempKey, tls.alpn].filter(Boolean).join(' ') : '';
    line('h2', n, r.h2, r.h2.best?.rps, negotiated);
  }

  for (const r of runs) {
    if (r.target.skipped)
      notes.push(`${r.target.name}: skipped (${r.target.skipped.split('\n')[0].slice(0, 200)}).`);
    const errs = [r.peak, r.fixed, r.plainFixed, r.handshakes, r.h2].map((m) =>
      sum(m.rounds.map((x) => x.errors)),
    );
    if (sum(errs) > 0)
      notes.push(`${r.target.name}: ${sum(errs)} failed requests or connections over the TLS rows.`);
    const hs = r.handshakes.best;
    if (hs && hs.cpu.generator >= GENERATOR_BOUND_SHARE * 100 * o.handshakes.threads) {
      notes.push(
        `${r.target.name} handshakes: the generator used ${hs.cpu.generator}% (of ${o.handshakes.threads} thread(s)), ` +
          `the target ${hs.cpu.target}%: the figure is a floor for the target.`,
      );
    }
    if (hs && hs.errorSamples.length > 0)
      notes.push(`${r.target.name} handshake errors: ${hs.errorSamples.join('; ')}.`);
    const noisy = [
      ['https peak', r.peak.best?.cpu],
      ['https @rate', r.fixed.best?.cpu],
      ['handshakes', r.handshakes.best?.cpu],
      ['h2', r.h2.best?.cpu],
    ] as const;
    const flagged = noisy
      .filter(([, c]) => c?.other != null && c.other > FOREIGN_CPU_LIMIT)
      .map(([w, c]) => `${w} (${c?.other}%)`);
    if (flagged.length > 0) {
      notes.push(
        `${r.target.name}: foreign processes used more than ${FOREIGN_CPU_LIMIT}% of a core during ${flagged.join(', ')}; those figures are disturbed.`,
      );
    }
  }
  if (rate > 0 && cut?.fixed.best && cut.fixed.best.rps < 0.9 * rate) {
    notes.push(
      `cutover HTTPS: hey reached only ${fmtInt(cut.fixed.best.rps)} of the ${fmtInt(rate)} req/s asked for.`,
    );
  }
  notes.push(
    `Every TLS target serves the same ECDSA P-256 certificate (openssl, made at run time) and proxies to the same upstream over HTTP/1.1 keep-alive; ${ctx.targets.length} targets share ${os.cpus().length} cores with the load generator.`,
    'new TLS connections: bench/lib/handshake-load.ts (Node TLS client, no session offered back, so every connection is a full handshake; wrk -H "Connection: close" was not used because its reconnects resume about half of the sessions). Ratios >1 are better for rates, <1 for latencies.',
    'h2load latencies are per request (from its --log-file), from request start to the end of the response.',
  );

  const header =
    `TLS rows: ${o.rows.join(', ')}; ${o.rounds} interleaved round(s), the best counts, errors summed\n` +
    (o.rows.includes('https')
      ? `https: wrk -t${o.threads} -c${o.connections} -d${o.durationS}s; hey -z ${o.durationS}s at ${fmtInt(rate)} req/s (half of the ${rateFrom ?? '?'} HTTPS peak), -host ${o.servername}\n`
      : '') +
    (o.rows.includes('handshakes')
      ? `handshakes: ${o.handshakes.threads} thread(s) x ${o.handshakes.concurrency} loops for ${o.durationS}s, SNI ${o.servername}\n`
      : '') +
    (o.rows.includes('h2')
      ? `h2: h2load -D ${o.durationS} -c ${o.h2.clients} -m ${o.h2.streams} over TLS, SNI ${o.servername}\n`
      : '');
  const text = `${header}\n${summaryTable}\n${addedLine ? `\n${addedLine}\n` : ''}\n${table(detail)}\n`;

  const cpuOf = (c: Cpu | undefined): Cpu | null => c ?? null;
  const json = {
    rows: o.rows,
    fixedRate: { rps: rate, from: rateFrom },
    load: {
      wrk: { threads: o.threads, connections: o.connections },
      hey: { concurrency: rate > 0 ? heyWorkers(rate, o.heyConcurrency) : null, host: o.servername },
      handshakes: o.handshakes,
      h2load: o.h2,
    },
    summary,
    addedByTls: { p99Ms: addedByTls, httpsP99Ms: httpsP99, httpP99Ms: httpP99, rate },
    targets: runs.map((r) => ({
      name: r.target.name,
      skipped: r.target.skipped ?? null,
      httpsPeak: r.peak.best
        ? {
            rps: round(r.peak.best.rps, 1),
            p50Ms: r.peak.best.p50Ms,
            p99Ms: r.peak.best.p99Ms,
            cpuPercent: cpuOf(r.peak.best.cpu),
          }
        : null,
      httpsFixed: r.fixed.best
        ? {
            rps: round(r.fixed.best.rps, 1),
            p50Ms: r.fixed.best.p50Ms,
            p99Ms: r.fixed.best.p99Ms,
            cpuPercent: cpuOf(r.fixed.best.cpu),
          }
        : null,
      httpFixed: r.plainFixed.best
        ? {
            rps: round(r.plainFixed.best.rps, 1),
            p50Ms: r.plainFixed.best.p50Ms,
            p99Ms: r.plainFixed.best.p99Ms,
            cpuPercent: cpuOf(r.plainFixed.best.cpu),
          }
        : null,
      handshakes: r.handshakes.best
        ? {
            rate: r.handshakes.best.rate,
            p50Ms: r.handshakes.best.p50Ms,
            p99Ms: r.handshakes.best.p99Ms,
            cpuPercent: cpuOf(r.handshakes.best.cpu),
          }
        : null,
      h2: r.h2.best
        ? {
            rps: round(r.h2.best.rps, 1),
            p50Ms: round(r.h2.best.p50Ms),
            p90Ms: round(r.h2.best.p90Ms),
            p99Ms: round(r.h2.best.p99Ms),
            tls: r.h2.best.tls,
            cpuPercent: cpuOf(r.h2.best.cpu),
          }
        : null,
      errors: {
        httpsPeak: sum(r.peak.rounds.map((x) => x.errors)),
        httpsFixed: sum(r.fixed.rounds.map((x) => x.errors)),
        httpFixed: sum(r.plainFixed.rounds.map((x) => x.errors)),
        handshakes: sum(r.handshakes.rounds.map((x) => x.errors)),
        h2: sum(r.h2.rounds.map((x) => x.errors)),
        failedRuns: [r.peak, r.fixed, r.plainFixed, r.handshakes, r.h2].flatMap((m) => m.errors),
      },
      rounds: {
        httpsPeakRps: r.peak.rounds.map((x) => round(x.rps, 1)),
        httpsFixedP99Ms: r.fixed.rounds.map((x) => x.p99Ms),
        httpFixedP99Ms: r.plainFixed.rounds.map((x) => x.p99Ms),
        handshakesRate: r.handshakes.rounds.map((x) => x.rate),
        h2Rps: r.h2.rounds.map((x) => round(x.rps, 1)),
      },
    })),
    notes,
  };
  return { text, notes, json };
}
