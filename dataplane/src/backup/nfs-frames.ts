/**
 * lh-nfs's frames (native/lh-nfs.c), little-endian:
 *   request   u8 op | u32 alen | a | u32 blen | b | u32 dlen | data
 *   response  i32 status (0 or -errno) | u32 len | payload (an error's payload is its message)
 */
export type NfsOp = 'g' | 'p' | 's' | 'l' | 'a' | 'c' | 'r' | 'q';

export function encodeNfsRequest(op: NfsOp, a = '', b = '', data?: Buffer): Buffer {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  const dl = data?.length ?? 0;
  const head = Buffer.allocUnsafe(1 + 4 + ab.length + 4 + bb.length + 4);
  let o = head.writeUInt8(op.charCodeAt(0), 0);
  o = head.writeUInt32LE(ab.length, o);
  o += ab.copy(head, o);
  o = head.writeUInt32LE(bb.length, o);
  o += bb.copy(head, o);
  head.writeUInt32LE(dl, o);
  return data && dl > 0 ? Buffer.concat([head, data]) : head;
}

export interface NfsResponse {
  status: number;
  payload: Buffer;
}

/** Splits a byte stream into responses; `push` returns those completed by the chunk. */
export class NfsResponseParser {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  push(chunk: Buffer): NfsResponse[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: NfsResponse[] = [];
    for (;;) {
      if (this.pendingBytes < 8) break;
      const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.pending = [buf];
      const len = buf.readUInt32LE(4);
      if (buf.length < 8 + len) break;
      out.push({ status: buf.readInt32LE(0), payload: buf.subarray(8, 8 + len) });
      const rest = buf.subarray(8 + len);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return out;
  }
}

/** A stat answer: u64 mtime seconds | u32 nanoseconds | u8 is-directory. */
export function decodeNfsStat(p: Buffer): { mtime: Date; isDir: boolean } {
  const sec = Number(p.readBigUInt64LE(0));
  const nsec = p.readUInt32LE(8);
  return { mtime: new Date(sec * 1000 + Math.floor(nsec / 1e6)), isDir: p.readUInt8(12) === 1 };
}

/** A list answer: names separated by '\n'. */
export function decodeNfsNames(p: Buffer): string[] {
  return p.length === 0
    ? []
    : p
        .toString('utf8')
        .split('\n')
        .filter((n) => n !== '');
}

/** errno values lh-nfs answers with, by the meaning a target gives them. */
export const NFS_ENOENT = -2;
export const NFS_EACCES = -13;
export const NFS_EPERM = -1;
