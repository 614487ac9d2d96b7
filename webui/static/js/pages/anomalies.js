// The live list of anomalies: the newest on load, then every anomaly the
// server stores later, polled every few seconds while the page is open.

import { api, query } from '../api.js';
import { el, errorBox, link } from '../dom.js';
import * as fmt from '../format.js';

const POLL_MS = 5000;
const PAGE = 50;
const MAX_ROWS = 500; // older rows drop off so that a page left open stays small
const MAX_PAGES = 10; // pages of new anomalies read by one poll

const FILTERS = ['severity', 'rule', 'subject', 'token', 'network', 'asn'];

// describe names a filter as the server applies it: severity is a minimum.
function describe(name, value) {
  return name === 'severity' ? `severity ${value} or higher` : `${name} ${value}`;
}

export function renderAnomalies(main, _segments, params, { signal }) {
  const filters = {};
  for (const f of FILTERS) if (params.get(f)) filters[f] = params.get(f);
  const described = Object.entries(filters).map(([k, v]) => describe(k, v)).join(', ');

  const state = el('p', { id: 'live-state', class: 'muted', 'aria-live': 'polite', text: 'Loading…' });
  const notice = el('p', { id: 'live-notice', role: 'status', hidden: true });
  const rows = el('tbody', { id: 'live-rows' });
  main.append(el('h1', { text: 'Live anomalies' }));
  if (described) main.append(el('p', { text: 'Only anomalies with ' + described + '.' }));
  main.append(
    el('p', { class: 'muted', text: 'On load, the newest anomalies come first. Each anomaly stored later goes on top, '
      + 'in the order the server stores them, so one raised over events imported late shows an older time than the rows below it.' }),
    state,
    notice,
    el('div', { class: 'scroll' }, el('table', { class: 'live' },
      el('thead', {}, el('tr', {}, ['Time', 'Severity', 'Rule', 'Token', 'Subject', 'Address', 'Summary'].map((h) => el('th', { scope: 'col', text: h })))),
      rows)));

  // position is the server's position in its order of storage after the
  // last read. A poll requests the anomalies stored after it, whatever
  // their time, so none is missed. shown contains the ids of the rows,
  // because the first poll may repeat an anomaly of the first page.
  let position = 0;
  let loaded = false;
  const shown = new Set();
  let timer = 0;

  function row(a, fresh) {
    return el('tr', { class: (fresh ? 'new ' : '') + 'severity-' + a.severity, 'data-id': a.id },
      el('td', { text: fmt.time(a.time) }),
      el('td', {}, el('span', { class: 'severity', text: a.severity })),
      el('td', { text: a.rule }),
      el('td', {}, a.token_id ? link(a.token_id, 'token', a.token_id) : ''),
      el('td', {}, a.subject ? link(a.subject, 'subject', a.subject) : ''),
      el('td', { text: a.ip || '' }),
      el('td', { text: a.summary }));
  }

  // addRows puts the anomalies not shown yet on the page: below the rows
  // for the first page (newest first), and on top for a poll's page (in the
  // order of storage, so the last stored ends on top).
  function addRows(list, fresh) {
    let added = 0;
    for (const a of list) {
      if (shown.has(a.id)) continue;
      shown.add(a.id);
      if (fresh) rows.prepend(row(a, true));
      else rows.append(row(a, false));
      added++;
    }
    while (rows.children.length > MAX_ROWS) {
      shown.delete(rows.lastChild.dataset.id);
      rows.lastChild.remove();
    }
    return added;
  }

  async function poll(first) {
    try {
      let added = 0;
      if (first) {
        const data = await api('anomalies' + query({ ...filters, limit: PAGE }), { signal });
        addRows((data && data.anomalies) || [], false);
        position = (data && data.next) || 0;
        loaded = true;
      } else {
        for (let page = 0; page < MAX_PAGES; page++) {
          const data = await api('anomalies' + query({ ...filters, after: position, limit: PAGE }), { signal });
          const list = (data && data.anomalies) || [];
          added += addRows(list, true);
          position = (data && data.next) || position;
          if (list.length < PAGE) break; // a full page means more may be stored after it
        }
      }
      const stamp = fmt.time(new Date().toISOString());
      state.textContent = first
        ? `${fmt.count(rows.children.length, 'anomaly', 'anomalies')}; checking every ${POLL_MS / 1000} s (last check ${stamp}).`
        : `${fmt.count(added, 'new anomaly', 'new anomalies')} at the last check (${stamp}); checking every ${POLL_MS / 1000} s.`;
      state.classList.remove('error');
    } catch (err) {
      if (signal.aborted) return;
      if (err.code === 'position_past_end') {
        // The server's store was rebuilt or replaced since position was
        // read, so the rows shown may not be in it: load its newest page.
        // A first load sends no after, so this cannot repeat.
        rows.replaceChildren();
        shown.clear();
        loaded = false;
        notice.textContent = 'The server\'s anomaly store was rebuilt or replaced, so the list was loaded again from it.';
        notice.hidden = false;
        poll(true);
        return;
      }
      state.replaceChildren(errorBox(err));
      if (err.status === 401 || err.status === 403) return; // polling again would fail the same way
    }
    // Until the first page has loaded there is no position to poll from,
    // and position 0 would list every anomaly ever stored as new.
    if (!signal.aborted) timer = setTimeout(() => poll(!loaded), POLL_MS);
  }
  poll(true);

  return () => clearTimeout(timer);
}
