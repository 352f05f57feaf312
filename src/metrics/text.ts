/**
 * The Prometheus text exposition format 0.0.4: `# HELP`, `# TYPE`, then one line per sample
 * (`name{label="value",...} number`). Families are separated by a blank line; an empty family still
 * prints its HELP and TYPE, so a scraper sees the metric exists before its first sample.
 * Format: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge' | 'histogram';
/** Label values as written; numbers (revisions, `le` bounds) print as JavaScript prints them. */
export type Labels = Readonly<Record<string, string | number>>;

export interface Sample {
  /** Appended to the family name: `_bucket`, `_sum`, `_count` for histograms. */
  suffix?: string;
  labels: Labels;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: Sample[];
}

/** One histogram series whose buckets were counted elsewhere (the gateway workers). */
export interface HistogramSeries {
  labels: Labels;
  /** Non-cumulative counts per bound, then one for +Inf. */
  buckets: readonly number[];
  sum: number;
  count: number;
}

/** A family with no samples yet; fill `samples` and pass it to `writeExposition`. */
export function family(name: string, type: MetricType, help: string): MetricFamily {
  return { name, help, type, samples: [] };
}

/** Name, type and help of a family. */
export type FamilyDefinition = readonly [name: string, type: MetricType, help: string];

/** Empty families, one per definition, under the same keys (and in the same order). */
export function families<K extends string>(
  defs: Readonly<Record<K, FamilyDefinition>>,
): Record<K, MetricFamily> {
  const out = {} as Record<K, MetricFamily>;
  for (const k of Object.keys(defs) as K[]) {
    const [name, type, help]: FamilyDefinition = defs[k];
    out[k] = family(name, type, help);
  }
  return out;
}

/** Cumulative `_bucket{le}` samples for every bound and +Inf (= count), then `_sum` and `_count`. */
export function histogramSamples(bounds: readonly number[], s: HistogramSeries): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  for (let i = 0; i < bounds.length; i++) {
    cumulative += s.buckets[i] ?? 0;
    out.push({ suffix: '_bucket', labels: { ...s.labels, le: bounds[i] }, value: cumulative });
  }
  out.push({ suffix: '_bucket', labels: { ...s.labels, le: '+Inf' }, value: s.count });
  out.push({ suffix: '_sum', labels: s.labels, value: s.sum });
  out.push({ suffix: '_count', labels: s.labels, value: s.count });
  return out;
}

/** The exposition text of `families`, in the order given. */
export function writeExposition(families: readonly MetricFamily[]): string {
  return `${families.map(writeFamily).join('\n\n')}\n`;
}

function writeFamily(f: MetricFamily): string {
  const lines = [`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples)
    lines.push(`${f.name}${s.suffix ?? ''}${writeLabels(s.labels)} ${number(s.value)}`);
  return lines.join('\n');
}

function writeLabels(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Label values escape backslash, line feed and double quote. */
function escapeLabelValue(v: string | number): string {
  return typeof v === 'number' ? String(v) : escapeHelp(v).replace(/"/g, '\\"');
}

function number(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
