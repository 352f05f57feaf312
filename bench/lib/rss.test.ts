import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseDone } from './idle-clients.ts';
import { parseStatus, treeOf } from './rss.ts';

const status = (name: string, pid: number, ppid: number, rss?: number): string =>
  `Name:\t${name}\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t${pid}\nNgid:\t0\nPid:\t${pid}\nPPid:\t${ppid}\n` +
  (rss === undefined ? '' : `VmPeak:\t  999999 kB\nVmRSS:\t   ${rss} kB\nRssAnon:\t    1 kB\n`) +
  'Threads:\t7\n';

test('parseStatus reads pid, ppid and VmRSS (not VmPeak or RssAnon)', () => {
  assert.deepEqual(parseStatus(status('node', 42, 7, 51234)), {
    pid: 42,
    ppid: 7,
    rssKb: 51234,
    name: 'node',
  });
  // Kernel threads have no VmRSS line.
  assert.deepEqual(parseStatus(status('kworker/0:1', 9, 2)), {
    pid: 9,
    ppid: 2,
    rssKb: 0,
    name: 'kworker/0:1',
  });
  assert.equal(parseStatus('Name:\tx\n'), null);
});

test('treeOf takes the root and all its descendants, nothing else', () => {
  const all = [
    { pid: 1, ppid: 0, rssKb: 5, name: 'init' },
    { pid: 10, ppid: 1, rssKb: 100, name: 'master' },
    { pid: 11, ppid: 10, rssKb: 60, name: 'worker' },
    { pid: 12, ppid: 10, rssKb: 61, name: 'worker' },
    { pid: 13, ppid: 12, rssKb: 3, name: 'grandchild' },
    { pid: 20, ppid: 1, rssKb: 999, name: 'other' },
  ];
  const tree = treeOf(all, 10);
  assert.deepEqual(tree.map((p) => p.pid).sort(), [10, 11, 12, 13]);
  assert.equal(
    tree.reduce((a, p) => a + p.rssKb, 0),
    224,
  );
  assert.deepEqual(treeOf(all, 99), []);
});

test('responseDone waits for the whole keep-alive answer, or the 101', () => {
  const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n';
  assert.equal(responseDone('keepalive', 'HTTP/1.1 200 OK\r\nContent-'), null);
  assert.equal(responseDone('keepalive', ok), null);
  assert.equal(responseDone('keepalive', `${ok}o`), null);
  assert.equal(responseDone('keepalive', `${ok}ok`), true);
  assert.equal(responseDone('keepalive', 'HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n'), false);
  assert.equal(
    responseDone('websocket', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n'),
    true,
  );
  assert.equal(responseDone('websocket', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'), false);
});
