// History: the service's revisions with outcome and message, and its events on a time line.
import { useEffect, useState } from '/ui/vendor/hooks.mjs';
import { api, servicePath } from '../api.js';
import { dateTime, time } from '../format.js';
import { useLive } from '../hooks.js';
import { html } from '../html.js';
import { store } from '../live.js';

export function History({ name }) {
  useLive();
  const [h, setH] = useState(null);
  const [past, setPast] = useState([]);
  const [error, setError] = useState('');
  const s = store.services.get(name);
  const stamp = `${s?.stable.revision}/${s?.rollout?.to}/${s?.phase}`;
  useEffect(() => {
    api('GET', servicePath(name, '/history')).then(setH, (e) => setError(e.message));
  }, [name, stamp]);
  useEffect(() => {
    api('GET', `/v1/events?service=${encodeURIComponent(name)}&limit=500`).then(
      (d) => setPast(d.events),
      (e) => setError(e.message),
    );
  }, [name]);
  const seen = new Set(past.map((e) => e.id));
  const events = [...past, ...store.events.filter((e) => e.service === name && !seen.has(e.id))].sort(
    (a, b) => b.id - a.id,
  );
  return html`<section aria-labelledby="h-hist">
    <h1 id="h-hist">History of ${name}</h1>
    ${error && html`<p class="answer error" role="alert">${error}</p>`}
    ${
      h &&
      html`<div class="scroll"><table><caption>Revisions</caption>
      <thead><tr><th scope="col">Revision</th><th scope="col">Version</th><th scope="col">Created</th><th scope="col">Outcome</th><th scope="col">Message</th></tr></thead>
      <tbody>${[...h.revisions].reverse().map(
        (r) => html`<tr key=${r.number}>
        <td>r${r.number}${r.number === h.stable ? ' (stable)' : ''}</td><td>${r.version}</td><td>${dateTime(r.createdAt)}</td>
        <td>${r.outcome}</td><td>${r.message ?? ''}</td></tr>`,
      )}</tbody></table></div>`
    }
    <h2>Events</h2>
    <ol class="events">${events.map(
      (e) => html`<li key=${e.id}>
      <time datetime=${new Date(e.time).toISOString()}>${time(e.time)}</time>
      <span class="etype">${e.type}</span>${e.revision ? ` r${e.revision}` : ''} <span>${e.message}</span></li>`,
    )}</ol>
  </section>`;
}
