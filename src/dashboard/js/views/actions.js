// The release actions the signed-in role may take. Every one asks for confirmation in a dialog
// and shows the server's answer (its error message as sent, the same as the CLI prints).
import { useState } from '/ui/vendor/hooks.mjs';
import { api, servicePath } from '../api.js';
import { html } from '../html.js';

/** Whether `who` may operate on `service` (the server decides; this only hides what it would refuse). */
export function mayOperate(who, service) {
  if (who.role === 'admin') return true;
  return who.role === 'deployer' && (who.services.length === 0 || who.services.includes(service));
}

function actionsFor(s) {
  const running = s.rollout !== undefined;
  const list = [{ id: 'deploy', label: 'Deploy…', input: 'version' }];
  if (running) {
    list.push({ id: 'promote', label: 'Promote' }, { id: 'promote-full', label: 'Promote full' });
    list.push(s.phase === 'Paused' ? { id: 'resume', label: 'Resume' } : { id: 'pause', label: 'Pause' });
    list.push({ id: 'abort', label: 'Abort', danger: true });
    if (s.strategy === 'canary') list.push({ id: 'weight', label: 'Set weight…', input: 'weight' });
  } else {
    if (s.lastRollout && s.lastRollout.phase !== 'Succeeded') list.push({ id: 'retry', label: 'Retry' });
    list.push({ id: 'undo', label: 'Undo to…', input: 'revision' });
  }
  if (s.strategy === 'canary') list.push({ id: 'rules', label: 'Edit rules…', input: 'rules' });
  return list;
}

function request(name, a, value) {
  switch (a.id) {
    case 'deploy':
      return api('POST', servicePath(name, '/deploy'), { version: value.trim() });
    case 'promote-full':
      return api('POST', servicePath(name, '/promote'), { full: true });
    case 'weight':
      return api('PUT', servicePath(name, '/weight'), { weight: Number(value) });
    case 'undo':
      return api('POST', servicePath(name, '/undo'), value.trim() ? { toRevision: Number(value) } : {});
    case 'rules': {
      let traffic;
      try {
        traffic = JSON.parse(value);
      } catch (e) {
        return Promise.reject(new Error(`rules: invalid JSON (${e.message})`));
      }
      return api('PUT', servicePath(name, '/rules'), { traffic });
    }
    default:
      return api('POST', servicePath(name, `/${a.id}`), {});
  }
}

function initial(a, s) {
  if (a.id === 'weight') return String(s.weights?.canary ?? 0);
  if (a.id === 'rules') {
    const { source: _source, ...t } = s.traffic ?? {};
    return JSON.stringify(t, null, 2);
  }
  return '';
}

export function Actions({ s }) {
  const [open, setOpen] = useState(null);
  const [value, setValue] = useState('');
  const [answer, setAnswer] = useState(null);
  const [busy, setBusy] = useState(false);
  const start = (a) => {
    setOpen(a);
    setValue(initial(a, s));
    setAnswer(null);
  };
  const confirm = async (e) => {
    e.preventDefault();
    setBusy(true);
    try {
      const r = await request(s.name, open, value);
      const done = `${open.label.replace('…', '')}: done${r.revision ? ` (revision ${r.revision})` : ''}`;
      // 202 + routesPending: saved, but the gateway has not taken it yet (the CLI warns the same way).
      setAnswer(
        r.routesPending
          ? { ok: true, warn: true, text: `${done}; ${r.routesPending}` }
          : { ok: true, text: done },
      );
      setOpen(null);
    } catch (err) {
      setAnswer({ ok: false, text: err.message });
    } finally {
      setBusy(false);
    }
  };
  return html`<section class="actions" aria-label="Actions">
    <div class="buttons">
      ${actionsFor(s).map(
        (a) =>
          html`<button type="button" class=${a.danger ? 'danger' : ''} data-action=${a.id} onClick=${() => start(a)}>${a.label}</button>`,
      )}
    </div>
    ${
      open &&
      html`<form class="confirm" role="dialog" aria-label=${`Confirm ${open.label}`} onSubmit=${confirm}>
      <p>${open.label.replace('…', '')} <strong>${s.name}</strong>?</p>
      ${
        open.input === 'rules'
          ? html`<label>Traffic (JSON: stickyBy, rules)<textarea rows="8" value=${value} onInput=${(e) => setValue(e.currentTarget.value)}></textarea></label>`
          : open.input &&
            html`<label>${open.input === 'revision' ? 'Revision (empty: the previous one)' : open.input === 'weight' ? 'Canary weight (%)' : 'Version'}
            <input name=${open.input} value=${value} required=${open.input !== 'revision'} onInput=${(e) => setValue(e.currentTarget.value)} /></label>`
      }
      <div class="buttons">
        <button type="submit" data-confirm disabled=${busy}>Confirm</button>
        <button type="button" onClick=${() => setOpen(null)}>Cancel</button>
      </div>
    </form>`
    }
    ${answer && html`<p role="status" class=${answer.warn ? 'answer warn' : answer.ok ? 'answer ok' : 'answer error'} data-testid="answer">${answer.text}</p>`}
  </section>`;
}
