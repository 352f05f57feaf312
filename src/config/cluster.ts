/**
 * `cluster:`: fleet mode. Every host runs the same file; this section says how they reach etcd and
 * who this host is. `CUTOVER_HOST` and `CUTOVER_ADVERTISE` override the two per-host keys so that the
 * file itself can be identical everywhere. The config has no environment substitution, so the etcd
 * password comes from the file (`password`) or from a file of its own (`passwordFile`).
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isIP, isIPv6 } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { type Ctx, describe, get, type Obj, type Path, report } from './ctx.ts';
import * as D from './defaults.ts';
import { formatDuration } from './duration.ts';
import { checkHostName } from './fleet.ts';
import { CLUSTER_KEYS, ETCD_KEYS, ETCD_TLS_KEYS, HOSTNAME_RE, ON_HOST_LOST } from './keys.ts';
import { accept, type Checked, readDuration, readObj, readString } from './read.ts';
import { didYouMean } from './suggest.ts';
import type { ClusterConfig, ControlConfig } from './types.ts';

/** Overrides `cluster.host`. */
export const HOST_ENV = 'CUTOVER_HOST';
/** Overrides `cluster.advertise`. */
export const ADVERTISE_ENV = 'CUTOVER_ADVERTISE';

/** What `cluster:` takes from the machine it is loaded on (passed in, so tests choose it). */
export interface HostFacts {
  /** `CUTOVER_HOST`, `CUTOVER_ADVERTISE`; an empty value counts as unset. */
  env: Readonly<Record<string, string | undefined>>;
  /** The default of `cluster.host` (os.hostname()). */
  hostname: string;
}

const ENDPOINT_HINT = 'must be an etcd URL like http://10.0.0.1:2379';

/** One etcd endpoint: `http(s)://host:port`, nothing else; returned in one spelling (lower-case host). */
export function checkEndpoint(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') return { ok: false, error: `${ENDPOINT_HINT}, ${describe(raw)}` };
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, error: `${ENDPOINT_HINT}, ${describe(raw)}` };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, error: `must use http:// or https://, ${describe(raw)}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, error: 'must not contain credentials (use cluster.etcd.username and password)' };
  }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '') {
    return {
      ok: false,
      error: `must be scheme://host:port, without a path, query or fragment, ${describe(raw)}`,
    };
  }
  // URL drops a port that is the scheme's default, so the written text is what says one was given.
  const port = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/]*):(\d{1,5})\/?$/i.exec(raw.trim())?.[1];
  if (port === undefined || url.hostname === '') {
    return { ok: false, error: `needs host:port (etcd's client port is usually 2379), ${describe(raw)}` };
  }
  return { ok: true, value: `${url.protocol}//${url.hostname}:${Number(port)}` };
}

/** An address nobody can connect to: the wildcard a listener binds. */
function isUnspecified(host: string): boolean {
  return host === '0.0.0.0' || (isIPv6(host) && /^[0:]+$/.test(host));
}

