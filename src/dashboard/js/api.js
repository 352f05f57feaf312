// The control API as the page uses it: same-origin fetch with the session cookie, and the
// session's CSRF token on every request that changes something.
let csrf = '';

export function setCsrf(token) {
  csrf = token ?? '';
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; resolves with the JSON body, rejects with ApiError carrying the server's message. */
export async function api(method, path, body) {
  const headers = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrf;
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let doc;
  try {
    doc = text ? JSON.parse(text) : {};
  } catch {
    doc = { error: { code: 'bad_response', message: text.slice(0, 200) } };
  }
  if (!res.ok) {
    const e = doc.error ?? {};
    throw new ApiError(res.status, e.code ?? 'error', e.message ?? `HTTP ${res.status}`);
  }
  return doc;
}

export const servicePath = (name, rest = '') => `/v1/services/${encodeURIComponent(name)}${rest}`;
