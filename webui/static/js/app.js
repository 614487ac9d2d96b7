// The router: maps the location's hash (#/token/ID, #/incident?...) to a
// page, and prompts for the API key first when none is stored.

import { api, clearKey, getKey, setKey } from './api.js';
import { clear, el, errorBox } from './dom.js';
import { renderSearch } from './pages/search.js';
import { renderToken } from './pages/token.js';
import { renderSubject } from './pages/subject.js';
import { renderIncident } from './pages/incident.js';
import { renderAnomalies } from './pages/anomalies.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const timeNote = document.getElementById('time-note');
const roleLabel = document.getElementById('role');

const routes = {
  '': renderSearch,
  token: renderToken,
  subject: renderSubject,
  incident: renderIncident,
  anomalies: renderAnomalies,
};

// session is what the pages share: the key's role, learned once per key.
const session = { role: '' };
let stopPage = null;
let keyMessage = '';
let renderCount = 0; // a render that awaited is dropped when a newer one began

// parseHash splits "#/token/abc?x=1" into ["token", "abc"] and its params.
function parseHash() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, search] = hash.split('?', 2);
  const segments = path.split('/').filter(Boolean).map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { segments, params: new URLSearchParams(search || '') };
}

// learnRole reads the key's roles from GET /api/v1/key and returns them
// with what the key may do in this UI. That role is 'admin', 'revoke' (read
// and revoke), 'read', or 'none' for a key that cannot read, such as an
// ingest key. An admin key may do everything the other roles allow.
async function learnRole() {
  const roles = (await api('key')).roles || [];
  let role = 'read';
  if (roles.includes('admin')) role = 'admin';
  else if (!roles.includes('read')) role = 'none';
  else if (roles.includes('revoke')) role = 'revoke';
  return { role, roles };
}

const roleLabels = {
  admin: 'admin key',
  revoke: 'read + revoke key',
  read: 'read key',
};

// unreadableKeyMessage explains why a key without the read role cannot use
// the UI, naming the roles it has.
function unreadableKeyMessage(roles) {
  const names = roles.length > 1 ? roles.slice(0, -1).join(', ') + ' and ' + roles[roles.length - 1] : roles[0];
  const has = roles.length ? `the ${names} role${roles.length === 1 ? '' : 's'}` : 'no role';
  return `This key has ${has}, but every page of the web UI needs the read role (or admin). ` +
    'Enter a key with the read role, or create one with: tokentrail keys create --name NAME --role read';
}

async function render() {
  const current = ++renderCount;
  if (stopPage) {
    stopPage();
    stopPage = null;
  }
  clear(main);

  if (!getKey()) {
    nav.hidden = true;
    timeNote.hidden = true;
    renderKeyPrompt();
    return;
  }
  if (!session.role) {
    try {
      const { role, roles } = await learnRole();
      if (current !== renderCount) return;
      if (role === 'none') {
        clearKey();
        keyMessage = unreadableKeyMessage(roles);
        nav.hidden = true;
        timeNote.hidden = true;
        renderKeyPrompt();
        return;
      }
      session.role = role;
    } catch (err) {
      if (err.status === 401 || current !== renderCount) return; // the unauthenticated listener shows the key prompt again
      main.append(errorBox(err));
      return;
    }
  }
  nav.hidden = false;
  timeNote.hidden = false;
  roleLabel.textContent = roleLabels[session.role];

  const { segments, params } = parseHash();
  const page = routes[segments[0] || ''];
  if (!page) {
    main.append(el('h1', { text: 'Not found' }), el('p', { text: 'No page is at this address.' }));
    return;
  }
  // Aborting the controller cancels the page's requests and timers when
  // the user moves on, so a late response never draws over the next page.
  const controller = new AbortController();
  const canRevoke = session.role === 'admin' || session.role === 'revoke';
  const cleanup = page(main, segments.slice(1), params, { canRevoke, signal: controller.signal });
  stopPage = () => {
    controller.abort();
    if (typeof cleanup === 'function') cleanup();
  };
  main.focus({ preventScroll: true });
}

function renderKeyPrompt() {
  const input = el('input', {
    // No name attribute: a form submitted without the script sends no key.
    id: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false',
  });
  const form = el('form', { class: 'key-form' },
    el('h1', { text: 'API key' }),
    el('p', { text: 'Enter an API key with the read role; a key that also has the revoke or admin role may revoke tokens. The key stays in this browser tab only, until you close it or choose Forget key.' }),
    keyMessage ? el('p', { class: 'error', role: 'alert', text: keyMessage }) : null,
    el('label', { for: 'api-key', text: 'Key' }),
    input,
    el('button', { type: 'submit', text: 'Continue' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    setKey(key);
    keyMessage = '';
    session.role = '';
    render();
  });
  main.append(form);
  input.focus();
}

window.addEventListener('tokentrail:unauthenticated', () => {
  clearKey();
  session.role = '';
  keyMessage = 'The server rejected the key (unauthenticated): enter a valid key.';
  render();
});

document.getElementById('sign-out').addEventListener('click', () => {
  clearKey();
  session.role = '';
  keyMessage = '';
  render();
});

window.addEventListener('hashchange', render);
render();
