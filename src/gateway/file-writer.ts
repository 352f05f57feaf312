/** Writes one file atomically (temp file, rename), one write at a time, in the order asked. */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

export class FileWriter {
  readonly file: string;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string) {
    this.file = file;
  }

  write(text: string): Promise<void> {
    const file = this.file;
    const write = async () => {
      await mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      await writeFile(tmp, text);
      await rename(tmp, file);
    };
    const p = this.#queue.then(write, write);
    this.#queue = p.catch(() => {});
    return p;
  }
}
