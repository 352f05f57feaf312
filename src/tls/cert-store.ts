/**
 * Certificates and the ACME account on disk, under one directory (the gateway's `<dataDir>/certs`):
 *
 *   account.key          the ACME account's private key (PEM)
 *   account.json         { directory, url } of the account at that CA, so a restart skips newAccount
 *   hosts/<host>.pem     the certificate chain followed by its private key
 *
 * Chain and key share one file so that replacing them is one rename: a crash can never leave a new
 * certificate beside the old key. Every file is written to a temporary name, synced, then renamed;
 * files are 0600 and directories 0700 because they hold private keys.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';

export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

const ACCOUNT_KEY_FILE = 'account.key';
const ACCOUNT_FILE = 'account.json';
const HOSTS_DIR = 'hosts';
const HOST_SUFFIX = '.pem';
/** A DNS name as a file name: no slashes, no leading dot, nothing a path could escape through. */
const HOST_NAME = /^(?!-)[a-z0-9-]{1,63}(?:\.(?!-)[a-z0-9-]{1,63})*$/;
const KEY_BLOCK = /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----\s*/;

export interface StoredCertificate {
  /** Leaf first, then intermediates. */
  certPem: string;
  keyPem: string;
}

export interface StoredAccount {
  /** The ACME directory URL the account belongs to. */
  directory: string;
  /** The account URL (the `kid` of signed requests). */
  url: string;
}

export class CertStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** The account key PEM, or undefined when none was saved yet. */
  async loadAccountKey(): Promise<string | undefined> {
    return readOptional(path.join(this.dir, ACCOUNT_KEY_FILE));
  }

  async saveAccountKey(keyPem: string): Promise<void> {
    await this.#ensureDir(this.dir);
    await writeAtomic(path.join(this.dir, ACCOUNT_KEY_FILE), keyPem);
  }

  async loadAccount(): Promise<StoredAccount | undefined> {
    const text = await readOptional(path.join(this.dir, ACCOUNT_FILE));
    if (text === undefined) return undefined;
    try {
      const parsed = JSON.parse(text) as Partial<StoredAccount>;
      if (typeof parsed.directory === 'string' && typeof parsed.url === 'string') {
        return { directory: parsed.directory, url: parsed.url };
      }
    } catch {}
    // An unreadable account record only costs one newAccount call (same key, same account).
    return undefined;
  }

  async saveAccount(account: StoredAccount): Promise<void> {
    await this.#ensureDir(this.dir);
    await writeAtomic(path.join(this.dir, ACCOUNT_FILE), `${JSON.stringify(account)}\n`);
  }

  /** The stored chain and key of `host`, or undefined. */
  async load(host: string): Promise<StoredCertificate | undefined> {
    const file = this.#hostFile(host);
    const text = await readOptional(file);
    if (text === undefined) return undefined;
    const key = KEY_BLOCK.exec(text);
    if (key === null) throw new Error(`certificate store ${file}: no private key in the file`);
    const certPem = (text.slice(0, key.index) + text.slice(key.index + key[0].length)).trim();
    return { certPem: `${certPem}\n`, keyPem: `${key[0].trim()}\n` };
  }

  async save(host: string, certPem: string, keyPem: string): Promise<void> {
    const file = this.#hostFile(host);
    await this.#ensureDir(this.dir);
    await this.#ensureDir(path.dirname(file));
    await writeAtomic(file, `${certPem.trim()}\n${keyPem.trim()}\n`);
  }

  /** Hosts with a stored certificate, sorted. */
  async list(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(path.join(this.dir, HOSTS_DIR));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    return names
      .filter((n) => n.endsWith(HOST_SUFFIX))
      .map((n) => n.slice(0, -HOST_SUFFIX.length))
      .filter((h) => HOST_NAME.test(h))
      .sort();
  }

  /** Removes the stored certificate of `host` (no error when there is none). */
  async remove(host: string): Promise<void> {
    await rm(this.#hostFile(host), { force: true });
  }

  /** The file of `host`; throws for a name that is not a plain DNS name. */
  #hostFile(host: string): string {
    const name = host.toLowerCase();
    if (!HOST_NAME.test(name)) {
      throw new Error(`certificate store: ${JSON.stringify(host)} is not a DNS host name`);
    }
    return path.join(this.dir, HOSTS_DIR, name + HOST_SUFFIX);
  }

  async #ensureDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask, and an existing directory keeps its mode: set it.
    await chmod(dir, DIR_MODE);
  }
}

async function readOptional(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write to a temporary sibling, fsync, rename over `file`, fsync the directory. */
async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', FILE_MODE);
  try {
    await handle.writeFile(text);
    await handle.chmod(FILE_MODE);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const dir = await open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
