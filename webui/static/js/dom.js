// DOM builders. Every piece of text goes in as a text node, never as
// markup, because subjects, user agents and paths come from requests that
// anyone may have sent.

const SVG_NS = 'http://www.w3.org/2000/svg';

// el creates an HTML element. props sets attributes, except "class",
// "text" (the text content) and keys starting with "on" (event listeners).
export function el(tag, props, ...children) {
  return build(document.createElement(tag), props, children);
}

// svg creates an SVG element, with props and children as for el.
export function svg(tag, props, ...children) {
  return build(document.createElementNS(SVG_NS, tag), props, children);
}

function build(node, props, children) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.setAttribute('class', value);
    else if (key === 'text') node.textContent = String(value);
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

// clear removes every child of node.
export function clear(node) {
  node.replaceChildren();
  return node;
}

// link returns an anchor to an app route; path segments are encoded.
export function link(text, ...segments) {
  return el('a', { href: route(...segments), text });
}

// route builds "#/seg1/seg2", encoding each segment, with an optional
// trailing object of query parameters.
export function route(...segments) {
  let query = '';
  const last = segments[segments.length - 1];
  if (last && typeof last === 'object') {
    segments = segments.slice(0, -1);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(last)) {
      if (v !== undefined && v !== null && v !== '') params.set(k, v);
    }
    const s = params.toString();
    if (s) query = '?' + s;
  }
  return '#/' + segments.map(encodeURIComponent).join('/') + query;
}

// table builds a table from column headings and rows of cells; a row may
// be {cells, class} to set a class on its tr.
export function table(headings, rows, props) {
  return el('table', props || {},
    el('thead', {}, el('tr', {}, headings.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, rows.map((row) => {
      const cells = Array.isArray(row) ? row : row.cells;
      return el('tr', Array.isArray(row) ? {} : { class: row.class, 'data-id': row.id },
        cells.map((c) => el('td', {}, c)));
    })));
}

// section returns a titled section.
export function section(title, ...children) {
  return el('section', { class: 'card' }, el('h2', { text: title }), children);
}

// definitions builds a dl from [term, value] pairs, skipping empty values.
export function definitions(pairs) {
  const dl = el('dl', { class: 'facts' });
  for (const [term, value] of pairs) {
    if (value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0)) continue;
    dl.append(el('dt', { text: term }), el('dd', {}, value));
  }
  return dl;
}

// errorBox shows a failed request or check as text.
export function errorBox(err) {
  const code = err && err.code ? err.code + ': ' : '';
  return el('p', { class: 'error', role: 'alert', text: code + (err && err.message ? err.message : String(err)) });
}
