/**
 * gRPC for the tests: the Echo fixture (test/fixtures/grpc-server.mjs) as a real child process, and
 * @grpc/grpc-js clients of it (through the gateway) with promise-shaped calls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
export const GRPC_SERVER = path.join(FIXTURES, 'grpc-server.mjs');

export interface SayReply {
  text: string;
  instance: string;
}

export interface CountReply {
  n: number;
  instance: string;
  payload: Buffer;
}

/** The Echo client as grpc-js builds it from the proto (methods typed by hand below). */
export interface EchoClient extends grpc.Client {
  Say(
    req: { text: string; status?: number; message?: string },
    metadata: grpc.Metadata,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: SayReply) => void,
  ): grpc.ClientUnaryCall;
  Count(
    req: { count: number; intervalMs?: number; payloadBytes?: number },
    options?: grpc.CallOptions,
  ): grpc.ClientReadableStream<CountReply>;
}

type EchoConstructor = new (
  target: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => EchoClient;

let echoCtor: EchoConstructor | null = null;

function echoConstructor(): EchoConstructor {
  if (echoCtor === null) {
    const def = protoLoader.loadSync(path.join(FIXTURES, 'echo.proto'), { keepCase: true, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      cutover: { test: { Echo: EchoConstructor } };
    };
    echoCtor = pkg.cutover.test.Echo;
  }
  return echoCtor;
}

/** A client closed in t.after. `tls`: the CA and the name the certificate is for. */
export function echoClient(t: TestContext, port: number, tls?: { caPem: string; host: string }): EchoClient {
  const Echo = echoConstructor();
  const client =
    tls === undefined
      ? new Echo(`127.0.0.1:${port}`, grpc.credentials.createInsecure())
      : new Echo(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(tls.caPem)), {
          'grpc.ssl_target_name_override': tls.host,
          'grpc.default_authority': tls.host,
        });
  t.after(() => client.close());
  return client;
}

export interface UnaryOutcome {
  code: number;
  details: string;
  reply?: SayReply;
  trailers: Record<string, string>;
}

/** One unary call; resolves with its status (OK or not), reply and trailing metadata. */
export function say(
  client: EchoClient,
  req: { text: string; status?: number; message?: string },
  deadlineMs = 10_000,
): Promise<UnaryOutcome> {
  return new Promise((resolve) => {
    let result: UnaryOutcome | null = null;
    let trailers: Record<string, string> | null = null;
    const settle = () => {
      if (result !== null && trailers !== null) resolve({ ...result, trailers });
    };
    const call = client.Say(req, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err, reply) => {
      result =
        err !== null
          ? { code: err.code, details: err.details, trailers: {} }
          : { code: 0, details: '', reply, trailers: {} };
      settle();
    });
    call.on('status', (s: grpc.StatusObject) => {
      trailers = flat(s.metadata);
      settle();
    });
  });
}

export interface StreamOutcome {
  code: number;
  details: string;
  replies: CountReply[];
  trailers: Record<string, string>;
}

/** Reads a Count stream to its end; `onReply` may pause the stream (backpressure). */
export function readCount(
  call: grpc.ClientReadableStream<CountReply>,
  onReply?: (r: CountReply, call: grpc.ClientReadableStream<CountReply>) => void,
): Promise<StreamOutcome> {
  const replies: CountReply[] = [];
  return new Promise((resolve) => {
    let error: grpc.ServiceError | null = null;
    call.on('data', (r: CountReply) => {
      replies.push(r);
      onReply?.(r, call);
    });
    call.on('error', (err: grpc.ServiceError) => {
      error = err;
    });
    call.on('status', (s: grpc.StatusObject) => {
      // 'status' comes after 'error'/'end': the outcome is complete here.
      setImmediate(() =>
        resolve({ code: s.code, details: error?.details ?? s.details, replies, trailers: flat(s.metadata) }),
      );
    });
  });
}

function flat(md: grpc.Metadata | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (md === undefined) return out;
  for (const [k, v] of Object.entries(md.getMap())) out[k] = String(v);
  return out;
}

export interface GrpcInstance {
  port: number;
  child: ChildProcess;
}

/** Starts the Echo fixture as a child process; killed in t.after. */
export async function startGrpcInstance(t: TestContext, instance: string): Promise<GrpcInstance> {
  const child = spawn(process.execPath, [GRPC_SERVER, '--port', '0', '--instance', instance], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve((JSON.parse(out.slice(0, nl)) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`grpc fixture exited with ${code}`)));
  });
  return { port, child };
}
