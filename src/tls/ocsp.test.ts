/**
 * The stapler: when it fetches again, and how it behaves against a real HTTP responder (an in-process
 * server whose answers `openssl ocsp` signs): one staple per good certificate, one request at a time,
 * backed off after failures, forgotten with its certificate.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, type TestContext, test } from 'node:test';
import { makeCa, makeLeaf, type TestCa, type TestLeaf } from '../../test/helpers/certs.ts';
import { tempDir } from '../../test/helpers/gateway-process.ts';
import { answerOnce, type CaDatabase, caDatabase } from '../../test/helpers/ocsp.ts';
import { waitFor } from '../../test/helpers/wait.ts';
import { createLogger } from '../log/logger.ts';
import {
  OCSP_MIN_REFRESH_MS,
  OCSP_REFRESH_WITHOUT_NEXT_UPDATE_MS,
  OcspStapler,
  refreshDelayMs,
  type StapleTarget,
} from './ocsp.ts';

const HOUR_MS = 3_600_000;

describe('refreshDelayMs: half-way through the validity window, never too soon', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const cases: [string, number, number | undefined, number][] = [
    ['fresh one-day response: in 12 h', t0, t0 + 24 * HOUR_MS, 12 * HOUR_MS],
    ['fetched 2 h after thisUpdate: in 10 h', t0 + 2 * HOUR_MS, t0 + 24 * HOUR_MS, 10 * HOUR_MS],
    ['already past half-way: the floor', t0 + 20 * HOUR_MS, t0 + 24 * HOUR_MS, OCSP_MIN_REFRESH_MS],
    ['no nextUpdate: the fixed interval', t0, undefined, OCSP_REFRESH_WITHOUT_NEXT_UPDATE_MS],
    ['a 100-day window: within setTimeout range', t0, t0 + 100 * 24 * HOUR_MS, 2 ** 31 - 1],
  ];
  for (const [what, now, nextUpdate, expected] of cases) {
    test(what, () => {
      const answer =
        nextUpdate === undefined
          ? { status: 'good' as const, thisUpdate: t0 }
          : { status: 'good' as const, thisUpdate: t0, nextUpdate };
      assert.equal(refreshDelayMs(now, answer), expected);
    });
  }
});

interface Responder {
  url: string;
  requests: { method: string; type: string | undefined; at: number }[];
  maxInFlight: number;
}

/** An HTTP OCSP responder on loopback: `answer` decides each reply (openssl signs the good ones). */
async function httpResponder(
  t: TestContext,
  answer: (req: Buffer, res: http.ServerResponse) => void,
): Promise<Responder> {
  const r: Responder = { url: '', requests: [], maxInFlight: 0 };
  let inFlight = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    r.maxInFlight = Math.max(r.maxInFlight, inFlight);
    r.requests.push({ method: req.method!, type: req.headers['content-type'], at: Date.now() });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.on('finish', () => inFlight--);
      answer(Buffer.concat(chunks), res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return r;
}

function target(leaf: TestLeaf, ca: TestCa, url: string): StapleTarget {
  return {
    fingerprint: new X509Certificate(leaf.certPem).fingerprint256,
    certPem: leaf.certPem + ca.certPem,
    hosts: ['a.example.test'],
    ocspUrl: url,
  };
}

function setup(t: TestContext): { ca: TestCa; db: CaDatabase; leaf: TestLeaf; lines: string[] } {
  const ca = makeCa(tempDir(t));
  const db = caDatabase(ca);
  const leaf = makeLeaf(ca, ['a.example.test']);
  return { ca, db, leaf, lines: [] };
}

test('a good certificate gets one staple, one POST, and loses it when it is no longer tracked', async (t) => {
  const { ca, db, leaf, lines } = setup(t);
  db.add(leaf);
  const responder = await httpResponder(t, (req, res) => {
    res.setHeader('content-type', 'application/ocsp-response');
    res.end(answerOnce(ca, db, req));
  });
  let changes = 0;
  const stapler = new OcspStapler({
    logger: createLogger({ write: (l) => lines.push(l) }),
    onChange: () => changes++,
  });
  t.after(() => stapler.stop());
  const tgt = target(leaf, ca, responder.url);
  stapler.track([tgt]);
  // Tracked again before the answer (a reload): still one request.
  stapler.track([tgt]);
  await waitFor(() => stapler.staple(tgt.fingerprint) !== undefined, 10_000, 'a staple');
  await waitFor(() => changes === 1, 5000, 'the change notification');
  assert.deepEqual(
    responder.requests.map((r) => [r.method, r.type]),
    [['POST', 'application/ocsp-request']],
  );
  assert.ok(lines.some((l) => l.includes('"msg":"ocsp staple updated"') && l.includes('a.example.test')));
  stapler.track([]);
  assert.equal(stapler.staple(tgt.fingerprint), undefined);
});

test('a failing responder is asked one request at a time, each retry after a longer wait', async (t) => {
  const { ca, leaf, lines } = setup(t);
  const responder = await httpResponder(t, (_req, res) => {
    res.statusCode = 500;
    res.end('down');
  });
  const retry = { floorMs: 40, capMs: 160 };
  const stapler = new OcspStapler({
    logger: createLogger({ write: (l) => lines.push(l) }),
    onChange: () => assert.fail('no staple may appear'),
    random: () => 0,
    retry,
  });
  t.after(() => stapler.stop());
  const tgt = target(leaf, ca, responder.url);
  stapler.track([tgt]);
  await waitFor(() => responder.requests.length >= 5, 10_000, 'five attempts');
  stapler.stop();
  assert.equal(responder.maxInFlight, 1);
  const gaps = responder.requests.slice(1, 5).map((r, i) => r.at - responder.requests[i].at);
  // 40, 80, 160, 160 ms: doubling from the floor, then the cap (a timer may round down by a millisecond).
  for (const [i, minimum] of [40, 80, 160, 160].entries()) {
    assert.ok(gaps[i] >= minimum - 2, `gap ${i} is ${gaps[i]} ms, at least ${minimum}`);
  }
  const errors = lines.filter((l) => l.includes('ocsp response not usable'));
  assert.ok(errors.length >= 4);
  assert.match(errors[0], /HTTP 500/);
  assert.match(errors[0], /"failures":1/);
  assert.equal(stapler.staple(tgt.fingerprint), undefined);
});

test('a certificate whose chain has no issuer is not fetched, and that is logged once', (t) => {
  const { ca, leaf, lines } = setup(t);
  const stapler = new OcspStapler({
    logger: createLogger({ write: (l) => lines.push(l) }),
    onChange: () => {},
  });
  t.after(() => stapler.stop());
  const alone = { ...target(leaf, ca, 'http://127.0.0.1:1/'), certPem: leaf.certPem };
  stapler.track([alone]);
  stapler.track([]);
  stapler.track([alone]);
  assert.equal(lines.filter((l) => l.includes('no issuer certificate after the leaf')).length, 1);
  assert.equal(stapler.staple(alone.fingerprint), undefined);
});
