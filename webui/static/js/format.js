// Formats of times and numbers, as the CLI reports print them.

// time prints an RFC 3339 time as "2026-11-20 09:03:31Z", in UTC.
export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

// hour prints the hour that starts at ms (epoch milliseconds) as
// "2026-11-20 09:00Z".
export function hour(ms) {
  return new Date(ms).toISOString().slice(0, 13).replace('T', ' ') + ':00Z';
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