/** `cluster.advertise`: an IP or DNS name other hosts can connect to (the port is control.listen's). */
export function checkAdvertise(raw: unknown): Checked<string> {
  if (typeof raw !== 'string') {
    return { ok: false, error: `must be an IP address or DNS name, ${describe(raw)}` };
  }
  if (isUnspecified(raw)) {
    return { ok: false, error: `must be an address other hosts can connect to, not the wildcard ${raw}` };
  }
  if (isIP(raw) !== 0) return { ok: true, value: raw.toLowerCase() };
  if (HOSTNAME_RE.test(raw)) return { ok: true, value: raw.toLowerCase() };
  const why = /^\[.*\]$/.test(raw)
    ? 'write an IPv6 address without brackets'
    : raw.includes(':')
      ? "without a port (other hosts use control.listen's port)"
      : 'not a valid address';
  return { ok: false, error: `must be an IP address or DNS name, ${why}, ${describe(raw)}` };
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters
const PREFIX_BAD_CHAR = /[\s\x00-\x1f\x7f]/;

/** `cluster.prefix`: the etcd key prefix. */
export function checkPrefix(raw: unknown): Checked<string> {
  if (typeof raw === 'string' && raw.startsWith('/') && raw.endsWith('/') && !PREFIX_BAD_CHAR.test(raw)) {
    return { ok: true, value: raw };
  }
  return {
    ok: false,
    error: `must start and end with "/" and have no spaces (e.g. /cutover/), ${describe(raw)}`,
  };
}

/** `cluster.leaseTtl` in ms: whole seconds within the bounds (etcd grants leases in seconds). */
export function checkLeaseTtl(ms: number): Checked<number> {
  const s = ms / 1000;
  if (Number.isInteger(s) && s >= D.MIN_LEASE_TTL_SECONDS && s <= D.MAX_LEASE_TTL_SECONDS) {
    return { ok: true, value: ms };
  }
  return {
    ok: false,
    error: `must be whole seconds from ${D.MIN_LEASE_TTL_SECONDS}s to ${D.MAX_LEASE_TTL_SECONDS}s, got ${formatDuration(ms)}`,
  };
}

/** A value from the environment, empty meaning unset. */
function fromEnv(facts: HostFacts, name: string): string | undefined {
  const v = facts.env[name];
  return v === undefined || v === '' ? undefined : v;
}

export function validateClusterAt(
  ctx: Ctx,
  raw: unknown,
  control: ControlConfig,
  facts: HostFacts,
): ClusterConfig {
  const path = ['cluster'];
  const o = readObj(ctx, path, raw, CLUSTER_KEYS);
  // Not a mapping: reported once; the keys it lacks would only repeat that (the result is a failure).
  if (o === undefined) {
    return {
      etcd: { endpoints: [], dialTimeoutMs: 0 },
      host: '',
      advertise: '',
      prefix: D.DEFAULT_CLUSTER_PREFIX,
      leaseTtlMs: 0,
      onHostLost: D.DEFAULT_ON_HOST_LOST,
    };
  }
  return {
    etcd: readEtcd(ctx, [...path, 'etcd'], get(o, 'etcd')),
    host: readHost(ctx, o, path, facts),
    advertise: readAdvertise(ctx, o, path, control, facts),
    prefix: accept(ctx, [...path, 'prefix'], checkPrefix(get(o, 'prefix') ?? D.DEFAULT_CLUSTER_PREFIX)) ?? '',
    leaseTtlMs: readLeaseTtl(ctx, o, path),
    onHostLost: readOnHostLost(ctx, o, path),
  };
}

function readHost(ctx: Ctx, o: Obj, path: Path, facts: HostFacts): string {
  const p = [...path, 'host'];
  const env = fromEnv(facts, HOST_ENV);
  if (env !== undefined) {
    const r = checkHostName(env);
    if (!r.ok) report(ctx, p, `from ${HOST_ENV}: ${r.error}`);
    // The file's value is still checked: the same file serves hosts without the variable.
  }
  const raw = get(o, 'host');
  if (raw !== undefined) {
    const r = accept(ctx, p, checkHostName(raw));
    if (env === undefined) return r ?? '';
  }
  if (env !== undefined) return env;
  // Host names are case-insensitive; the machine's may well be written "Web-1".
  const machine = facts.hostname.toLowerCase();
  const r = checkHostName(machine);
  if (r.ok) return r.value;
  report(
    ctx,
    p,
    `is not set, and this machine's host name ${JSON.stringify(facts.hostname)} cannot be used: it ${r.error.replace(/, got .*$/, '')}; set cluster.host or ${HOST_ENV}`,
  );
  return '';
}

function readAdvertise(ctx: Ctx, o: Obj, path: Path, control: ControlConfig, facts: HostFacts): string {
  const p = [...path, 'advertise'];
  const env = fromEnv(facts, ADVERTISE_ENV);
  const raw = get(o, 'advertise');
  let fromFile: string | undefined;
  if (raw !== undefined) fromFile = accept(ctx, p, checkAdvertise(raw));
  if (env !== undefined) {
    const r = checkAdvertise(env);
    if (r.ok) return r.value;
    report(ctx, p, `from ${ADVERTISE_ENV}: ${r.error}`);
    return '';
  }
  if (raw !== undefined) return fromFile ?? '';
  const host = control.listen.host;
  if (isUnspecified(host)) {
    report(
      ctx,
      p,
      `is required when control.listen is ${host} (every interface): the IP or DNS name other hosts reach this host's control API at (or set ${ADVERTISE_ENV})`,
    );
    return '';
  }
  return host.toLowerCase();
}

function readLeaseTtl(ctx: Ctx, o: Obj, path: Path): number {
  const ms = readDuration(ctx, o, path, 'leaseTtl', D.DEFAULT_LEASE_TTL);
  if (ms === 0) return ms; // not a duration: already reported
  return accept(ctx, [...path, 'leaseTtl'], checkLeaseTtl(ms)) ?? ms;
}

function readOnHostLost(ctx: Ctx, o: Obj, path: Path): ClusterConfig['onHostLost'] {
  const raw = get(o, 'onHostLost') ?? D.DEFAULT_ON_HOST_LOST;
  if (typeof raw === 'string' && (ON_HOST_LOST as readonly string[]).includes(raw)) {
    return raw as ClusterConfig['onHostLost'];
  }
  const hint = typeof raw === 'string' ? didYouMean(raw, ON_HOST_LOST) : '';
  report(ctx, [...path, 'onHostLost'], `must be "pause" or "continue", ${describe(raw)}${hint}`);
  return D.DEFAULT_ON_HOST_LOST;
}

function readEtcd(ctx: Ctx, path: Path, raw: unknown): ClusterConfig['etcd'] {
  const o = readObj(ctx, path, raw, ETCD_KEYS);
  if (o === undefined) return { endpoints: [], dialTimeoutMs: 0 }; // reported: not a mapping
  const endpoints = readEndpoints(ctx, [...path, 'endpoints'], get(o, 'endpoints'));
  const etcd: ClusterConfig['etcd'] = {
    endpoints,
    dialTimeoutMs: readDuration(ctx, o, path, 'dialTimeout', D.DEFAULT_ETCD_DIAL_TIMEOUT),
  };
  readCredentials(ctx, path, o, etcd);
  const rawTls = get(o, 'tls');
  if (rawTls !== undefined) {
    etcd.tls = readEtcdTls(ctx, [...path, 'tls'], rawTls);
    const plain = endpoints.findIndex((e) => e.startsWith('http:'));
    if (plain >= 0) {
      report(
        ctx,
        [...path, 'tls'],
        `only with https:// endpoints (${[...path, 'endpoints', String(plain)].join('.')} is ${endpoints[plain]})`,
      );
    }
  }
  return etcd;
}

function readEndpoints(ctx: Ctx, path: Path, raw: unknown): string[] {
  if (raw === undefined) {
    report(ctx, path, 'is required: the etcd client URLs, e.g. [http://10.0.0.1:2379]');
    return [];
  }
  if (!Array.isArray(raw) || raw.length === 0) {
    report(
      ctx,
      path,
      `must be a non-empty list of etcd URLs (e.g. [http://10.0.0.1:2379]), ${describe(raw)}`,
    );
    return [];
  }
  const out: string[] = [];
  raw.forEach((item: unknown, i: number) => {
    const p = [...path, String(i)];
    const url = accept(ctx, p, checkEndpoint(item));
    if (url === undefined) return;
    if (out.includes(url)) {
      report(ctx, p, `duplicate endpoint ${url}`);
      return;
    }
    // One client, one transport: TLS either applies to every endpoint or to none.
    if (out.length > 0 && url.startsWith('https:') !== out[0].startsWith('https:')) {
      report(ctx, p, `mixes http:// and https:// (the first endpoint is ${out[0]}): use one scheme`);
      return;
    }
    out.push(url);
  });
  return out;
}

function readCredentials(ctx: Ctx, path: Path, o: Obj, etcd: ClusterConfig['etcd']): void {
  const username = get(o, 'username') === undefined ? undefined : readString(ctx, o, path, 'username', '');
  if (username === '') report(ctx, [...path, 'username'], 'must not be empty');
  let password: string | undefined;
  const hasPassword = get(o, 'password') !== undefined;
  const hasFile = get(o, 'passwordFile') !== undefined;
  if (hasPassword && hasFile) {
    report(ctx, [...path, 'passwordFile'], 'give password or passwordFile, not both');
  } else if (hasPassword) {
    password = readString(ctx, o, path, 'password', '');
    if (password === '') report(ctx, [...path, 'password'], 'must not be empty');
    else if (password !== undefined && /\$\{[A-Za-z_][A-Za-z0-9_]*\}/.test(password)) {
      report(
        ctx,
        [...path, 'password'],
        'the config has no environment substitution (this would be the password itself): put the password in a file and set passwordFile',
      );
    }
  } else if (hasFile) {
    password = readPasswordFile(ctx, o, path);
  }
  if (username !== undefined && !hasPassword && !hasFile) {
    report(ctx, [...path, 'username'], 'needs password or passwordFile (both or neither)');
  }
  if (username === undefined && (hasPassword || hasFile)) {
    report(ctx, [...path, hasPassword ? 'password' : 'passwordFile'], 'needs username (both or neither)');
  }
  if (username) etcd.username = username;
  if (password) etcd.password = password;
}

/** The password file's content without its final newline (as `echo secret > file` writes it). */
function readPasswordFile(ctx: Ctx, o: Obj, path: Path): string | undefined {
  const file = readableFile(ctx, o, path, 'passwordFile');
  if (file === undefined) return undefined;
  const p = [...path, 'passwordFile'];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    report(ctx, p, `cannot read ${file}: ${(e as Error).message}`);
    return undefined;
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') report(ctx, p, `${file} is empty`);
  else if (/[\r\n]/.test(password)) report(ctx, p, `${file} must hold the password on one line`);
  else return password;
  return undefined;
}

function readEtcdTls(ctx: Ctx, path: Path, raw: unknown): NonNullable<ClusterConfig['etcd']['tls']> {
  const o = readObj(ctx, path, raw, ETCD_TLS_KEYS) ?? {};
  const tls: NonNullable<ClusterConfig['etcd']['tls']> = {};
  for (const key of ETCD_TLS_KEYS) {
    const file = get(o, key) === undefined ? undefined : readableFile(ctx, o, path, key);
    if (file !== undefined) tls[key] = file;
  }
  if ((get(o, 'cert') === undefined) !== (get(o, 'key') === undefined)) {
    const [missing, given] = get(o, 'cert') === undefined ? ['cert', 'key'] : ['key', 'cert'];
    report(ctx, [...path, missing], `is required with ${given} (a client certificate needs both)`);
  }
  return tls;
}

/** A path key, absolute against the config file's directory; the file must exist and be readable now. */
function readableFile(ctx: Ctx, o: Obj, path: Path, key: string): string | undefined {
  const v = readString(ctx, o, path, key, undefined);
  if (v === undefined) return undefined;
  const p = [...path, key];
  if (v.trim() === '' || v.includes('\0')) {
    report(ctx, p, `must be the path of a file, ${describe(v)}`);
    return undefined;
  }
  const file = isAbsolute(v) ? resolve(v) : resolve(ctx.baseDir, v);
  try {
    if (!statSync(file).isFile()) {
      report(ctx, p, `${file} is not a file`);
      return undefined;
    }
    accessSync(file, constants.R_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
    report(ctx, p, `cannot read ${file}: ${why}`);
    return undefined;
  }
  return file;
}
