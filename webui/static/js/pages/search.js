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

export function renderSearch(main, _segments, params, { signal }) {
  const q = params.get('q') || '';
  const input = el('input', {
    id: 'q', name: 'q', type: 'search', value: q, required: true, autocomplete: 'off', spellcheck: 'false',
    placeholder: 'token id, fingerprint, subject or IP address',
  });
  const form = el('form', { class: 'search', role: 'search' },
    el('label', { for: 'q', text: 'Search' }), input, el('button', { type: 'submit', text: 'Search' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    location.hash = route('', { q: input.value.trim() });
  });
  const results = el('div', { id: 'results', 'aria-live': 'polite' });
  main.append(el('h1', { text: 'Search' }), form, results);
  input.focus();
  if (!q) return;

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
