// The search page: one box for a token id, fingerprint, subject or IP.

import { api, query } from '../api.js';
import { el, errorBox, route, table } from '../dom.js';
import * as fmt from '../format.js';

// resultLink returns where a search result leads: tokens and fingerprints
// to the token page, subjects to their tokens, addresses to the
// anomalies raised in that address.
function resultLink(r) {
  switch (r.kind) {
    case 'token':
    case 'fingerprint':
      return route('token', r.value);
    case 'subject':
      return route('subject', r.value);
    case 'ip':
      return route('anomalies', { network: r.value.includes(':') ? r.value + '/128' : r.value + '/32' });
    default:
      return null;
  }
}

// rawToken returns the compact JWT that text contains, with any "Bearer "
// prefix taken off, or '' when text is not one.
function rawToken(text) {
  const token = text.trim().replace(/^bearer\s+/i, '');
  return /^e[yw][A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){2,4}$/.test(token) ? token : '';
}

// fingerprint returns the token's SHA-256 in hex, as tokentrail stores it,
// or '' where the browser offers no digest (a page served over plain HTTP
// from an address other than loopback).
async function fingerprint(token) {
  if (!globalThis.crypto || !crypto.subtle) return '';
  const sum = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(token));
  return Array.from(new Uint8Array(sum), (b) => b.toString(16).padStart(2, '0')).join('');
}

// searchFor puts the search for text in the address. A raw token never goes
// there, nor into the history: its fingerprint is searched instead.
async function searchFor(text, replace, results) {
  let q = text.trim();
  const token = rawToken(q);
  if (token) {
    q = await fingerprint(token);
    if (!q) {
      results.replaceChildren(el('p', { class: 'error', text:
        'That is a raw token, which this page does not send or keep, and this browser cannot fingerprint it here. ' +
        'Search by its jti, or by the fingerprint that tokentrail investigate --token-file - prints.' }));
      return;
    }
  }
  const hash = route('', { q });
  if (replace) location.replace(hash);
  else location.hash = hash;
}

export function renderSearch(main, _segments, params, { signal }) {
  const q = params.get('q') || '';
  const input = el('input', {
    id: 'q', name: 'q', type: 'search', value: q, required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'token id, fingerprint, subject or IP address',
  });
  const form = el('form', { class: 'search', role: 'search' },
    el('label', { for: 'q', text: 'Search' }), input, el('button', { type: 'submit', text: 'Search' }));
  const results = el('div', { id: 'results', 'aria-live': 'polite' });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (rawToken(text)) input.value = '';
    searchFor(text, false, results);
  });
  main.append(el('h1', { text: 'Search' }), form, results);
  input.focus();
  if (!q) return;
  if (rawToken(q)) {
    // An address that contains a raw token, such as a pasted link, is
    // replaced in the history by one with the fingerprint.
    input.value = '';
    searchFor(q, true, results);
    return;
  }

  results.append(el('p', { class: 'muted', text: 'Searching…' }));
  api('search' + query({ q }), { signal }).then((data) => {
    const found = (data && data.results) || [];
    results.replaceChildren(
      el('p', { class: 'muted', text: found.length ? `${fmt.count(found.length, 'result')} for “${q}”` : `Nothing matches “${q}”.` }));
    if (!found.length) return;
    results.append(table(['Kind', 'Value', 'Details', 'Last seen'], found.map((r) => {
      const href = resultLink(r);
      return [
        r.kind,
        href ? el('a', { href, class: 'result', text: r.value }) : r.value,
        r.label || '',
        fmt.time(r.last_seen),
      ];
    }), { class: 'results' }));
  }).catch((err) => {
    if (!signal.aborted) results.replaceChildren(errorBox(err));
  });
}
