// The world map of where a token was used, drawn as SVG over the country
// outlines bundled with the UI (Natural Earth 1:110m by way of the npm
// package world-atlas, converted by webui/internal/mapgen).

import { el, svg } from './dom.js';
import * as fmt from './format.js';

let outlines = null;

// loadOutlines fetches the map file once per page load.
function loadOutlines() {
  if (!outlines) {
    outlines = fetch(new URL('../world.json', import.meta.url)).then((r) => {
      if (!r.ok) throw new Error(`the request for the map data failed with status ${r.status}`);
      return r.json();
    });
    outlines.catch(() => { outlines = null; }); // let a later page try again
  }
  return outlines;
}

// usageMap draws one point per place among events that carry a
// geolocation, sized by the number of events there, red where an
// anomaly's proving events came from.
export function usageMap(events, anomalies) {
  const flaggedIDs = new Set(anomalies.flatMap((a) => a.event_ids || []));
  const places = new Map();
  let located = 0;
  for (const e of events) {
    const g = e.geo;
    if (!g || typeof g.latitude !== 'number' || typeof g.longitude !== 'number') continue;
    located++;
    // A tenth of a degree (about 11 km) merges the uses of one city.
    const key = `${g.latitude.toFixed(1)},${g.longitude.toFixed(1)}`;
    let p = places.get(key);
    if (!p) {
      p = { lat: g.latitude, lon: g.longitude, n: 0, flagged: false, names: new Set(), ips: new Set() };
      places.set(key, p);
    }
    p.n++;
    if (flaggedIDs.has(e.id)) p.flagged = true;
    const name = fmt.place(g);
    if (name) p.names.add(name);
    if (e.ip) p.ips.add(e.ip);
  }

  const caption = located === 0
    ? 'No event of this token carries a location: import with an --enrich file that names a GeoIP database, or map the location fields your log has (docs/import.md), to place them.'
    : `${fmt.count(places.size, 'place')} from ${fmt.count(located, 'located event')} of ${events.length}; red points sent events that an anomaly names.`;
  const frame = svg('svg', { class: 'map', viewBox: '0 0 360 180', role: 'img', 'aria-label': caption });
  const figure = el('figure', { class: 'figure' }, frame, el('figcaption', { text: caption }));

  loadOutlines().then((world) => {
    const land = svg('g', { class: 'land' });
    for (const c of world.countries) land.append(svg('path', { d: c.d }, svg('title', { text: c.name })));
    frame.prepend(land);
  }).catch((err) => {
    figure.append(el('p', { class: 'error', text: 'The country outlines could not be loaded: ' + err.message }));
  });

  const points = [...places.values()].sort((a, b) => b.n - a.n); // small points on top
  for (const p of points) {
    const r = Math.min(8, 1.5 + Math.sqrt(p.n) * 0.5);
    const where = [...p.names].join('; ') || `${p.lat.toFixed(2)}, ${p.lon.toFixed(2)}`;
    frame.append(svg('circle', {
      class: p.flagged ? 'point flagged' : 'point', cx: (p.lon + 180).toFixed(2), cy: (90 - p.lat).toFixed(2), r: r.toFixed(2),
    }, svg('title', { text: `${where}: ${fmt.count(p.n, 'event')} from ${[...p.ips].join(', ')}` })));
  }
  return figure;
}
