/**
 * Loaded into a gateway worker with `--import` (CUTOVER_WORKER_NODE_FLAGS) to see WHERE it allocates:
 * V8's sampling heap profiler, keeping the samples of objects already collected (unlike `--heap-prof`,
 * which reports what is still alive at exit, i.e. not the per-request garbage). Written as a
 * `.heapprofile` (Chrome DevTools, or bench/profile/top-alloc.ts) to $CUTOVER_ALLOC_SAMPLES when the
 * worker exits.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const out = process.env.CUTOVER_ALLOC_SAMPLES;
if (out !== undefined && out !== '') {
  const session = new Session();
  session.connect();
  session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // A same-thread inspector session answers synchronously, so this works in 'exit'.
  process.on('exit', () => {
    session.post('HeapProfiler.stopSampling', (err, res) => {
      if (err === null) writeFileSync(out, JSON.stringify(res.profile));
    });
  });
}
