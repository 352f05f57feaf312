/**
 * `GET /v1/traffic`: live requests/s, error rate and p50/p99 per revision, from the gateway's
 * counters. Readings are taken at most every MIN_READING_MS whoever asks (a dashboard polls each
 * second), and the rates cover the window since the newest reading at least WINDOW_MS old.
 */
import type { Controller } from '../controller/controller.ts';
import type { StatsReport } from '../gateway/protocol.ts';
import { trafficRates } from '../metrics/rates.ts';
import { ApiError } from './errors.ts';
import { clientFor } from './metrics.ts';

const MIN_READING_MS = 500;
const WINDOW_MS = 2000;
const KEEP = 16;
const STATS_TIMEOUT_MS = 2000;

interface Reading {
  at: number;
  report: StatsReport;
}

const readings = new WeakMap<Controller, Reading[]>();
const pending = new WeakMap<Controller, Promise<Reading[]>>();

async function read(c: Controller): Promise<Reading[]> {
  const list = readings.get(c) ?? [];
  const last = list.at(-1);
  if (last && Date.now() - last.at < MIN_READING_MS) return list;
  let p = pending.get(c);
  if (!p) {
    p = clientFor(c)
      .stats(STATS_TIMEOUT_MS)
      .then((report) => {
        list.push({ at: Date.now(), report });
        if (list.length > KEEP) list.splice(0, list.length - KEEP);
        readings.set(c, list);
        return list;
      })
      .finally(() => pending.delete(c));
    pending.set(c, p);
  }
  return p;
}

export async function trafficView(c: Controller, only?: string) {
  let list: Reading[];
  try {
    list = await read(c);
  } catch (err) {
    throw new ApiError(502, 'gateway_unreachable', (err as Error).message);
  }
  const cur = list[list.length - 1];
  let base: Reading | undefined;
  for (let i = list.length - 2; i >= 0; i--) {
    base = list[i];
    if (cur.at - list[i].at >= WINDOW_MS) break;
  }
  const windowMs = base ? cur.at - base.at : 0;
  const services = trafficRates(base?.report, cur.report, windowMs);
  if (only) for (const k of Object.keys(services)) if (k !== only) delete services[k];
  return { at: cur.at, windowMs, services };
}
