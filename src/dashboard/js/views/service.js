// One service: step timeline, traffic split, instances, per-revision live charts, analysis, actions.
import { Chart } from '../chart.js';
import { ms, newRevision, pct, time } from '../format.js';
import { useLive } from '../hooks.js';
import { html } from '../html.js';
import { store } from '../live.js';
import { Actions, mayOperate } from './actions.js';

function Timeline({ s }) {
  const st = s.step;
  if (!st) {
    const r = s.rollout ?? s.lastRollout;
    return html`<p>${r ? `${s.rollout ? 'Rollout' : 'Last rollout'} to revision ${r.to}: ${r.phase}` : 'No rollout yet.'}
      ${s.message ? html` <span class="muted">${s.message}</span>` : ''}</p>`;
  }
  return html`<ol class="timeline" aria-label="Steps">
    ${st.steps.map((d, i) => {
      const state = i + 1 < st.index ? 'done' : i + 1 === st.index ? 'current' : 'next';
      return html`<li class=${state} aria-current=${state === 'current' ? 'step' : undefined}>
        <span class="n">${i + 1}</span> ${d}
        ${state === 'current' && st.waitingFor ? html` <em class="muted">waits for ${st.waitingFor}</em>` : ''}
      </li>`;
    })}
  </ol>`;
}

function Split({ s }) {
  if (!s.weights && !s.traffic) return null;
  const rules = s.traffic?.rules ?? [];
  return html`<section aria-labelledby="h-split"><h2 id="h-split">Traffic split</h2>
    ${
      s.weights &&
      html`<div class="split" role="img" aria-label=${`stable ${s.weights.stable}%, canary ${s.weights.canary}%`}>
      <progress max="100" value=${s.weights.canary}></progress>
      <span>stable <strong>${s.weights.stable}%</strong> · canary <strong data-testid="canary-weight">${s.weights.canary}%</strong></span>
    </div>`
    }
    ${s.traffic?.stickyBy && html`<p>Sticky by <code>${s.traffic.stickyBy}</code></p>`}
    ${s.mirror && html`<p>Mirror ${s.mirror.percent}% to the canary</p>`}
    ${
      rules.length > 0 &&
      html`<table class="rules"><caption>Rules (${s.traffic.source})</caption>
      <thead><tr><th scope="col">#</th><th scope="col">Match</th><th scope="col">To</th></tr></thead>
      <tbody>${rules.map((r, i) => html`<tr><td>${i + 1}</td><td><code data-testid="rule-match">${JSON.stringify(r.match)}</code></td><td>${r.to}</td></tr>`)}</tbody>
    </table>`
    }
  </section>`;
}

function Instances({ s }) {
  const inflight = store.traffic[s.name]?.inflight ?? {};
  return html`<section aria-labelledby="h-inst"><h2 id="h-inst">Instances</h2><div class="scroll">
    <table><thead><tr><th scope="col">Instance</th><th scope="col">Revision</th><th scope="col">State</th><th scope="col">Port</th>
      <th scope="col">Pid</th><th scope="col">Restarts</th><th scope="col">Probe</th><th scope="col">In flight</th><th scope="col"></th></tr></thead>
    <tbody>${s.instances.map(
      (i) => html`<tr key=${i.id}>
      <td><code>${i.id}</code></td><td>r${i.revision} <span class="muted">${i.version}</span></td>
      <td><span class=${`state ${i.state}`}>${i.state}</span></td><td>${i.port}</td><td>${i.pid ?? '–'}</td>
      <td>${i.restarts}</td><td>${i.state === 'ready' ? 'ok' : (i.lastProbeError ?? '–')}</td><td>${inflight[i.id] ?? 0}</td>
      <td><a href=${`#/service/${encodeURIComponent(s.name)}/logs?instance=${encodeURIComponent(i.id)}`}>logs</a></td>
    </tr>`,
    )}</tbody></table></div></section>`;
}

