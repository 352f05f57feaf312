// Logs: a live tail of the service's instances (or one of them, a crashed one too), with
// follow (stick to the bottom), pause (stop reading) and search.
import { useEffect, useRef, useState } from '/ui/vendor/hooks.mjs';
import { api, servicePath } from '../api.js';
import { setQuery, useLive } from '../hooks.js';
import { html } from '../html.js';
import { store } from '../live.js';

const MAX_LINES = 5000;

function useTail(name, instance, paused) {
  const [lines, setLines] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    if (paused) return undefined;
    const ctl = new AbortController();
    setLines([]);
    setError('');
    const q = new URLSearchParams({ follow: '1', tail: '500' });
    if (instance) q.set('instance', instance);
    (async () => {
      const res = await fetch(`${servicePath(name, '/logs')}?${q}`, {
        signal: ctl.signal,
        credentials: 'same-origin',
      });
      if (!res.ok) {
        const doc = await res.json().catch(() => ({}));
        setError(doc.error?.message ?? `HTTP ${res.status}`);
        return;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = (rest + value).split('\n');
        rest = parts.pop();
        if (parts.length) setLines((old) => old.concat(parts).slice(-MAX_LINES));
      }
    })().catch((e) => {
      if (e.name !== 'AbortError') setError(e.message);
    });
    return () => ctl.abort();
  }, [name, instance, paused]);
  return { lines, error };
}

export function Logs({ name, query }) {
  useLive();
  const instance = query.get('instance') ?? '';
  const [search, setSearch] = useState('');
  const [paused, setPaused] = useState(false);
  const [follow, setFollow] = useState(true);
  const { lines, error } = useTail(name, instance, paused);
  const box = useRef(null);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  });
  const [files, setFiles] = useState([]);
  const live = (store.services.get(name)?.instances ?? []).map((i) => i.id).join(',');
  useEffect(() => {
    api('GET', servicePath(name, '/logs/files')).then(
      (d) => setFiles(d.files),
      () => {},
    );
  }, [name, live]);
  const ids = files.map((f) => ({ id: f.instance, label: f.live ? f.instance : `${f.instance} (stopped)` }));
  if (instance && !ids.some((i) => i.id === instance)) ids.push({ id: instance, label: instance });
  const pick = (v) => {
    const q = new URLSearchParams(query);
    if (v) q.set('instance', v);
    else q.delete('instance');
    setQuery(q);
    dispatchEvent(new HashChangeEvent('hashchange'));
  };
  const shown = search ? lines.filter((l) => l.toLowerCase().includes(search.toLowerCase())) : lines;
  return html`<section aria-labelledby="h-logs">
    <h1 id="h-logs">Logs of ${name}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <label>Instance <select value=${instance} onChange=${(e) => pick(e.currentTarget.value)}>
        <option value="">all live instances</option>${ids.map((i) => html`<option value=${i.id}>${i.label}</option>`)}</select></label>
      <label>Search <input type="search" value=${search} onInput=${(e) => setSearch(e.currentTarget.value)} /></label>
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.currentTarget.checked)} /> Follow</label>
      <button type="button" onClick=${() => setPaused(!paused)} aria-pressed=${paused}>${paused ? 'Resume' : 'Pause'}</button>
    </form>
    ${error && html`<p class="answer error" role="alert">${error}</p>`}
    <pre class="logs" ref=${box} tabindex="0" aria-label="Log lines" aria-live="off">${shown.map((l) => html`<div class="line">${l}</div>`)}</pre>
  </section>`;
}
