// The dashboard shell: session check, navigation and the hash router.
import { useEffect, useState } from '/ui/vendor/hooks.mjs';
import { render } from '/ui/vendor/preact.mjs';
import { api, setCsrf } from './api.js';
import { useLive, useRoute } from './hooks.js';
import { html } from './html.js';
import { startLive, stopLive, store } from './live.js';
import { Audit } from './views/audit.js';
import { History } from './views/history.js';
import { Logs } from './views/logs.js';
import { Service } from './views/service.js';
import { Services } from './views/services.js';
import { SignIn } from './views/signin.js';

function Page({ who }) {
  const { parts, query } = useRoute();
  if (parts[0] === 'service' && parts[1]) {
    if (parts[2] === 'history') return html`<${History} name=${parts[1]} />`;
    if (parts[2] === 'logs') return html`<${Logs} name=${parts[1]} query=${query} />`;
    return html`<${Service} name=${parts[1]} who=${who} />`;
  }
  if (parts[0] === 'audit' && who.role === 'admin') return html`<${Audit} />`;
  return html`<${Services} query=${query} />`;
}

function Connection() {
  useLive();
  return html`<span class=${store.connected ? 'conn on' : 'conn off'} role="status">${store.connected ? 'live' : 'reconnecting…'}</span>`;
}

function Shell({ who, onSignOut }) {
  return html`<header>
      <a class="brand" href="#/">Cutover</a>
      <nav aria-label="Main"><a href="#/">Services</a>${who.role === 'admin' && html` <a href="#/audit">Audit</a>`}</nav>
      <${Connection} />
      <span class="who" data-testid="who">${who.name} (${who.role})</span>
      <button type="button" onClick=${onSignOut}>Sign out</button>
    </header>
    <main><${Page} who=${who} /></main>`;
}

function App() {
  const [who, setWho] = useState(undefined);
  const signedIn = (s) => {
    setCsrf(s.csrf);
    setWho(s);
  };
  const signedOut = () => {
    stopLive();
    setCsrf('');
    setWho(null);
  };
  useEffect(() => {
    api('GET', '/v1/session').then(
      (s) => (s.signedIn ? signedIn(s) : setWho(null)),
      () => setWho(null),
    );
  }, []);
  useEffect(() => {
    if (who) startLive(signedOut);
    return undefined;
  }, [who?.name, who?.csrf]);
  if (who === undefined) return html`<p class="muted">Loading…</p>`;
  if (who === null) return html`<${SignIn} onSignedIn=${signedIn} />`;
  const signOut = async () => {
    await api('DELETE', '/v1/session').catch(() => {});
    signedOut();
  };
  return html`<${Shell} who=${who} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById('app'));
