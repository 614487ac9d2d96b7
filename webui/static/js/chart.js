// The hourly usage chart, drawn as SVG.

import { el, svg } from './dom.js';
import * as fmt from './format.js';

const HOUR = 3600 * 1000;
const MIN_BARS = 12;
const MAX_BARS = 14 * 24; // beyond two weeks, bars would be thinner than a pixel

const WIDTH = 640;
const HEIGHT = 180;
const LEFT = 36;
const BOTTOM = 24;
const TOP = 8;

// hourlyChart draws one bar per clock hour (UTC) between the first and
// the last use in events, and marks the hours in which an anomaly was
// raised. When the uses span more than two weeks it draws the report's
// uses by hour of day (hourlyUTC) instead.
export function hourlyChart(events, anomalies, hourlyUTC) {
  const uses = events.filter((e) => e.kind === 'used').map((e) => Date.parse(e.time)).filter((t) => !Number.isNaN(t));
  if (uses.length === 0) return el('p', { class: 'muted', text: 'No use of this token was recorded.' });

  // A loop, because spreading many uses into Math.min overflows the stack.
  let min = uses[0];
  let max = uses[0];
  for (const t of uses) {
    if (t < min) min = t;
    if (t > max) max = t;
  }
  let first = Math.floor(min / HOUR) * HOUR;
  let last = Math.floor(max / HOUR) * HOUR;
  // A short life gets empty hours on both sides, so that one bar does not
  // fill the chart and the quiet hours around the uses show.
  const short = MIN_BARS - ((last - first) / HOUR + 1);
  if (short > 0) {
    first -= Math.floor(short / 2) * HOUR;
    last += Math.ceil(short / 2) * HOUR;
  }
  const hours = (last - first) / HOUR + 1;
  const flagged = new Set(anomalies.map((a) => Math.floor(Date.parse(a.time) / HOUR) * HOUR));

  let bars;
  let caption;
  if (hours <= MAX_BARS) {
    const counts = new Array(hours).fill(0);
    for (const t of uses) counts[(Math.floor(t / HOUR) * HOUR - first) / HOUR]++;
    bars = counts.map((n, i) => {
      const start = first + i * HOUR;
      return { n, label: fmt.hour(start), tick: tickLabel(start, i === 0), flagged: flagged.has(start) };
    });
    caption = `Uses per hour (UTC), ${fmt.hour(first)} to ${fmt.hour(last)}; red bars are hours with an anomaly.`;
  } else {
    bars = hourlyUTC.map((n, h) => ({ n, label: `${pad(h)}:00–${pad(h)}:59 UTC`, tick: pad(h), flagged: false }));
    caption = 'Uses by hour of day (UTC), over the whole life of the token.';
  }
  return drawBars(bars, caption);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

function tickLabel(ms, first) {
  const d = new Date(ms);
  const hh = pad(d.getUTCHours()) + ':00';
  return first || d.getUTCHours() === 0 ? `${d.toISOString().slice(5, 10)} ${hh}` : hh;
}

function drawBars(bars, caption) {
  const max = bars.reduce((m, b) => Math.max(m, b.n), 1);
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = plotWidth / bars.length;
  const every = Math.max(1, Math.ceil(bars.length / 8)); // at most about 8 tick labels

  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': caption,
  });
  chart.append(
    svg('line', { class: 'axis', x1: LEFT, y1: TOP + plotHeight, x2: WIDTH - 4, y2: TOP + plotHeight }),
    svg('text', { class: 'tick', x: LEFT - 4, y: TOP + 8, 'text-anchor': 'end', text: String(max) }),
    svg('text', { class: 'tick', x: LEFT - 4, y: TOP + plotHeight, 'text-anchor': 'end', text: '0' }));
  bars.forEach((b, i) => {
    const h = (b.n / max) * plotHeight;
    const x = LEFT + i * step;
    chart.append(svg('rect', {
      class: b.flagged ? 'bar flagged' : 'bar',
      x: (x + step * 0.1).toFixed(2), y: (TOP + plotHeight - h).toFixed(2),
      width: Math.max(0.5, step * 0.8).toFixed(2), height: h.toFixed(2),
    }, svg('title', { text: `${b.label}: ${fmt.count(b.n, 'use')}` })));
    if (i % every === 0) {
      chart.append(svg('text', { class: 'tick', x: (x + step / 2).toFixed(2), y: HEIGHT - 6, 'text-anchor': 'middle', text: b.tick }));
    }
  });
  return el('figure', { class: 'figure' }, chart, el('figcaption', { text: caption }));
}