function LiveCharts({ s }) {
  const revs = [s.roles.stable, newRevision(s)].filter(Boolean);
  const lines = (metric, dash = 0, suffix = '') =>
    revs
      .map((r) => ({ r, ser: store.series.get(`${s.name}/${r.revision}`) }))
      .filter((x) => x.ser)
      .map(({ r, ser }) => ({
        label: `r${r.revision} ${ser.role}${suffix}`,
        role: ser.role,
        t: ser.t,
        values: ser[metric],
        dash,
      }));
  if (lines('rps').length === 0) return html`<p class="muted">Waiting for traffic numbers…</p>`;
  return html`<section aria-labelledby="h-live"><h2 id="h-live">Live traffic per revision</h2><div class="charts">
    <${Chart} title="Requests/s" lines=${lines('rps')} />
    <${Chart} title="Error rate" unit="%" lines=${lines('err')} />
    <${Chart} title="Latency p50 / p99" unit=" ms" lines=${[...lines('p50', 0, ' p50'), ...lines('p99', 1, ' p99')]} />
  </div></section>`;
}

function Analysis({ s }) {
  if (!s.analysis) return null;
  return html`<section aria-labelledby="h-an"><h2 id="h-an">Analysis</h2>
    ${s.analysis.map(
      (a) => html`<div class="analysis">
      <p><strong>${a.kind}${a.stage ? ` (${a.stage})` : ''}</strong>: <span class=${`verdict ${a.phase}`}>${a.phase}</span> <span class="muted">${a.message}</span></p>
      <div class="charts">${a.metrics.map((m) => {
        const v = store.verdicts.get(`${s.name}/${a.kind}/${m.name}`);
        if (!v) return null;
        const lines = [{ label: 'value', role: 'canary', t: v.t, values: v.value }];
        if (v.baseline.some((x) => x !== null))
          lines.push({ label: 'baseline', role: 'stable', t: v.t, values: v.baseline });
        return html`<${Chart} key=${m.name} title=${m.name} height=${120} lines=${lines} />`;
      })}</div>
      <div class="scroll"><table><thead><tr><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Baseline</th><th scope="col">Limit</th>
        <th scope="col">Samples</th><th scope="col">Evidence / threshold</th><th scope="col">Verdict</th><th scope="col">Why</th><th scope="col">At</th></tr></thead>
      <tbody>${a.metrics.map(
        (m) => html`<tr><td>${m.name}</td><td>${String(m.value ?? '–')}</td><td>${m.baseline ?? '–'}</td>
        <td>${m.limit ?? '–'}</td><td>${m.samples ?? '–'}</td>
        <td>${m.evidence === undefined ? '–' : `${m.evidence.toFixed(2)} / ${m.threshold?.toFixed(2) ?? '–'}`}</td>
        <td><span class=${`verdict ${m.status}`}>${m.status}</span></td><td>${m.reason}</td><td>${time(m.at)}</td></tr>`,
      )}</tbody></table></div>
    </div>`,
    )}
  </section>`;
}

function Summary({ s }) {
  const t = store.traffic[s.name]?.revisions ?? [];
  return html`<dl class="summary">
    <dt>Phase</dt><dd><span class=${`phase ${s.phase}`} data-testid="phase">${s.phase}</span></dd>
    <dt>Strategy</dt><dd>${s.strategy}</dd>
    <dt>Stable</dt><dd>r${s.stable.revision} ${s.stable.version}</dd>
    ${t.map((r) => html`<dt>r${r.revision} ${r.role}</dt><dd data-testid=${`rate-r${r.revision}`} data-rps=${r.rps ?? ''}>${r.rps === null ? '–' : r.rps.toFixed(1)}/s · ${pct(r.errorRate)} · p50 ${ms(r.p50Ms)} · p99 ${ms(r.p99Ms)}</dd>`)}
  </dl>`;
}

export function Service({ name, who }) {
  useLive();
  const s = store.services.get(name);
  if (!s) return html`<p>${store.services.size ? `No service named ${name}.` : 'Loading…'}</p>`;
  const base = `#/service/${encodeURIComponent(name)}`;
  return html`<section aria-labelledby="h-svc">
    <h1 id="h-svc">${s.name}</h1>
    <nav class="subnav" aria-label="Service"><a href=${`${base}/history`}>History</a> <a href=${`${base}/logs`}>Logs</a></nav>
    <${Summary} s=${s} />
    ${mayOperate(who, s.name) && html`<${Actions} s=${s} />`}
    <section aria-labelledby="h-steps"><h2 id="h-steps">Rollout</h2><${Timeline} s=${s} /></section>
    <${Split} s=${s} />
    <${LiveCharts} s=${s} />
    <${Analysis} s=${s} />
    <${Instances} s=${s} />
  </section>`;
}
