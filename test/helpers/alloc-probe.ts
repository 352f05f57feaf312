/**
 * Loaded into a gateway worker with `--import` (through CUTOVER_WORKER_NODE_FLAGS) by
 * test/gateway-alloc.test.ts: answers on the unix socket CUTOVER_ALLOC_PROBE with the bytes the worker's
 * JS heap has allocated since it started, as JSON `{ allocated, gcs, gcMs }` (gcMs: the time V8 says those GCs took).
 *
 * V8 has no allocation counter for us, but it reports the used heap before and after every GC
 * (v8.GCProfiler): allocated = used now - used at start + everything the GCs freed. That is exact for
 * scavenges; a mark-compact's sweeping may finish later, which only makes the figure larger, and the
 * measured window of the test is far too short and too small for one.
 */
import net from 'node:net';
import v8 from 'node:v8';

const socketPath = process.env.CUTOVER_ALLOC_PROBE;
if (socketPath !== undefined && socketPath !== '') {
  const start = v8.getHeapStatistics().used_heap_size;
  let freed = 0;
  let gcs = 0;
  let gcMs = 0;
  let profiler = new v8.GCProfiler();
  profiler.start();
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    socket.once('data', () => {
      // A GCProfiler reports only when stopped: stop it, count, and start the next one.
      const report = profiler.stop();
      profiler = new v8.GCProfiler();
      profiler.start();
      for (const s of report?.statistics ?? []) {
        gcs++;
        gcMs += s.cost / 1000;
        freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
      }
      const allocated = v8.getHeapStatistics().used_heap_size - start + freed;
      socket.end(JSON.stringify({ allocated, gcs, gcMs }));
    });
  });
  server.listen(socketPath);
  server.unref();
}
