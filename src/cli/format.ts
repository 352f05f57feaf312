import type { DrillReport } from '../api/drill-routes.ts';
import type { ServiceStatus } from '../api/status.ts';
import type { ConfigChange } from '../config/diff.ts';
import type { AnalysisSummary, Revision } from '../core/model.ts';
import { policyLine } from './policy-format.ts';

/** Renders rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
}

/** Human view of one service's status. */
export function formatStatus(s: ServiceStatus, now = Date.now()): string {
  const out: string[] = [];
  out.push(`service ${s.name}  phase ${s.phase}  strategy ${s.strategy}  replicas ${s.replicas}`);
  out.push(`  route   host ${s.route.host}  path ${s.route.pathPrefix}`);
  if (s.certificate) {
    const c = s.certificate;
    const until = c.notAfter ? ` until ${c.notAfter}` : '';
    out.push(
      `  tls     ${c.source} certificate ${c.state ?? 'valid'}${until}${c.error ? `: ${c.error}` : ''}`,
    );
  }
  out.push(`  stable  revision ${s.stable.revision} (${s.stable.version})`);
  if (s.rollout) {
    const p = s.rollout.progress;
    out.push(
      `  rollout ${s.rollout.kind} to revision ${s.rollout.to} (${s.rollout.version}): ${p.available}/${p.replicas} new available, ${p.old} old, ${p.draining} draining, running ${ago(s.rollout.startedAt, now)}`,
    );
  } else if (s.lastRollout) {
    const l = s.lastRollout;
    out.push(`  last    ${l.kind} to revision ${l.to}: ${l.phase}${l.message ? ` (${l.message})` : ''}`);
  }
  const role = (name: string, r?: { revision: number; version: string; ready: number; instances: number }) =>
    r ? `${name} r${r.revision} (${r.version}) ${r.ready}/${r.instances} ready` : '';
  out.push(
    `  roles   ${[role('stable', s.roles.stable), role('canary', s.roles.canary), role('preview', s.roles.preview)].filter(Boolean).join(', ')}`,
  );
  if (s.weights) out.push(`  weights stable ${s.weights.stable}%  canary ${s.weights.canary}%`);
  if (s.step) {
    out.push(
      `  step    ${s.step.index}/${s.step.total} ${s.step.current}${s.step.waitingFor ? ` (${s.step.waitingFor})` : ''}`,
    );
  } else if (s.rollout?.waitingFor) out.push(`  waiting ${s.rollout.waitingFor}`);
  if (s.mirror) out.push(`  mirror  ${s.mirror.percent}% of requests copied to the canary`);
  for (const a of s.analysis ?? []) {
    out.push(`  analysis (${a.kind}${a.stage ? `, ${a.stage}-promotion` : ''}) ${a.phase}: ${a.message}`);
    for (const m of a.metrics) {
      const nums = [
        m.value !== undefined ? `value ${fmtNum(m.value)}` : '',
        m.baseline !== undefined ? `stable ${fmtNum(m.baseline)}` : '',
        m.samples !== undefined ? `n=${m.samples}` : '',
      ]
        .filter(Boolean)
        .join(' ');
      out.push(`    ${m.name.padEnd(16)} ${m.status.padEnd(12)} ${nums}${m.reason ? `  ${m.reason}` : ''}`);
    }
  }
  for (const [name, h] of Object.entries(s.hooks ?? {})) {
    if (h) out.push(`  hook    ${name}: ${h.status}${h.error ? ` (${h.error})` : ''}`);
  }
  if (s.traffic && (s.traffic.rules.length > 0 || s.traffic.stickyBy))
    out.push(formatTraffic(s).replace(/^/gm, '  '));
  const policy = policyLine(s.policy);
  if (policy) out.push(`  ${policy}`);
  if (s.message) out.push(`  message ${s.message}`);
  const rows = s.instances.map((i) => [
    i.id,
    String(i.revision),
    i.version,
    i.state,
    String(i.port),
    String(i.pid ?? '-'),
    String(i.restarts),
    i.state === 'ready' ? ago(i.readySince, now) : (i.lastProbeError ?? ''),
  ]);
  out.push(
    table(
      ['  INSTANCE', 'REV', 'VERSION', 'STATE', 'PORT', 'PID', 'RESTARTS', 'READY FOR / LAST ERROR'],
      rows.map((r) => [`  ${r[0]}`, ...r.slice(1)]),
    ),
  );
  return out.join('\n');
}

