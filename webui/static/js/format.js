// Formats of times and numbers, as the CLI reports print them.

// time prints an RFC 3339 time or epoch milliseconds as
// "2026-11-20 09:03:31Z", in UTC, the layout of forensics.TimeLayout. Every
// time on the pages goes through it, because index.html states this layout
// once for all of them.
export function time(value) {
  if (value === undefined || value === null || value === '') return '';
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// parseTime reads a time typed in the layout of the pages or in RFC 3339,
// and returns it in RFC 3339 (UTC), the form the API takes, or '' when text
// is neither.
export function parseTime(text) {
  const iso = text.trim().replace(/^(\d{4}-\d{2}-\d{2}) (?=\d)/, '$1T');
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/i.test(iso)) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toISOString().replace(/\.000Z$/, 'Z');
}

// count prints n with a thousands separator and the noun, or its plural
// (by default the noun and "s") unless n is 1.
export function count(n, noun, plural = noun + 's') {
  return `${Number(n).toLocaleString('en-US')} ${n === 1 ? noun : plural}`;
}

// place prints a geolocation as "City, Country", or "" without one.
export function place(geo) {
  if (!geo) return '';
  return [geo.city, geo.country].filter(Boolean).join(', ');
}
