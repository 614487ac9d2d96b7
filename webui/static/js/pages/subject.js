// The subject page: the tokens of one subject, with a way into its
// incident report.

import { api } from '../api.js';
import { el, errorBox, link, route, table } from '../dom.js';
import * as fmt from '../format.js';

export function renderSubject(main, segments, _params, { signal }) {
  const subject = segments[0] || '';
  main.append(el('h1', {}, 'Subject ', el('span', { class: 'mono', text: subject })),
    el('p', {}, el('a', { href: route('incident', { subject }), class: 'button', text: 'Investigate an incident of this subject' })));
  const body = el('div', {}, el('p', { class: 'muted', text: 'Loading…' }));
  main.append(body);

  api('subjects/' + encodeURIComponent(subject) + '/tokens', { signal }).then((data) => {
    const tokens = (data && data.tokens) || [];
    if (!tokens.length) {
      body.replaceChildren(el('p', { text: 'No token of this subject is stored.' }));
      return;
    }
    body.replaceChildren(table(['Token', 'Status', 'Uses', 'First seen', 'Last seen'], tokens.map((t) => [
      link(t.token_id || t.fingerprint, 'token', t.token_id || t.fingerprint),
      el('span', { class: 'status status-' + t.status, text: t.status }),
      String(t.uses),
      fmt.time(t.first_seen),
      fmt.time(t.last_seen),
    ])));
  }).catch((err) => {
    if (!signal.aborted) body.replaceChildren(errorBox(err));
  });
}
