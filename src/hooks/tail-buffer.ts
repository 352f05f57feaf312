/** Keeps the last `limit` bytes written (a hook's output can be unbounded). */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly limit: number;
  constructor(limit: number) {
    this.limit = limit;
  }
  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size > this.limit * 2) this.compact();
  }
  private compact(): void {
    const all = Buffer.concat(this.chunks);
    const tail = all.subarray(Math.max(0, all.length - this.limit));
    this.chunks = [Buffer.from(tail)];
    this.size = tail.length;
  }
  text(): string {
    this.compact();
    let buf = this.chunks[0] ?? Buffer.alloc(0);
    // Do not start in the middle of a UTF-8 sequence.
    let skip = 0;
    while (skip < buf.length && skip < 3 && (buf[skip] & 0xc0) === 0x80) skip++;
    if (skip > 0) buf = buf.subarray(skip);
    return buf.toString('utf8');
  }
}
