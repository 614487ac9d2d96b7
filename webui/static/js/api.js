// The client of the server's /api/v1 routes. The API key lives in
// sessionStorage, so it lasts as long as the browser tab and no longer.

const KEY_NAME = 'tokentrail.apiKey';

export function getKey() {
  return sessionStorage.getItem(KEY_NAME) || '';
}

export function setKey(key) {
  sessionStorage.setItem(KEY_NAME, key);
}

export function clearKey() {
  sessionStorage.removeItem(KEY_NAME);
}

// APIError is a failed request: status is the HTTP status, code the
// server's stable error code.
export class APIError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// api sends one request with the Bearer key and returns the decoded JSON
// body. It throws an APIError for any status other than 2xx, and dispatches a
// "tokentrail:unauthenticated" event on window for 401.
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json', Authorization: 'Bearer ' + getKey() };
  const init = { method, headers, signal, cache: 'no-store', credentials: 'omit' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let response;
  try {
    response = await fetch('/api/v1/' + path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError(0, 'unavailable', 'the server did not respond: ' + err.message);
  }

  let data = null;
  const text = await response.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new APIError(response.status, 'bad_response', `the server responded ${response.status} with a body that is not JSON`);
    }
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401) window.dispatchEvent(new CustomEvent('tokentrail:unauthenticated'));
    throw new APIError(response.status, error.code || 'http_' + response.status, error.message || response.statusText);
  }
  return data;
}

// query builds a query string from an object, leaving out empty values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}
