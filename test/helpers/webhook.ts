import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** A real webhook receiver that records every JSON document posted to it. */
export async function webhookReceiver(t: { after: (fn: () => void | Promise<void>) => void }) {
  const got: Array<{ event: string; service: string; revision?: number; message: string }> = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      got.push(JSON.parse(body));
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}
