import { useEffect, useState } from '/ui/vendor/hooks.mjs';
import { subscribe } from './live.js';

/** Re-renders the calling component whenever the live store changes. */
export function useLive() {
  const [, setTick] = useState(0);
  useEffect(() => subscribe(() => setTick((n) => n + 1)), []);
}

/** The hash route: `#/path?query` -> { parts, query }; follows hash changes. */
export function useRoute() {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return parseRoute(hash);
}

export function parseRoute(hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const [p, q = ''] = raw.split('?');
  return { parts: p.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(q) };
}

/** Replaces the query of the current hash route (filters kept in the URL, no history entry). */
export function setQuery(query) {
  const [p] = (location.hash.replace(/^#/, '') || '/').split('?');
  const q = query.toString();
  history.replaceState(null, '', `#${p}${q ? `?${q}` : ''}`);
}
