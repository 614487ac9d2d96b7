// The search page: one box for a token id, fingerprint, subject or IP.

import { api, query } from '../api.js';
import { el, errorBox, route, table } from '../dom.js';
import * as fmt from '../format.js';
import { findToken, fingerprint } from '../jwt.js';

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

// searchFor puts the search for text in the address. When text contains a raw
// token anywhere, only the token's fingerprint is searched, and no part of
// the text goes into the address, the history or a request.
async function searchFor(text, replace, results) {
  let q = text.trim();
  const token = findToken(q);
  if (token) {
    q = await fingerprint(token);
    if (!q) {
      results.replaceChildren(el('p', { class: 'error', text:
        'That text contains a raw token, which this page does not send or keep, and this browser cannot fingerprint it here. ' +
        'Search by its jti, or by the fingerprint that tokentrail investigate --token-file - prints.' }));
      // replaceState fires no hashchange, so the message stays.
      if (replace) history.replaceState(null, '', route(''));
      return;
    }
  }
  const hash = route('', { q });
  if (replace) location.replace(hash);
  else location.hash = hash;
}

// RECENT_ANOMALIES is how many of the newest anomalies the empty page reads
// to suggest tokens and subjects, and RECENT_SHOWN how many of each it shows.
const RECENT_ANOMALIES = 50;
const RECENT_SHOWN = 5;

// renderStart returns what the empty search page shows: what the box takes,
// and the tokens and subjects of the newest anomalies. The API lists no
// recent tokens as such, and GET /api/v1/anomalies without a filter is open
// to every read key and lists the newest first.
function renderStart(signal) {
  const recent = el('div', { id: 'recent' });
  const start = el('div', { class: 'start' },
    el('p', { class: 'muted', text: 'Search for any of:' }),
    el('ul', { class: 'hint' },
      el('li', { text: 'a token id (the jti claim), such as tok-8f2c1a' }),
      el('li', { text: 'a fingerprint: the SHA-256 of the compact token in 64 hex digits, as tokentrail investigate --token-file - prints it' }),
      el('li', { text: 'a subject (the sub claim), such as alice@example.com' }),
      el('li', { text: 'an IPv4 or IPv6 address of a client' }),
      el('li', { text: 'a raw token, or a log line or header that contains one: the page searches for its fingerprint and never sends or keeps the token' })),
    recent);

  api('anomalies' + query({ limit: RECENT_ANOMALIES }), { signal }).then((data) => {
    const anomalies = (data && data.anomalies) || [];
    const tokens = distinct(anomalies.map((a) => a.token_id)).slice(0, RECENT_SHOWN);
    const subjects = distinct(anomalies.map((a) => a.subject)).slice(0, RECENT_SHOWN);
    if (!tokens.length && !subjects.length) {
      recent.append(el('p', { class: 'muted', text: 'No anomaly is stored yet, so there is nothing recent to suggest.' }));
      return;
    }
    recent.append(el('h2', { text: 'Recently flagged' }),
      el('p', { class: 'muted', text: 'Tokens and subjects of the newest anomalies, newest first.' }),
      suggestionList('Tokens', tokens.map((id) => el('a', { href: route('token', id), class: 'recent-token', text: id }))),
      suggestionList('Subjects', subjects.map((s) => el('a', { href: route('subject', s), class: 'recent-subject', text: s }))));
  }).catch((err) => {
    if (signal.aborted) return;
    recent.append(el('p', { class: 'muted', text: 'The recent anomalies could not be read, so there are no suggestions: ' + err.message }));
  });
  return start;
}

function distinct(values) {
  return [...new Set(values.filter(Boolean))];
}

function suggestionList(title, links) {
  if (!links.length) return null;
  return el('div', { class: 'recent' }, el('h3', { text: title }), el('ul', {}, links.map((a) => el('li', {}, a))));
}

export function renderSearch(main, _segments, params, { signal }) {
  const q = params.get('q') || '';
  // An address that contains a raw token, such as a pasted link, never puts
  // it into the box, not even as its value attribute.
  const linkedToken = findToken(q) !== '';
  const input = el('input', {
    id: 'q', name: 'q', type: 'search', value: linkedToken ? '' : q, required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'token id, fingerprint, subject or IP address',
  });
  const form = el('form', { class: 'search', role: 'search' },
    el('label', { for: 'q', text: 'Search' }), input, el('button', { type: 'submit', text: 'Search' }));
  const results = el('div', { id: 'results', 'aria-live': 'polite' });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = input.value;
    if (findToken(text)) input.value = '';
    searchFor(text, false, results);
  });
  main.append(el('h1', { text: 'Search' }), form, results);
  input.focus();
  if (!q) {
    results.append(renderStart(signal));
    return;
  }
  if (linkedToken) {
    // The address is replaced in the history by one with the fingerprint.
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
