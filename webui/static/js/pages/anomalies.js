// The live list of anomalies: the newest on load, then whatever the server
// stores later, polled every few seconds while the page is open.

import { api, query } from '../api.js';
import { el, errorBox, link } from '../dom.js';
import * as fmt from '../format.js';

const POLL_MS = 5000;
const PAGE = 50;
const MAX_ROWS = 500; // older rows drop off so that a page left open stays small
const MAX_PAGES = 10; // pages of new anomalies read by one poll

const FILTERS = ['severity', 'rule', 'subject', 'token', 'network', 'asn'];

export function renderAnomalies(main, _segments, params, { signal }) {
  const filters = {};
  for (const f of FILTERS) if (params.get(f)) filters[f] = params.get(f);
  const described = Object.entries(filters).map(([k, v]) => `${k} ${v}`).join(', ');

  const state = el('p', { id: 'live-state', class: 'muted', 'aria-live': 'polite', text: 'Loading…' });
  const rows = el('tbody', { id: 'live-rows' });
  main.append(el('h1', { text: 'Live anomalies' }));
  if (described) main.append(el('p', { text: 'Only anomalies with ' + described + '.' }));
  main.append(
    state,
    el('div', { class: 'scroll' }, el('table', { class: 'live' },
      el('thead', {}, el('tr', {}, ['Time', 'Severity', 'Rule', 'Token', 'Subject', 'Address', 'Summary'].map((h) => el('th', { scope: 'col', text: h })))),
      rows)));

  const seen = new Set();
  // since is the time of the newest anomaly shown. The server filters on
  // the anomaly's time (event time), so the poll requests from there on and
  // drops the ids it has shown already.
  // NOTE: an anomaly whose time is older than the newest one shown, such
  // as one raised over events imported late, is not picked up by the poll.
  let since = '';
  let timer = 0;

  function addRows(list, fresh) {
    const ordered = list.filter((a) => !seen.has(a.id)).sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    for (const a of ordered.reverse()) { // oldest first, each put on top
      seen.add(a.id);
      if (!since || Date.parse(a.time) > Date.parse(since)) since = a.time;
      rows.prepend(el('tr', { class: (fresh ? 'new ' : '') + 'severity-' + a.severity, 'data-id': a.id },
        el('td', { text: fmt.time(a.time) }),
        el('td', {}, el('span', { class: 'severity', text: a.severity })),
        el('td', { text: a.rule }),
        el('td', {}, a.token_id ? link(a.token_id, 'token', a.token_id) : ''),
        el('td', {}, a.subject ? link(a.subject, 'subject', a.subject) : ''),
        el('td', { text: a.ip || '' }),
        el('td', { text: a.summary })));
    }
    while (rows.children.length > MAX_ROWS) rows.lastChild.remove();
    return ordered.length;
  }

  async function poll(first) {
    try {
      let added = 0;
      let cursor = '';
      for (let page = 0; page < (first ? 1 : MAX_PAGES); page++) {
        const data = await api('anomalies' + query({ ...filters, since: first ? '' : since, limit: PAGE, cursor }), { signal });
        added += addRows((data && data.anomalies) || [], !first);
        cursor = (data && data.next_cursor) || '';
        if (!cursor) break;
      }
      const stamp = new Date().toISOString().slice(11, 19);
      state.textContent = first
        ? `${fmt.count(rows.children.length, 'anomaly', 'anomalies')}, newest first; checking every ${POLL_MS / 1000} s (last check ${stamp} UTC).`
        : `${fmt.count(added, 'new anomaly', 'new anomalies')} at the last check (${stamp} UTC); checking every ${POLL_MS / 1000} s.`;
      state.classList.remove('error');
    } catch (err) {
      if (signal.aborted) return;
      state.replaceChildren(errorBox(err));
      if (err.status === 401 || err.status === 403) return; // polling again would fail the same way
    }
    if (!signal.aborted) timer = setTimeout(() => poll(false), POLL_MS);
  }
  poll(true);

  return () => clearTimeout(timer);
}
