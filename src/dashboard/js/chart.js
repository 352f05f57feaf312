// uPlot charts as Preact components: the plot is made once per series layout and fed new data
// in place (setData), which keeps 20 services updating each second cheap.
import { useEffect, useRef } from '/ui/vendor/hooks.mjs';
import uPlot from '/ui/vendor/uplot.mjs';
import { html } from './html.js';

const COLORS = { stable: '#2563eb', canary: '#d97706', preview: '#7c3aed' };
const DASH = [[], [6, 4]];

export function colorOf(role) {
  return COLORS[role] ?? '#6b7280';
}

/** Pads the front of shorter series with nulls so every line shares the longest time axis. */
export function align(lines) {
  const longest = lines.reduce((a, l) => (l.t.length > a.length ? l.t : a), []);
  const data = [longest.slice()];
  for (const l of lines) data.push([...new Array(longest.length - l.values.length).fill(null), ...l.values]);
  return data;
}

/**
 * A line chart: `lines` = [{ label, role, values, t, dash }]. `spark` draws a bare sparkline.
 */
export function Chart({ title, lines, unit = '', height = 160, spark = false }) {
  const el = useRef(null);
  const plot = useRef(null);
  const layout = lines.map((l) => l.label).join('|');
  useEffect(() => {
    const width = spark ? 110 : Math.max(240, el.current.clientWidth - 16);
    const opts = {
      width,
      height: spark ? 28 : height,
      title: spark ? undefined : title,
      cursor: { show: !spark },
      legend: { show: !spark },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: spark
        ? [{ show: false }, { show: false }]
        : [{}, { values: (_u, ticks) => ticks.map((v) => `${+v.toFixed(2)}${unit}`), size: 60 }],
      series: [
        {},
        ...lines.map((l) => ({
          label: l.label,
          stroke: colorOf(l.role),
          width: spark ? 1.5 : 2,
          dash: DASH[l.dash ?? 0],
          spanGaps: false,
          value: (_u, v) => (v === null || v === undefined ? '–' : `${+v.toFixed(2)}${unit}`),
        })),
      ],
    };
    plot.current = new uPlot(opts, align(lines), el.current);
    return () => plot.current?.destroy();
  }, [layout, spark]);
  useEffect(() => {
    plot.current?.setData(align(lines));
  });
  const points = lines.reduce((n, l) => Math.max(n, l.values.length), 0);
  return html`<div class=${spark ? 'spark' : 'chart'} ref=${el} role="img" aria-label=${title} data-points=${points}></div>`;
}
