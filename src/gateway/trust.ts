/**
 * `gateway.trustedProxies`: which peers may tell the gateway who the client is. Only a request whose TCP peer
 * is in the list keeps its incoming X-Forwarded-For (the peer is appended) and X-Forwarded-Proto/-Host; from
 * anyone else those fields are replaced by what the gateway itself sees.
 */
import { nodeNet } from '../util/builtins.ts';

export interface TrustedProxy {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.1`, `10.0.0.0/8`, `::1`, `fd00::/8`; returns an error message for anything else. */
export function parseTrustedProxy(text: string): TrustedProxy | string {
  const s = text.trim();
  const slash = s.indexOf('/');
  const address = slash === -1 ? s : s.slice(0, slash);
  const kind = nodeNet.isIP(address);
  if (kind === 0) return `"${text}" is not an IP address or CIDR range (e.g. 10.0.0.0/8, ::1)`;
  const family = kind === 4 ? 'ipv4' : 'ipv6';
  const max = kind === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > max) return `"${text}": prefix length must be 0..${max}`;
    prefix = Number(p);
  }
  return { address, prefix, family };
}

/**
 * Answers a matcher remembers before it starts over: the peers of a worker's connections are few, and a
 * scan from many addresses cannot grow the cache beyond this.
 */
const REMEMBERED_PEERS = 4096;

/**
 * A matcher for peer addresses (IPv4-mapped IPv6 peers match IPv4 entries). Invalid entries throw.
 * It is asked on every request (headers, rate and connection limits), and every request of a keep-alive
 * connection has the same peer: an answer is remembered per address (a Map lookup, ~7 ns, instead of
 * isIP and BlockList.check, ~180 ns measured).
 */
export function trustMatcher(list: readonly string[] | undefined): (peer: string | undefined) => boolean {
  if (list === undefined || list.length === 0) return () => false;
  const block = new nodeNet.BlockList();
  for (const entry of list) {
    const p = parseTrustedProxy(entry);
    if (typeof p === 'string') throw new Error(`gateway.trustedProxies: ${p}`);
    block.addSubnet(p.address, p.prefix, p.family);
  }
  const remembered = new Map<string, boolean>();
  return (peer) => {
    if (peer === undefined) return false;
    let trusted = remembered.get(peer);
    if (trusted !== undefined) return trusted;
    const kind = nodeNet.isIP(peer);
    trusted = kind !== 0 && block.check(peer, kind === 4 ? 'ipv4' : 'ipv6');
    if (remembered.size >= REMEMBERED_PEERS) remembered.clear();
    remembered.set(peer, trusted);
    return trusted;
  };
}

/**
 * Who the client is, for limits keyed on `ip`: the peer, or the last address a trusted peer put in
 * X-Forwarded-For (the one that proxy saw; earlier entries are the client's own claims).
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | string[] | undefined,
  trusted: (peer: string | undefined) => boolean,
): string | undefined {
  if (forwardedFor === undefined || !trusted(peer)) return peer;
  const v = typeof forwardedFor === 'string' ? forwardedFor : forwardedFor[forwardedFor.length - 1];
  const last = v.slice(v.lastIndexOf(',') + 1).trim();
  return nodeNet.isIP(last) === 0 ? peer : last;
}
