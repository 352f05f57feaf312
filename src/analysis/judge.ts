/** Judgement of a provider's value against the metric's condition (max / min / equals). Pure. */
import type { ValueCondition } from '../config/types.ts';
import type { MetricStatus } from './engine.ts';

export interface ValueVerdict {
  status: Extract<MetricStatus, 'Pass' | 'Fail' | 'Inconclusive' | 'Error'>;
  reason: string;
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  if (v === undefined) return 'nothing';
  try {
    const s = JSON.stringify(v);
    return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    return String(v);
  }
}

/**
 * `equals`: deep-equal to a JSON scalar. `max`/`min`: the value must be a number (or a numeric string, as
 * Prometheus sends them); NaN is Inconclusive (e.g. a ratio over no traffic), anything else not a number
 * is an Error. Both bounds are inclusive: value <= max and value >= min pass.
 */
export function judgeValue(cond: ValueCondition, value: unknown): ValueVerdict {
  if (cond.equals !== undefined) {
    if (value === cond.equals)
      return { status: 'Pass', reason: `${show(value)} equals ${show(cond.equals)}` };
    return { status: 'Fail', reason: `${show(value)} is not ${show(cond.equals)}` };
  }
  let n: number;
  if (typeof value === 'number') n = value;
  else if (
    typeof value === 'string' &&
    /^\s*[-+]?(\d+\.?\d*(e[-+]?\d+)?|\.\d+(e[-+]?\d+)?|NaN|Inf)\s*$/i.test(value)
  )
    n = Number(value.trim().replace(/^([-+]?)Inf$/i, '$1Infinity'));
  else return { status: 'Error', reason: `expected a number, got ${show(value)}` };
  if (Number.isNaN(n)) return { status: 'Inconclusive', reason: 'the value is NaN (no data to judge)' };
  if (cond.max !== undefined && n > cond.max)
    return { status: 'Fail', reason: `${n} is above max ${cond.max}` };
  if (cond.min !== undefined && n < cond.min)
    return { status: 'Fail', reason: `${n} is below min ${cond.min}` };
  const parts: string[] = [];
  if (cond.min !== undefined) parts.push(`>= min ${cond.min}`);
  if (cond.max !== undefined) parts.push(`<= max ${cond.max}`);
  return { status: 'Pass', reason: `${n} ${parts.join(' and ')}` };
}
