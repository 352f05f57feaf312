// Live state: service statuses and events from /v1/stream (server-sent events; resumed after the
// last event id), traffic rates polled from /v1/traffic each second. Both stop while the tab is
// hidden and resume when it shows again. Views subscribe and re-render at most once per frame.
import { api } from './api.js';

const POINTS = 90;
const POLL_MS = 1000;

export const store = {
  services: new Map(),
  events: [],
  traffic: {},
  /** `${service}/${revision}` -> { t, rps, err, p50, p99, role, version } arrays */
  series: new Map(),
  /** `${service}/${analysis kind}/${metric}` -> { t, value, baseline } arrays, one point per verdict */
  verdicts: new Map(),
  connected: false,
};

const listeners = new Set();
let frame = 0;

export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function changed() {
  if (frame) return;
  const run = () => {
    frame = 0;
    for (const l of listeners) l();
  };
  frame = document.hidden ? setTimeout(run, 0) : requestAnimationFrame(run);
}

let source;
let lastId = 0;
let poller;
let running = false;
let onSignedOut = () => {};

function connect() {
  const url = lastId > 0 ? `/v1/stream?lastEventId=${lastId}` : '/v1/stream';
  source = new EventSource(url);
  source.addEventListener('open', () => {
    store.connected = true;
    changed();
  });
  source.addEventListener('status', (m) => {
    const s = JSON.parse(m.data);
    store.services.set(s.name, s);
    recordVerdicts(s);
    changed();
  });
  source.addEventListener('removed', (m) => {
    store.services.delete(JSON.parse(m.data).name);
    changed();
  });
  source.addEventListener('event', (m) => {
    const e = JSON.parse(m.data);
    lastId = Math.max(lastId, Number(m.lastEventId) || e.id || 0);
    store.events.push(e);
    if (store.events.length > 1000) store.events.splice(0, store.events.length - 1000);
    changed();
  });
  source.addEventListener('error', () => {
    store.connected = false;
    changed();
    // EventSource retries by itself (with Last-Event-ID) unless the server refused it outright.
    if (source.readyState === EventSource.CLOSED) {
      api('GET', '/v1/session')
        .then((s) =>
          s.signedIn ? setTimeout(() => running && !document.hidden && reopen(), 1000) : onSignedOut(),
        )
        .catch(() => setTimeout(() => running && !document.hidden && reopen(), 2000));
    }
  });
}

function recordVerdicts(s) {
  for (const a of s.analysis ?? []) {
    for (const m of a.metrics) {
      if (typeof m.value !== 'number' || !m.at) continue;
      const key = `${s.name}/${a.kind}/${m.name}`;
      let v = store.verdicts.get(key);
      if (!v) {
        v = { t: [], value: [], baseline: [] };
        store.verdicts.set(key, v);
      }
      const t = m.at / 1000;
      if (v.t.at(-1) === t) continue;
      v.t.push(t);
      v.value.push(m.value);
      v.baseline.push(m.baseline ?? null);
      if (v.t.length > POINTS) for (const k of ['t', 'value', 'baseline']) v[k].shift();
    }
  }
}

function reopen() {
  source?.close();
  connect();
}

function record(at, services) {
  store.traffic = services;
  const t = at / 1000;
  for (const [name, s] of Object.entries(services)) {
    for (const r of s.revisions) {
      const key = `${name}/${r.revision}`;
      let ser = store.series.get(key);
      if (!ser) {
        ser = { t: [], rps: [], err: [], p50: [], p99: [] };
        store.series.set(key, ser);
      }
      if (ser.t.at(-1) === t) continue;
      ser.t.push(t);
      ser.rps.push(r.rps);
      ser.err.push(r.errorRate === null ? null : r.errorRate * 100);
      ser.p50.push(r.p50Ms);
      ser.p99.push(r.p99Ms);
      ser.role = r.role;
      ser.version = r.version;
      if (ser.t.length > POINTS) for (const k of ['t', 'rps', 'err', 'p50', 'p99']) ser[k].shift();
    }
  }
  changed();
}

async function poll() {
  try {
    const doc = await api('GET', '/v1/traffic');
    record(doc.at, doc.services);
  } catch {
    // the gateway may be restarting; the next poll tries again
  }
  if (running && !document.hidden) poller = setTimeout(poll, POLL_MS);
}

function resume() {
  if (!running) return;
  if (document.hidden) {
    source?.close();
    source = undefined;
    clearTimeout(poller);
    store.connected = false;
    return;
  }
  if (!source) connect();
  clearTimeout(poller);
  poll();
}

export function startLive(signedOut) {
  onSignedOut = signedOut;
  running = true;
  document.addEventListener('visibilitychange', resume);
  resume();
}

export function stopLive() {
  running = false;
  document.removeEventListener('visibilitychange', resume);
  source?.close();
  source = undefined;
  clearTimeout(poller);
  store.services.clear();
  store.events = [];
  store.series.clear();
  store.verdicts.clear();
  lastId = 0;
}
