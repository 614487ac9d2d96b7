// The token page: status, creation, usage chart and map, anomalies,
// lineage, timeline, and the revoke button for keys that may revoke.

import { api, query } from '../api.js';
import { clear, definitions, el, errorBox, link, section, table } from '../dom.js';
import * as fmt from '../format.js';
import { hourlyChart } from '../chart.js';
import { usageMap } from '../map.js';

const MAX_RELATED = 20; // the strongest links; the CLI's related --limit lists more

export function renderToken(main, segments, _params, ctx) {
  const id = segments[0] || '';
  const body = el('div', {}, el('p', { class: 'muted', text: 'Loading…' }));
  main.append(body);

  const load = () => api('tokens/' + encodeURIComponent(id), { signal: ctx.signal }).then((report) => {
    clear(body).append(...tokenPage(report, id, ctx, load).filter(Boolean));
  }).catch((err) => {
    if (!ctx.signal.aborted) clear(body).append(el('h1', { text: 'Token ' + id }), errorBox(err));
  });
  load();
}

function tokenPage(r, id, ctx, reload) {
  const anomalies = r.anomalies || [];
  const events = r.events || [];
  const name = r.token_id || r.fingerprint || id;

  const heading = el('div', { class: 'page-head' },
    el('h1', {}, 'Token ', el('span', { class: 'mono', text: name })),
    el('span', { id: 'token-status', class: 'status status-' + r.status, text: r.status }));
  if (ctx.canRevoke && r.status !== 'revoked') heading.append(revokeButton(r, reload));

  return [
    heading,
    el('p', { class: 'status-reason', text: r.status_reason }),
    (r.notes || []).length ? el('ul', { class: 'notes' }, r.notes.map((n) => el('li', { text: n }))) : null,
    el('div', { class: 'grid' },
      section('Created', created(r)),
      section('Usage', usage(r))),
    el('div', { class: 'grid' },
      section('Uses by hour', hourlyChart(events, anomalies)),
      section('Where it was used', usageMap(events, anomalies))),
    section('Anomalies', anomalyList(anomalies)),
    section('Lineage', lineage(r)),
    r.token_id ? section('Related tokens', related(r.token_id, ctx.signal)) : null,
    (r.revocations || []).length ? section('Revocations', table(['Time', 'By', 'Method', 'Reason', 'Covers', 'Source'],
      r.revocations.map((v) => [fmt.time(v.time), v.actor || '', v.method || '', v.reason || '', v.covers || 'the token itself', v.source || '']))) : null,
    (r.rejections || []).length ? section('Rejections', table(['Time', 'Reason', 'Request', 'Status', 'Address', 'User agent'],
      r.rejections.map((j) => [fmt.time(j.time), j.reason || '', [j.method, j.path].filter(Boolean).join(' '), j.status ? String(j.status) : '', j.ip || '', j.user_agent || '']))) : null,
    section('Timeline', timeline(events, anomalies)),
  ];
}

function created(r) {
  const c = r.created;
  if (!c) return el('p', { class: 'muted', text: 'No issuance of this token was recorded: it was only seen in use, or its issuer’s logs were not imported.' });
  return definitions([
    ['Type', r.type],
    ['Time', fmt.time(c.time)],
    ['Event', c.action],
    ['Subject', c.subject ? link(c.subject, 'subject', c.subject) : ''],
    ['Issuer', c.issuer],
    ['Client', c.client_id],
    ['Session', c.session_id],
    ['Address', c.ip],
    ['Scopes', (c.scopes || []).join(' ')],
    ['Expires', fmt.time(c.expires_at)],
    ['Minted from', c.parent_token_id ? link(c.parent_token_id, 'token', c.parent_token_id) : ''],
    ['Source', c.source],
  ]);
}

