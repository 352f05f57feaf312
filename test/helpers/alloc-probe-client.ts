/** Asks a worker's alloc probe (alloc-probe.ts, loaded there with --import) for its counts so far. */
import net from 'node:net';

export interface ProbeAnswer {
  /** Bytes the worker's JS heap allocated since the probe started. */
  allocated: number;
  gcs: number;
  /** Time V8 says those GCs took. */
  gcMs: number;
}

export function readAllocProbe(socketPath: string): Promise<ProbeAnswer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    socket.on('end', () => resolve(JSON.parse(text) as ProbeAnswer));
    socket.on('error', reject);
    socket.write('?');
  });
}
