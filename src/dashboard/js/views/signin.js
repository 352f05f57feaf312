import { useState } from '/ui/vendor/hooks.mjs';
import { api } from '../api.js';
import { html } from '../html.js';

/** Sign-in with a Cutover API token (viewer, deployer or admin); the server answers a session cookie. */
export function SignIn({ onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const submit = async (e) => {
    e.preventDefault();
    setError('');
    try {
      onSignedIn(await api('POST', '/v1/session', { token }));
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<main class="signin">
    <h1>Cutover</h1>
    <form onSubmit=${submit}>
      <label for="token">API token</label>
      <input id="token" name="token" type="password" autocomplete="off" required value=${token}
        onInput=${(e) => setToken(e.currentTarget.value)} />
      <p class="muted">A token from <code>cutover token create</code>, or the local admin token in <code>&lt;dataDir&gt;/admin.token</code>.</p>
      <button type="submit">Sign in</button>
      ${error && html`<p class="answer error" role="alert">${error}</p>`}
    </form>
  </main>`;
}
