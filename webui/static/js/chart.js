// The hourly usage chart, drawn as SVG.

import { el, svg } from './dom.js';
import * as fmt from './format.js';

const HOUR = 3600 * 1000;
const MAX_BARS = 14 * 24; // two weeks; more bars would be thinner than about a pixel
const MIN_SLOTS = 12; // a bar takes at most 1/12 of the width, so a short life does not fill the chart

const WIDTH = 640;
const HEIGHT = 180;
const LEFT = 36;
const BOTTOM = 24;
const TOP = 8;

// hourlyChart draws one bar per clock hour (UTC), from the hour of the
// first use in events to the hour of the last, and marks the hours in which
// an anomaly was raised. When the uses span more than MAX_BARS hours, it
// draws the last MAX_BARS, and its caption gives the number of earlier uses
// it leaves out.
export function hourlyChart(events, anomalies) {
  const uses = events.filter((e) => e.kind === 'used').map((e) => Date.parse(e.time)).filter((t) => !Number.isNaN(t));
  if (uses.length === 0) return el('p', { class: 'muted', text: 'No use of this token was recorded.' });

  // A loop, because spreading many uses into Math.min overflows the stack.
  let min = uses[0];
  let max = uses[0];
  for (const t of uses) {
    if (t < min) min = t;
    if (t > max) max = t;
  }
  const last = Math.floor(max / HOUR) * HOUR;
  const first = Math.max(Math.floor(min / HOUR) * HOUR, last - (MAX_BARS - 1) * HOUR);
  const hours = (last - first) / HOUR + 1;
  const counts = new Array(hours).fill(0);
  let left = 0;
  for (const t of uses) {
    if (t < first) left++;
    else counts[(Math.floor(t / HOUR) * HOUR - first) / HOUR]++;
  }

  const flagged = new Set(anomalies.map((a) => Math.floor(Date.parse(a.time) / HOUR) * HOUR));
  const bars = counts.map((n, i) => {
    const start = first + i * HOUR;
    return { n, start, label: `${fmt.time(start)} to ${fmt.time(start + HOUR)}`, tick: tickLabel(start, i === 0), flagged: flagged.has(start) };
  });

  const span = `${fmt.time(first)} to ${fmt.time(last + HOUR)}`;
  let caption;
  if (left > 0) {
    caption = `Uses per hour in the last ${MAX_BARS / 24} days of use, ${span}. `
      + `The chart leaves out ${fmt.count(left, 'earlier use')}, from ${fmt.time(min)} on.`;
  } else if (hours === 1) {
    caption = `Uses in the one hour of use, ${span}.`;
  } else {
    caption = `Uses per hour, from the hour of the first use to that of the last, ${span}.`;
  }
  caption += ' Red bars are hours in which an anomaly was raised.';
  return drawBars(bars, caption);
}

function pad(n) {
  return String(n).padStart(2, '0');
}

// tickLabel prints the start of an hour as "09:00", with the date before it
// ("11-20 09:00") on the first bar and at midnight.
function tickLabel(ms, first) {
  const d = new Date(ms);
  const hh = pad(d.getUTCHours()) + ':00';
  return first || d.getUTCHours() === 0 ? `${d.toISOString().slice(5, 10)} ${hh}` : hh;
}

function drawBars(bars, caption) {
  const max = bars.reduce((m, b) => Math.max(m, b.n), 1);
  const plotWidth = WIDTH - LEFT - 4;
  const plotHeight = HEIGHT - TOP - BOTTOM;
  const step = plotWidth / Math.max(bars.length, MIN_SLOTS);
  const every = Math.max(1, Math.ceil(bars.length / 8)); // at most about 8 tick labels

  const chart = svg('svg', {
    class: 'chart', viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: 'img', 'aria-label': caption,
  });
  // The axis ends with the last bar, so that no empty hours seem to follow.
  chart.append(
    svg('line', { class: 'axis', x1: LEFT, y1: TOP + plotHeight, x2: (LEFT + bars.length * step).toFixed(2), y2: TOP + plotHeight }),
    svg('text', { class: 'tick', x: LEFT - 4, y: TOP + 8, 'text-anchor': 'end', text: String(max) }),
    svg('text', { class: 'tick', x: LEFT - 4, y: TOP + plotHeight, 'text-anchor': 'end', text: '0' }));
  bars.forEach((b, i) => {
    const h = (b.n / max) * plotHeight;
    const x = LEFT + i * step;
    chart.append(svg('rect', {
      class: b.flagged ? 'bar flagged' : 'bar',
      x: (x + step * 0.1).toFixed(2), y: (TOP + plotHeight - h).toFixed(2),
      width: Math.max(0.5, step * 0.8).toFixed(2), height: h.toFixed(2),
      'data-start': fmt.time(b.start),
    }, svg('title', { text: `${b.label}: ${fmt.count(b.n, 'use')}` })));
    if (i % every === 0) {
      chart.append(svg('text', { class: 'tick', x: (x + step / 2).toFixed(2), y: HEIGHT - 6, 'text-anchor': 'middle', text: b.tick }));
    }
  });
  return el('figure', { class: 'figure' }, chart, el('figcaption', { text: caption }));
}
