/** HTTPS and HTTP/2 clients for tests: one request each, with the served certificate and protocol. */
import http2 from 'node:http2';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';

export interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** ALPN protocol of the connection, and the subject CN / SAN of the certificate the server sent. */
  alpn: string | false | null;
  certSubject: string;
  certSan: string;
  certSerial: string;
  certIssuer: string;
}

/** One HTTPS/1.1 request to 127.0.0.1:port with SNI `servername`, trusting `ca`. */
export function httpsGet(
  port: number,
  servername: string,
  ca: string,
  urlPath = '/',
  headers: Record<string, string> = {},
): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        servername,
        path: urlPath,
        headers: { host: servername, ...headers },
        ca,
        agent: false,
        ALPNProtocols: ['http/1.1'],
      } as https.RequestOptions,
      (res) => {
        const socket = res.socket as TLSSocket;
        const cert = socket.getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body,
            alpn: socket.alpnProtocol,
            certSubject: String(cert.subject?.CN ?? ''),
            certSan: cert.subjectaltname ?? '',
            certSerial: cert.serialNumber ?? '',
            certIssuer: String(cert.issuer?.CN ?? ''),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** One HTTP/2 request over TLS (ALPN h2) to 127.0.0.1:port with SNI `servername`. */
export function h2Get(
  port: number,
  servername: string,
  ca: string,
  urlPath = '/',
  headers: Record<string, string> = {},
): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://${servername}:${port}`, {
      ca,
      servername,
      host: '127.0.0.1',
      // Resolve the name to loopback whatever it is.
      lookup: (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }] as never),
    } as http2.SecureClientSessionOptions);
    session.on('error', reject);
    const req = session.request({ ':path': urlPath, ...headers });
    let status = 0;
    let hdrs: Record<string, string | string[] | undefined> = {};
    let body = '';
    req.setEncoding('utf8');
    req.on('response', (h) => {
      status = Number(h[':status']);
      hdrs = h as Record<string, string | string[] | undefined>;
    });
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const socket = session.socket as TLSSocket;
      const cert = socket.getPeerCertificate();
      const reply: TlsReply = {
        status,
        headers: hdrs,
        body,
        alpn: socket.alpnProtocol,
        certSubject: String(cert.subject?.CN ?? ''),
        certSan: cert.subjectaltname ?? '',
        certSerial: cert.serialNumber ?? '',
        certIssuer: String(cert.issuer?.CN ?? ''),
      };
      session.close();
      resolve(reply);
    });
    req.on('error', reject);
    req.end();
  });
}
