// Audit (admin): the audit trail and the result of verifying its hash chain.
import { useEffect, useState } from '/ui/vendor/hooks.mjs';
import { api } from '../api.js';
import { dateTime } from '../format.js';
import { html } from '../html.js';

export function Audit() {
  const [entries, setEntries] = useState([]);
  const [verify, setVerify] = useState(null);
  const [error, setError] = useState('');
  const load = () => {
    api('GET', '/v1/audit?limit=500').then(
      (d) => setEntries(d.entries),
      (e) => setError(e.message),
    );
    api('GET', '/v1/audit/verify').then(setVerify, (e) => setError(e.message));
  };
  useEffect(load, []);
  return html`<section aria-labelledby="h-audit">
    <h1 id="h-audit">Audit trail</h1>
    <button type="button" onClick=${load}>Refresh</button>
    ${error && html`<p class="answer error" role="alert">${error}</p>`}
    ${
      verify &&
      html`<p role="status" class=${verify.ok ? 'answer ok' : 'answer error'}>
      ${verify.ok ? `Chain verified: ${verify.entries} entries intact.` : `Chain broken at entry ${verify.broken?.seq}: ${verify.broken?.message}`}</p>`
    }
    <div class="scroll"><table><thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Actor</th><th scope="col">Action</th>
      <th scope="col">Service</th><th scope="col">Status</th><th scope="col">Params</th><th scope="col">Source</th></tr></thead>
    <tbody>${[...entries].reverse().map(
      (e) => html`<tr key=${e.seq}><td>${e.seq}</td><td>${dateTime(e.time)}</td>
      <td>${e.actor}${e.role ? ` (${e.role})` : ''}</td><td>${e.action}</td><td>${e.service ?? ''}</td>
      <td>${e.status}${e.code ? ` ${e.code}` : ''}</td><td><code>${e.params}</code></td><td>${e.source}</td></tr>`,
    )}</tbody></table></div>
  </section>`;
}
