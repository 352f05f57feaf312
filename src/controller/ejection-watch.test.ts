import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatsReport } from '../gateway/protocol.ts';
import { ejectionEvents, type Seen } from './ejection-watch.ts';

function report(instances: Record<string, { ejections: number; ejected?: boolean }>): StatsReport {
  const inst: StatsReport['services'][string]['instances'] = {};
  for (const [id, i] of Object.entries(instances)) inst[id] = { revision: 2, inflight: 0, ...i };
  return { workers: 2, services: { web: { errors: 0, retries: 0, instances: inst, revisions: {} } } };
}

test('an ejection and a return to rotation are each one event; nothing changes, no event', () => {
  const rows: Array<{
    what: string;
    before: Record<string, Seen>;
    now: Record<string, { ejections: number; ejected?: boolean }>;
    events: string[];
  }> = [
    { what: 'first read, nothing ejected', before: {}, now: { a: { ejections: 0 } }, events: [] },
    {
      what: 'ejected now',
      before: { 'web/a': { ejections: 0, ejected: false } },
      now: { a: { ejections: 1, ejected: true } },
      events: ['InstanceEjected a (1 ejection so far)'],
    },
    {
      what: 'still ejected',
      before: { 'web/a': { ejections: 1, ejected: true } },
      now: { a: { ejections: 1, ejected: true } },
      events: [],
    },
    {
      what: 'back',
      before: { 'web/a': { ejections: 1, ejected: true } },
      now: { a: { ejections: 1 } },
      events: ['InstanceReturned a'],
    },
    {
      what: 'ejected and back between two reads: the ejection is still told',
      before: { 'web/a': { ejections: 1, ejected: false } },
      now: { a: { ejections: 2 } },
      events: ['InstanceEjected a (2 ejections so far)'],
    },
    {
      what: 'ejected again while ejected (another worker)',
      before: { 'web/a': { ejections: 1, ejected: true } },
      now: { a: { ejections: 2, ejected: true } },
      events: ['InstanceEjected a (2 ejections so far)'],
    },
  ];
  for (const r of rows) {
    const got = ejectionEvents(new Map(Object.entries(r.before)), report(r.now));
    const short = got.events.map((e) => {
      assert.equal(e.service, 'web');
      assert.equal(e.revision, 2);
      const m = /instance (\S+) (?:ejected by the gateway (\(.*\))|back in rotation)/.exec(e.message)!;
      return `${e.type} ${m[1]}${m[2] ? ` ${m[2]}` : ''}`;
    });
    assert.deepEqual(short, r.events, r.what);
    assert.ok(got.seen.has('web/a'), r.what);
  }
});
