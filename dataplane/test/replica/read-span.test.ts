import { execFile } from 'node:child_process';
import { readSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FileSpan } from '../../src/block/index.js';
import { Replica } from '../../src/replica/index.js';
import type { IoGate } from '../../src/replica/io-gate.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const KiB = 1024;
const MiB = 1024 * KiB;

/** The bytes a span points at, read from its file the way sendfile would. */
function spanBytes(span: FileSpan, length: number): Buffer {
  const out = Buffer.alloc(length);
  expect(readSync(span.fd, out, 0, length, span.position)).toBe(length);
  return out;
}

describe('Replica.readSpan (where a read lies whole in one cached layer file)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let replica: Replica;
  const a = Buffer.alloc(MiB, 0xa1);
  const b = Buffer.alloc(MiB, 0xb2);

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('read-span'));
    replica = await Replica.create(path.join(dir, 'r'), { size: 16 * MiB });
    await replica.write(0, a);
    await replica.write(MiB, b);
  });

  afterEach(async () => {
    await replica.close().catch(() => {});
    await cleanup();
  });

  it('points at the head for data it holds, and at no file for holes or past the end', () => {
    const span = replica.readSpan(512 * KiB, MiB)!;
    expect(span).not.toBeNull();
    expect(span.position).toBe(512 * KiB);
    expect(
      spanBytes(span, MiB).equals(Buffer.concat([a.subarray(0, 512 * KiB), b.subarray(0, 512 * KiB)])),
    ).toBe(true);
    expect(replica.readSpan(MiB + 512 * KiB, MiB)).toBeNull(); // half of it is a hole
    expect(replica.readSpan(4 * MiB, MiB)).toBeNull(); // all hole: zeros come from no file
    expect(replica.readSpan(16 * MiB - 4 * KiB, 8 * KiB)).toBeNull(); // past the end
    expect(replica.readSpan(-4096, 8 * KiB)).toBeNull();
  });

  it('after a snapshot, points at whichever layer holds the whole range, and at none when two do', async () => {
    await replica.snapshot('s1');
    const c = Buffer.alloc(64 * KiB, 0xc3);
    await replica.write(0, c);
    // 0..64 KiB is in the new head, the rest of the first MiB only in s1.
    expect(replica.readSpan(0, MiB)).toBeNull();
    const head = replica.readSpan(0, 64 * KiB)!;
    const snap = replica.readSpan(64 * KiB, 256 * KiB)!;
    expect(head.fd).not.toBe(snap.fd);
    expect(spanBytes(head, 64 * KiB).equals(c)).toBe(true);
    expect(spanBytes(snap, 256 * KiB).equals(a.subarray(0, 256 * KiB))).toBe(true);
  });

  it('offers nothing while a structural change holds the replica, or once it is closed', async () => {
    const gate = (replica as unknown as { gate: IoGate }).gate;
    let release!: () => void;
    const held = gate.exclusive(() => new Promise<void>((r) => (release = r)));
    expect(replica.readSpan(0, MiB)).toBeNull();
    release();
    await held;
    expect(replica.readSpan(0, MiB)).not.toBeNull();
    await replica.close();
    expect(replica.readSpan(0, MiB)).toBeNull();
  });

  it('offers nothing for pages the page cache does not hold (sendfile would wait for the disk)', async () => {
    const file = path.join(dir, 'r');
    const span = replica.readSpan(0, MiB)!;
    expect(span).not.toBeNull();
    await replica.flush();
    // Drop the head's pages (dd's nocache: POSIX_FADV_DONTNEED on the whole file).
    const head = (await run('sh', ['-c', `ls ${file}/*.img | head -n 1`])).stdout.trim();
    await run('dd', [`if=${head}`, 'iflag=nocache', 'count=0', 'status=none']);
    expect(replica.readSpan(0, MiB)).toBeNull();
    // A read brings them back, and with them the span.
    expect((await replica.read(0, MiB)).equals(a)).toBe(true);
    expect(replica.readSpan(0, MiB)).not.toBeNull();
  });
});