// usesText returns the number of uses and their rate. A rate over less
// than a minute is meaningless, so uses that close together are given
// with their span instead.
function usesText(u) {
  if (!u.total) {
    return 'none recorded';
  }
  const span = u.span_seconds || 0;
  if (u.total === 1) {
    return fmt.count(1, 'use');
  }
  if (span < 60) {
    return `${fmt.count(u.total, 'use')}, all within ${span < 1 ? 'one second' : fmt.count(Math.round(span), 'second')}`;
  }
  return `${fmt.count(u.total, 'use')}, on average ${(u.per_minute || 0).toFixed(1)} a minute from the first to the last`;
}

function usage(r) {
  const u = r.usage || {};
  const top = (list) => (list || []).slice(0, 5).map((c) => `${c.value} (${c.count})`).join(', ');
  return definitions([
    ['Uses', usesText(u)],
    ['First', fmt.time(u.first)],
    ['Last', fmt.time(u.last)],
    ['Addresses', top(u.ips)],
    ['Countries', top(u.countries)],
    ['User agents', top(u.user_agents)],
    ['Paths', top(u.paths)],
    ['Report time', fmt.time(r.generated_at)],
  ]);
}

// anomalyList lists anomalies, each with a button that scrolls the
// timeline to the events that prove it. The timeline rows carry the event
// ids as data-id.
export function anomalyList(anomalies) {
  if (!anomalies.length) return el('p', { class: 'muted', text: 'No anomaly was found.' });
  return el('ul', { class: 'anomalies' }, anomalies.map((a) => el('li', { class: 'anomaly severity-' + a.severity },
    el('span', { class: 'severity', text: a.severity }), ' ',
    el('strong', { text: a.rule }), ' ',
    el('time', { text: fmt.time(a.time) }), ' ',
    (a.event_ids || []).length ? showEventsButton(a.event_ids) : null,
    el('p', { text: a.summary }))));
}

// showEventsButton returns a button that scrolls to the timeline rows of
// ids and marks them. When the timeline lacks them, as when an incident's
// timeline was cut short, the button is replaced by a note.
function showEventsButton(ids) {
  const button = el('button', { type: 'button', class: 'link show-events', text: `show ${fmt.count(ids.length, 'event')} in the timeline` });
  button.addEventListener('click', () => {
    const found = [...document.querySelectorAll('table.timeline tbody tr')].filter((tr) => ids.includes(tr.dataset.id));
    if (!found.length) {
      button.replaceWith(el('span', { class: 'muted', text: 'its events are not in the timeline' }));
      return;
    }
    for (const tr of found) {
      tr.classList.remove('focus');
      void tr.offsetWidth; // restarts the highlight on a second click
      tr.classList.add('focus');
    }
    found[0].scrollIntoView({ block: 'center' });
  });
  return button;
}

function lineage(r) {
  const l = r.lineage || {};
  const children = l.children || [];
  if (!l.parent && !children.length) return el('p', { class: 'muted', text: 'No parent token and no token minted from this one was recorded.' });
  return definitions([
    ['Minted from', l.parent ? link(l.parent, 'token', l.parent) : ''],
    ['Minted', children.length ? el('ul', { class: 'plain' }, children.map((c) =>
      el('li', {}, link(c.token_id, 'token', c.token_id), ` ${fmt.time(c.time)}`))) : ''],
  ]);
}

