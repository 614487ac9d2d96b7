// The incident page: a form for subject, time and window, then the
// incident report: exposure, remediation plan, impact, anomalies and
// timeline.

import { api, query } from '../api.js';
import { clear, definitions, el, errorBox, link, route, section, table } from '../dom.js';
import * as fmt from '../format.js';
import { copyable } from '../copy.js';
import { anomalyList } from './token.js';

export function renderIncident(main, _segments, params, { signal }) {
  const subject = params.get('subject') || '';
  // The address and the API take RFC 3339; the form shows the layout of
  // the pages, so that a time copied from a timeline can be pasted in.
  const at = fmt.parseTime(params.get('at') || '') || params.get('at') || fmt.parseTime(new Date().toISOString());
  const span = params.get('window') || '24h';

  const fields = {
    subject: el('input', { id: 'incident-subject', name: 'subject', value: subject, required: true, spellcheck: 'false' }),
    at: el('input', { id: 'incident-at', name: 'at', value: fmt.time(at), required: true, placeholder: '2026-11-20 09:30:00Z', size: 22 }),
    window: el('input', { id: 'incident-window', name: 'window', value: span, required: true, placeholder: '24h', size: 6 }),
  };
  const message = el('p', { id: 'incident-form-error', class: 'error', role: 'alert' });
  const form = el('form', { class: 'incident-form' },
    el('label', { for: 'incident-subject', text: 'Subject' }), fields.subject,
    el('label', { for: 'incident-at', text: 'Time' }), fields.at,
    el('label', { for: 'incident-window', text: 'Window (before and after)' }), fields.window,
    el('button', { type: 'submit', text: 'Analyze' }));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const time = fmt.parseTime(fields.at.value);
    if (!time) {
      message.textContent = `Invalid time “${fields.at.value.trim()}”: enter it as 2026-11-20 09:30:00Z (UTC), or in RFC 3339.`;
      fields.at.focus();
      return;
    }
    message.textContent = '';
    location.hash = route('incident', {
      subject: fields.subject.value.trim(), at: time, window: fields.window.value.trim(),
    });
  });
  const body = el('div', { id: 'incident' });
  main.append(el('h1', { text: 'Incident' }), form, message, body);
  if (!subject) {
    fields.subject.focus();
    return;
  }

  body.append(el('p', { class: 'muted', text: 'Analyzing…' }));
  api('incidents' + query({ subject, at, window: span }), { signal }).then((report) => {
    clear(body).append(...incidentPage(report).flat().filter(Boolean));
  }).catch((err) => {
    if (!signal.aborted) clear(body).append(errorBox(err));
  });
}

function incidentPage(r) {
  const impact = r.impact || {};
  const exposure = impact.exposure || {};
  return [
    el('p', { class: 'summary' }, 'Subject ', link(r.subject, 'subject', r.subject),
      `, ${fmt.time(r.since)} to ${fmt.time(r.until)}, around ${fmt.time(r.at)}; report time ${fmt.time(r.generated_at)}.`),
    (r.notes || []).length ? el('ul', { class: 'notes' }, r.notes.map((n) => el('li', { text: n }))) : null,
    section('Exposure', definitions([
      ['State', el('span', { class: exposure.open ? 'status exposure-open' : 'status exposure-closed', text: exposure.open ? 'open' : 'closed' })],
      ['From', fmt.time(exposure.start)],
      ['To', fmt.time(exposure.end)],
      ['Why', exposure.reason],
    ])),
    section('Remediation', plan(r.plan || [])),
    section('Impact', impactView(impact)),
    section('Suspicious networks', networks((r.suspicious && r.suspicious.networks) || [])),
    section('Anomalies', anomalyList(r.anomalies || [])),
    (r.patterns || []).length ? section('Patterns', el('ul', {}, r.patterns.map((p) =>
      el('li', {}, el('strong', { text: p.name }), ': ', p.description)))) : null,
    section('Timeline', timeline(r.timeline || [], r.truncated)),
  ];
}

function plan(steps) {
  if (!steps.length) return el('p', { class: 'muted', text: 'Nothing to do: no step is needed.' });
  return el('ol', { class: 'plan' }, steps.map((s) => el('li', { class: 'step' },
    el('h3', { text: s.action.replaceAll('_', ' ') }),
    el('p', { text: s.reason }),
    s.command ? copyable(s.command, 'command of step ' + s.rank) : null,
    s.api ? el('p', { class: 'muted', text: 'Or through the API:' }) : null,
    s.api ? copyable(s.api, 'API request of step ' + s.rank) : null,
    s.manual ? el('p', { class: 'manual', text: s.manual }) : null)));
}

function impactView(impact) {
  const tokens = impact.tokens || [];
  const rejected = Object.entries(impact.rejected || {}).map(([reason, n]) => `${reason} ${n}`).join(', ');
  return [
    tokens.length
      ? table(['Token', 'Subject', 'Session', 'Family', 'Scopes', 'Uses', 'First', 'Last', 'Revoked'], tokens.map((t) => [
        link(t.token_id, 'token', t.token_id), t.subject || '', t.session_id || '', t.family || '', (t.scopes || []).join(' '),
        String(t.uses), fmt.time(t.first), fmt.time(t.last), fmt.time(t.revoked),
      ]))
      : el('p', { class: 'muted', text: 'No token was accepted from a suspicious network.' }),
    definitions([
      ['Subjects', (impact.subjects || []).map((s) => `${s.subject}${s.other ? ' (another subject)' : ''}: ${fmt.count((s.tokens || []).length, 'token')}`).join('; ')],
      ['Paths', (impact.paths || []).slice(0, 10).map((p) => `${p.value} (${p.count})`).join(', ')],
      ['Scopes', (impact.scopes || []).map((p) => p.value).join(' ')],
      ['Rejected', rejected],
    ]),
  ];
}

function networks(list) {
  if (!list.length) return el('p', { class: 'muted', text: 'No network was found suspicious.' });
  return table(['Network', 'Addresses', 'Owner', 'Rules', 'Events', 'First', 'Last'], list.map((n) => [
    n.network, (n.addresses || []).join(', '), [n.org, n.asn ? 'AS' + n.asn : '', n.country].filter(Boolean).join(', '),
    (n.rules || []).join(', '), String(n.events), fmt.time(n.first), fmt.time(n.last),
  ]));
}

function timeline(entries, truncated) {
  if (!entries.length) return el('p', { class: 'muted', text: 'No event in the window.' });
  const rows = entries.map((e) => ({
    id: e.event_id,
    class: e.from_suspicious_network || (e.anomalies || []).length ? 'flagged' : undefined,
    cells: [
      fmt.time(e.time),
      e.kind,
      e.token_id ? link(e.token_id, 'token', e.token_id) : (e.fingerprint || ''),
      e.ip || '',
      [e.location && e.location.city, e.location && e.location.country].filter(Boolean).join(', '),
      e.user_agent || '',
      [e.method, e.path].filter(Boolean).join(' '),
      e.status ? String(e.status) : (e.reject_reason || e.reason || ''),
      (e.anomalies || []).map((a) => a.rule).join(', '),
      e.origin,
    ],
  }));
  return [
    truncated ? el('p', { class: 'error', text: 'The timeline is cut short: the window held more events than the server reads for one report.' }) : null,
    el('div', { class: 'scroll' }, table(['Time', 'Event', 'Token', 'Address', 'Place', 'User agent', 'Request', 'Status', 'Anomaly', 'Found by'], rows, { class: 'timeline' })),
  ];
}
