import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice, FileSpan } from '../../src/block/index.js';
import { NBD_CMD_DISC, NBD_CMD_READ, NBD_CMD_WRITE, NbdServer } from '../../src/frontend/nbd/index.js';
import { zeroCopy } from '../../src/net/zerocopy.js';
import { waitFor } from '../wait-for.js';
import { FileBlockDevice } from './file-block-device.js';
import { RawClient } from './raw-client.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

/**
 * A file served with spans: reads whose pages the page cache holds are answered by sendfile
 * from the file itself. Each span is on a descriptor of its own that the test may close as soon
 * as readSpan returned (the way a purge closes a layer), so a reply that has to wait for the
 * socket must not depend on it.
 */
class SpanFileDevice implements BlockDevice {
  readonly canMultiConn = true;
  spans = 0;
  /** Descriptors handed out in spans, closed on the next turn when `closeSpans`. */
  closeSpans = false;

  constructor(
    private readonly file: FileBlockDevice,
    private readonly path: string,
  ) {}

  size = () => this.file.size();
  read = (o: number, l: number) => this.file.read(o, l);
  write = (o: number, d: Buffer, f: boolean) => this.file.write(o, d, f);
  flush = () => this.file.flush();
  trim = (o: number, l: number, f: boolean) => this.file.trim(o, l, f);
  writeZeroes = (o: number, l: number, f: boolean) => this.file.writeZeroes(o, l, f);

  /** From this many spans on, spans name a descriptor that is not open (as if out of them). */
  badSpansFrom = Number.POSITIVE_INFINITY;

  readSpan(offset: number, length: number): FileSpan | null {
    if (this.spans >= this.badSpansFrom) {
      this.spans++;
      return { fd: 1_000_000, position: offset };
    }
    const fd = openSync(this.path, 'r');
    if (!zeroCopy()!.allCached(fd, offset, length)) {
      closeSync(fd);
      return null;
    }
    this.spans++;
    if (this.closeSpans) setImmediate(() => closeSync(fd));
    else this.opened.push(fd);
    return { fd, position: offset };
  }

  private readonly opened: number[] = [];
  close(): void {
    for (const fd of this.opened.splice(0)) closeSync(fd);
  }
}

const openFds = () => readdirSync('/proc/self/fd').length;