/** Human view of a service's revision history. */
export function formatHistory(revisions: Revision[], stable: number): string {
  const rows = revisions.map((r) => [
    `${r.number}${r.number === stable ? '*' : ''}`,
    r.version,
    new Date(r.createdAt).toISOString().replace('T', ' ').slice(0, 19),
    r.drill ? `${r.outcome} (drill)` : r.outcome,
    r.analysis ? formatAnalysisSummary(r.analysis) : '-',
    r.message ?? '',
  ]);
  return table(['REVISION', 'VERSION', 'CREATED', 'OUTCOME', 'ANALYSIS', 'MESSAGE'], rows);
}

/** `Failed in 4.2s: errors Fail (230), p99 Pass (230)`: verdict, time to it, each metric with its samples. */
export function formatAnalysisSummary(a: AnalysisSummary): string {
  const when = a.timeToVerdictMs === undefined ? '' : ` in ${(a.timeToVerdictMs / 1000).toFixed(1)}s`;
  const runs = a.runs > 1 ? `, ${a.runs} runs` : '';
  const metrics = a.metrics.map(
    (m) => `${m.name} ${m.status}${m.alerted ? ' (alerted)' : ''} (${m.samples})`,
  );
  return `${a.verdict}${when}${runs}: ${metrics.join(', ')}`;
}

/** Human view of a drill's outcome. */
export function formatDrillReport(d: DrillReport): string {
  const secs = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)}s`);
  const verdict =
    d.state === 'aborted'
      ? `PASSED: analysis took the drill canary back after ${secs(d.timeToAbortMs)} (limit ${secs(d.timeoutMs)})`
      : d.state === 'notAborted'
        ? `FAILED: analysis did not take the drill canary back within ${secs(d.timeoutMs)}`
        : 'still running';
  const c = d.canary;
  const lines = [
    `drill of ${d.service}: revision ${d.revision} (copy of ${d.stable}) with ${d.fault} at ${d.weight}% of traffic`,
    verdict,
    c === null
      ? 'canary: gateway counters unavailable'
      : `canary: ${c.requests} requests, ${c.faulted.aborted} answered with an injected error, ${c.faulted.delayed} delayed`,
    `stable: revision ${d.stable}${d.stableUnchanged ? ' (unchanged)' : ' (CHANGED)'}, ${d.stableWindow.requests} requests and ${d.stableWindow.errors} errors while analysis watched`,
  ];
  if (d.analysis) lines.push(`analysis: ${formatAnalysisSummary(d.analysis)}`);
  return lines.join('\n');
}

/** Human view of the traffic rules in effect. */
export function formatTraffic(s: ServiceStatus): string {
  const t = s.traffic;
  if (!t) return `service ${s.name}: no traffic rules (strategy ${s.strategy})`;
  const lines = [
    `traffic (${t.source}): sticky by ${t.stickyBy ? `${t.stickyBy.source}:${t.stickyBy.name}` : 'nothing (per request)'}`,
  ];
  for (const [i, r] of t.rules.entries())
    lines.push(`  rule ${i + 1}: ${JSON.stringify(r.match)} -> ${r.to}`);
  if (t.rules.length === 0) lines.push('  no rules');
  return lines.join('\n');
}

const EFFECT_NOTE: Record<ConfigChange['effect'], string> = {
  live: 'live',
  'new-revision': 'new revision, rolled out',
  added: 'added',
  removed: 'removed: drained and stopped',
  restart: 'needs a restart of cutover up: not applied',
  reload: 'gateway reloaded: new handshakes use it',
};

/** One line per config change: `~ path: from -> to (effect)`. */
export function formatChanges(changes: ConfigChange[]): string {
  return changes
    .map((c) => {
      const mark =
        c.effect === 'added' ? '+' : c.effect === 'removed' ? '-' : c.effect === 'restart' ? '!' : '~';
      const values =
        c.effect === 'added' || c.effect === 'removed'
          ? ''
          : `: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`;
      return `${mark} ${c.path}${values} (${EFFECT_NOTE[c.effect]})`;
    })
    .join('\n');
}

function fmtNum(v: unknown): string {
  return typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : String(v);
}
