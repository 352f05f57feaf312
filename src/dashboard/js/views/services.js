// Services: one row per service, filtered by name and phase (kept in the URL).
import { Chart } from '../chart.js';
import { newRevision, pct, rate } from '../format.js';
import { setQuery, useLive } from '../hooks.js';
import { html } from '../html.js';
import { store } from '../live.js';

const PHASES = ['Healthy', 'Progressing', 'Paused', 'Degraded', 'Aborted'];

function RevisionTraffic({ service }) {
  const revs = store.traffic[service.name]?.revisions ?? [];
  const live = new Set([service.roles.stable?.revision, newRevision(service)?.revision]);
  const shown = revs.filter((r) => live.has(r.revision));
  if (shown.length === 0) return html`<span class="muted">no traffic yet</span>`;
  return html`<ul class="revtraffic">
    ${shown.map((r) => {
      const ser = store.series.get(`${service.name}/${r.revision}`);
      return html`<li key=${r.revision}>
        <span class=${`role ${r.role}`}>r${r.revision}</span>
        <span class="num" data-testid="rps">${rate(r.rps)}/s</span>
        <span class="num" data-testid="err">${pct(r.errorRate)}</span>
        ${
          ser &&
          html`<${Chart} spark title=${`requests/s of revision ${r.revision}`}
          lines=${[{ label: 'req/s', role: r.role, t: ser.t, values: ser.rps }]} />`
        }
      </li>`;
    })}
  </ul>`;
}

function Row({ s }) {
  const n = newRevision(s);
  const ready = s.instances.filter((i) => i.state === 'ready').length;
  return html`<tr data-service=${s.name}>
    <th scope="row"><a href=${`#/service/${encodeURIComponent(s.name)}`}>${s.name}</a></th>
    <td><span class=${`phase ${s.phase}`} data-testid="phase">${s.phase}</span></td>
    <td>${s.strategy}</td>
    <td>r${s.stable.revision} <span class="muted">${s.stable.version}</span></td>
    <td>${n ? html`r${n.revision} <span class="muted">${n.version}</span>` : '–'}</td>
    <td>${s.step ? `${s.step.index}/${s.step.total}` : '–'}</td>
    <td data-testid="weight">${s.weights ? `${s.weights.canary}%` : '–'}</td>
    <td>${ready}/${s.instances.length}</td>
    <td><${RevisionTraffic} service=${s} /></td>
  </tr>`;
}

export function Services({ query }) {
  useLive();
  const name = query.get('name') ?? '';
  const phase = query.get('phase') ?? '';
  const update = (k, v) => {
    const q = new URLSearchParams(query);
    if (v) q.set(k, v);
    else q.delete(k);
    setQuery(q);
    dispatchEvent(new HashChangeEvent('hashchange'));
  };
  const list = [...store.services.values()].filter(
    (s) => s.name.includes(name) && (!phase || s.phase === phase),
  );
  return html`<section aria-labelledby="h-services">
    <h1 id="h-services">Services</h1>
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <label>Name <input type="search" value=${name} onInput=${(e) => update('name', e.currentTarget.value)} /></label>
      <label>Phase
        <select value=${phase} onChange=${(e) => update('phase', e.currentTarget.value)}>
          <option value="">any</option>
          ${PHASES.map((p) => html`<option value=${p}>${p}</option>`)}
        </select>
      </label>
    </form>
    <div class="scroll">
    <table class="services">
      <thead><tr>
        <th scope="col">Service</th><th scope="col">Phase</th><th scope="col">Strategy</th>
        <th scope="col">Stable</th><th scope="col">New</th><th scope="col">Step</th>
        <th scope="col">Weight</th><th scope="col">Ready</th><th scope="col">Traffic per revision</th>
      </tr></thead>
      <tbody>${list.map((s) => html`<${Row} key=${s.name} s=${s} />`)}</tbody>
    </table>
    </div>
    ${list.length === 0 && html`<p class="muted">${store.services.size ? 'No service matches the filter.' : 'Waiting for the controller…'}</p>`}
  </section>`;
}