describe('NBD read replies sent from file spans (sendfile)', () => {
  let dir: string;
  let image: Buffer;
  let device: SpanFileDevice;
  let server: NbdServer;
  let port: number;
  const clients: RawClient[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nbd-zc-'));
    const path = join(dir, 'disk.img');
    image = randomBytes(SIZE);
    await writeFile(path, image);
    readFileSync(path); // into the page cache: spans are only offered for cached pages
    device = new SpanFileDevice(await FileBlockDevice.open(path, SIZE), path);
    server = new NbdServer({ exports: new Map<string, BlockDevice>([['', device]]) });
    ({ port } = await server.listenTcp('127.0.0.1', 0));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server.close();
    device.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Reads `n` replies, each without error: a read's (handle < 1000, of MiB `handle`) with its
   * data checked against the image; the handles of reads and of writes seen.
   */
  const readReplies = async (c: RawClient, n: number) => {
    const reads = new Set<number>();
    const writes = new Set<number>();
    for (let i = 0; i < n; i++) {
      const reply = await c.readReply();
      expect(reply.error).toBe(0);
      if (reply.handle >= 1000) {
        writes.add(reply.handle);
        continue;
      }
      reads.add(reply.handle);
      const data = await c.read(MiB);
      expect(
        data.equals(image.subarray(reply.handle * MiB, (reply.handle + 1) * MiB)),
        `read ${reply.handle}`,
      ).toBe(true);
    }
    return { reads, writes };
  };

  const connect = async () => {
    const c = await (await RawClient.connect(port)).connectedTo('');
    clients.push(c);
    return c;
  };

  it('nbdcopy reads the image back byte for byte, through spans', async () => {
    const out = join(dir, 'out.img');
    await run('nbdcopy', [`nbd://127.0.0.1:${port}/`, out], { timeout: 30_000 });
    expect(readFileSync(out).equals(image)).toBe(true);
    // nbdcopy reads in large requests: they all could be spans.
    expect(device.spans).toBeGreaterThanOrEqual(SIZE / (32 * MiB));
  });

  it('sends spans over a Unix socket too', async () => {
    const socket = join(dir, 'nbd.sock');
    await server.listenUnix(socket);
    const out = join(dir, 'out-unix.img');
    await run('nbdcopy', [`nbd+unix:///?socket=${socket}`, out], { timeout: 30_000 });
    expect(readFileSync(out).equals(image)).toBe(true);
    expect(device.spans).toBeGreaterThanOrEqual(SIZE / (32 * MiB));
  });

  it('keeps replies in order and whole when the socket fills: spans wait, write replies queue behind', async () => {
    const c = await connect();
    device.closeSpans = true; // a waiting span must keep its own descriptor
    c.socket.pause();
    // 24 MiB of read replies, far more than the socket buffers take, with writes between them.
    const payload = Buffer.alloc(4096, 0x5a);
    for (let i = 0; i < 24; i++) {
      c.request(NBD_CMD_READ, i, i * MiB, MiB);
      c.request(NBD_CMD_WRITE, 1000 + i, SIZE - 4096 * (i + 1), 4096, 0, payload);
    }
    await waitFor('the socket to fill', () => device.spans === 24, { intervalMs: 10 });
    c.socket.resume();
    const { reads, writes } = await readReplies(c, 48);
    expect(reads.size).toBe(24);
    expect(writes.size).toBe(24);
    expect(device.spans).toBe(24);
  });

  it('copies a read whose span cannot be kept while replies wait (no descriptor for it)', async () => {
    const c = await connect();
    device.badSpansFrom = 16;
    c.socket.pause();
    for (let i = 0; i < 24; i++) c.request(NBD_CMD_READ, i, i * MiB, MiB);
    await waitFor('the reads to be answered', () => device.spans === 24, { intervalMs: 10 });
    c.socket.resume();
    const { reads, writes } = await readReplies(c, 24);
    expect(reads.size).toBe(24);
    expect(writes.size).toBe(0);
  });

  it('sends every queued reply before closing on NBD_CMD_DISC', async () => {
    const c = await connect();
    c.socket.pause();
    for (let i = 0; i < 16; i++) c.request(NBD_CMD_READ, i, (16 + i) * MiB, MiB);
    c.request(NBD_CMD_DISC, 99, 0, 0);
    await waitFor('the reads to be answered', () => device.spans === 16, { intervalMs: 10 });
    c.socket.resume();
    for (let i = 0; i < 16; i++) {
      const reply = await c.readReply();
      expect(reply).toEqual({ error: 0, handle: i });
      expect((await c.read(MiB)).equals(image.subarray((16 + i) * MiB, (17 + i) * MiB))).toBe(true);
    }
    expect(await c.closedWithin(3000)).toBe(true);
  });

  it('releases every descriptor when a client goes away with replies waiting', async () => {
    const before = openFds();
    const c = await connect();
    device.closeSpans = true;
    c.socket.pause();
    for (let i = 0; i < 32; i++) c.request(NBD_CMD_READ, i, i * MiB, MiB);
    await waitFor('the reads to be answered', () => device.spans === 32, { intervalMs: 10 });
    expect(openFds()).toBeGreaterThan(before);
    c.destroy();
    await waitFor('the server to release the connection and the spans it held', () => openFds() <= before, {
      intervalMs: 20,
    });
    // The server still serves.
    const d = await connect();
    d.request(NBD_CMD_READ, 7, 0, MiB);
    expect(await d.readReply()).toEqual({ error: 0, handle: 7 });
    expect((await d.read(MiB)).equals(image.subarray(0, MiB))).toBe(true);
  });

  it('copies reads the device has no span for (pages not in the page cache)', async () => {
    const path = join(dir, 'disk.img');
    // Written back, then dropped from the page cache (dd's nocache: POSIX_FADV_DONTNEED).
    await run('dd', [`of=${path}`, 'oflag=nocache', 'conv=notrunc,fdatasync', 'count=0', 'status=none']);
    await run('dd', [`if=${path}`, 'iflag=nocache', 'count=0', 'status=none']);
    const fd = openSync(path, 'r');
    try {
      expect(zeroCopy()!.allCached(fd, 40 * MiB, 4 * MiB)).toBe(false);
    } finally {
      closeSync(fd);
    }
    const c = await connect();
    c.request(NBD_CMD_READ, 1, 40 * MiB, 4 * MiB);
    expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
    expect((await c.read(4 * MiB)).equals(image.subarray(40 * MiB, 44 * MiB))).toBe(true);
    expect(device.spans).toBe(0);
  });
});
