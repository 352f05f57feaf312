/** The fleet's etcd key layout, all under one prefix (`cluster.prefix`). */
export class FleetKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The leader's key (leased): value is the leading host's name. */
  get leader(): string {
    return `${this.prefix}leader`;
  }
  /** Heartbeat reports, one leased key per live host. */
  get hosts(): string {
    return `${this.prefix}hosts/`;
  }
  host(name: string): string {
    return `${this.hosts}${name}`;
  }
  /** Every host that ever joined (not leased): `hosts: all` means these. */
  get members(): string {
    return `${this.prefix}members/`;
  }
  member(name: string): string {
    return `${this.members}${name}`;
  }
  /** Fleet state per service, written by the leader only (fenced). */
  get services(): string {
    return `${this.prefix}services/`;
  }
  service(name: string): string {
    return `${this.services}${name}`;
  }
  /** Commands any host's API submits; the leader answers each in `results/` and deletes it. */
  get commands(): string {
    return `${this.prefix}commands/`;
  }
  command(id: string): string {
    return `${this.commands}${id}`;
  }
  result(id: string): string {
    return `${this.prefix}results/${id}`;
  }
  /** Maintenance marks (`cutover host drain`). */
  get drains(): string {
    return `${this.prefix}drain/`;
  }
  drain(name: string): string {
    return `${this.drains}${name}`;
  }
  /** Fleet events, keyed so that a prefix range returns them in order. */
  get events(): string {
    return `${this.prefix}events/`;
  }
  event(time: number, seq: number): string {
    return `${this.events}${String(time).padStart(15, '0')}-${String(seq).padStart(6, '0')}`;
  }
  /** A rollout's gateway counts per host (leased), summed by every host's analysis. */
  get traffic(): string {
    return `${this.prefix}traffic/`;
  }
  trafficOf(service: string, host: string): string {
    return `${this.traffic}${service}/${host}`;
  }
  /** API tokens of the fleet (hashes), mirrored into every host's state DB. */
  get tokens(): string {
    return `${this.prefix}tokens/`;
  }
  token(name: string): string {
    return `${this.tokens}${name}`;
  }
  /** The fleet's audit chain: entries by fleet seq, its head, and each host's shipped mark. */
  get auditEntries(): string {
    return `${this.prefix}audit/entries/`;
  }
  auditEntry(seq: number): string {
    return `${this.auditEntries}${String(seq).padStart(12, '0')}`;
  }
  get auditHead(): string {
    return `${this.prefix}audit/head`;
  }
  auditShipped(host: string): string {
    return `${this.prefix}audit/shipped/${host}`;
  }
}