// related lists the tokens linked to this one by lineage, session, subject,
// network or client, strongest first. It loads after the report, so that a
// slow or failed lookup leaves the rest of the page in place.
function related(tokenID, signal) {
  const box = el('div', { id: 'related' }, el('p', { class: 'muted', text: 'Loading…' }));
  api('related' + query({ token: tokenID }), { signal }).then((list) => {
    const tokens = (list || []).filter((t) => t.token_id !== tokenID);
    if (!tokens.length) {
      box.replaceChildren(el('p', { class: 'muted', text: 'No other token is linked to this one.' }));
      return;
    }
    const shown = tokens.slice(0, MAX_RELATED);
    box.replaceChildren(table(['Token', 'Subject', 'Strength', 'Score', 'Why'], shown.map((t) => [
      link(t.token_id, 'token', t.token_id),
      t.subject || '',
      el('span', { class: 'strength strength-' + t.strength, text: t.strength }),
      String(t.score),
      (t.reasons || []).map((why) => `${why.kind}: ${why.detail}`).join('; '),
    ])));
    if (tokens.length > shown.length) {
      box.append(el('p', { class: 'muted', text: `The ${shown.length} strongest of ${tokens.length} related tokens.` }));
    }
  }).catch((err) => {
    if (!signal.aborted) box.replaceChildren(errorBox(err));
  });
  return box;
}

// timeline lists events oldest first and marks those an anomaly names.
function timeline(events, anomalies) {
  if (!events.length) return el('p', { class: 'muted', text: 'No event.' });
  const rulesOf = new Map();
  for (const a of anomalies) {
    for (const id of a.event_ids || []) rulesOf.set(id, [...(rulesOf.get(id) || []), a.rule]);
  }
  const rows = events.map((e) => {
    const rules = rulesOf.get(e.id);
    return {
      id: e.id,
      class: rules ? 'flagged' : undefined,
      cells: [
        fmt.time(e.time),
        e.kind + (e.action ? ' ' + e.action : ''),
        e.ip || '',
        fmt.place(e.geo),
        e.user_agent || '',
        [e.method, e.path].filter(Boolean).join(' '),
        e.status ? String(e.status) : (e.reject_reason || ''),
        rules ? el('span', { class: 'rule', text: [...new Set(rules)].join(', ') }) : '',
        e.source || '',
      ],
    };
  });
  return el('div', { class: 'scroll' },
    table(['Time', 'Event', 'Address', 'Place', 'User agent', 'Request', 'Status', 'Anomaly', 'Source'], rows, { class: 'timeline' }));
}

// revokeButton opens a dialog that requests the reason and records a
// token revocation, then reloads the report.
function revokeButton(r, reload) {
  const target = r.token_id || r.fingerprint;
  const reason = el('textarea', { id: 'revoke-reason', name: 'reason', rows: 3, required: true, maxlength: 500 });
  const message = el('p', { class: 'error', role: 'alert' });
  const confirm = el('button', { type: 'submit', class: 'danger', id: 'revoke-confirm', text: 'Revoke' });
  const cancel = el('button', { type: 'button', text: 'Cancel' });
  const form = el('form', { method: 'dialog' },
    el('h2', { text: 'Revoke this token?' }),
    el('p', {}, 'Token ', el('span', { class: 'mono', text: target }),
      ' will be rejected by every service that reads tokentrail’s revocation feed. A revocation cannot be undone.'),
    el('label', { for: 'revoke-reason', text: 'Reason (recorded with your key’s name)' }),
    reason, message,
    el('div', { class: 'actions' }, cancel, confirm));
  const dialog = el('dialog', { id: 'revoke-dialog' }, form);
  cancel.addEventListener('click', () => dialog.close());

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const why = reason.value.trim();
    if (!why) {
      message.textContent = 'Give a reason, such as “token leaked in a CI log”.';
      return;
    }
    confirm.disabled = true;
    message.textContent = '';
    api('revocations', { method: 'POST', body: { scope: 'token', target, reason: why } })
      .then(() => {
        dialog.close();
        reload();
      })
      .catch((err) => {
        confirm.disabled = false;
        message.textContent = `Revocation failed: ${err.code}: ${err.message}`;
      });
  });

  const button = el('button', { type: 'button', class: 'danger', id: 'revoke', text: 'Revoke…' });
  button.addEventListener('click', () => {
    reason.value = '';
    message.textContent = '';
    dialog.showModal();
    reason.focus();
  });
  return el('span', {}, button, dialog);
}
