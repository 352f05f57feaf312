/**
 * Open connections per client address for `limits.maxConnectionsPerClient`, counted for the whole
 * gateway (the master holds them for all workers). Each slot belongs to the worker that took it, so
 * a worker that exits takes its connections' slots with it.
 */

export class ClientSlots<Owner> {
  /** `set|client` -> open connections, over all owners. */
  readonly #open = new Map<string, number>();
  readonly #byOwner = new Map<Owner, Map<string, number>>();

  /** One more connection of `client` to the service of `set`, if it stays within `max`. */
  take(owner: Owner, set: string, client: string, max: number): boolean {
    const k = `${set}|${client}`;
    const open = this.#open.get(k) ?? 0;
    if (open >= max) return false;
    this.#open.set(k, open + 1);
    let mine = this.#byOwner.get(owner);
    if (mine === undefined) {
      mine = new Map();
      this.#byOwner.set(owner, mine);
    }
    mine.set(k, (mine.get(k) ?? 0) + 1);
    return true;
  }

  release(owner: Owner, set: string, client: string): void {
    const k = `${set}|${client}`;
    const mine = this.#byOwner.get(owner);
    const held = mine?.get(k) ?? 0;
    if (held === 0) return;
    if (held === 1) mine!.delete(k);
    else mine!.set(k, held - 1);
    this.#drop(k, 1);
  }

  /** The owner (a worker) is gone: so are its connections. */
  dropOwner(owner: Owner): void {
    const mine = this.#byOwner.get(owner);
    if (mine === undefined) return;
    this.#byOwner.delete(owner);
    for (const [k, n] of mine) this.#drop(k, n);
  }

  #drop(k: string, n: number): void {
    const left = (this.#open.get(k) ?? 0) - n;
    if (left > 0) this.#open.set(k, left);
    else this.#open.delete(k);
  }
}
