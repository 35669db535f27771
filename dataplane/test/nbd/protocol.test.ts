import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../src/block/index.js';
import { BlockError } from '../../src/block/index.js';
import {
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_SERVER,
  NbdServer,
} from '../../src/frontend/nbd/index.js';
import { steady, waitFor } from '../wait-for.js';
import { MemoryBlockDevice } from './memory-device.js';
import { infoRequest, RawClient } from './raw-client.js';

const MiB = 1024 * 1024;
const SIZE = 8 * MiB;

describe('NBD server protocol (raw socket)', () => {
  let device: MemoryBlockDevice;
  let other: MemoryBlockDevice;
  let server: NbdServer;
  let port: number;
  const clients: RawClient[] = [];

  async function client(): Promise<RawClient> {
    const c = await RawClient.connect(port);
    clients.push(c);
    return c;
  }

  /** Another client does a full round trip: the server still serves others. */
  async function othersStillServed(): Promise<void> {
    const c = await (await client()).connectedTo('');
    c.request(NBD_CMD_READ, 77, 0, 4096);
    expect(await c.readReply()).toEqual({ error: 0, handle: 77 });
    expect((await c.read(4096)).equals(device.data.subarray(0, 4096))).toBe(true);
  }

  beforeEach(async () => {
    device = new MemoryBlockDevice(SIZE);
    other = new MemoryBlockDevice(MiB);
    server = new NbdServer({
      exports: new Map<string, BlockDevice>([
        ['', device],
        ['other', other],
      ]),
      descriptions: new Map([['other', 'a second export']]),
      // Generous: a handshake on a loaded CI machine may take more than half a second (the
      // stall test below has a server of its own with a short one).
      handshakeTimeoutMs: 10_000,
    });
    ({ port } = await server.listenTcp('127.0.0.1', 0));
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await server.close();
  });

  describe('handshake', () => {
    it('drops a client that sends unknown client flags', async () => {
      const c = await client();
      await c.greet(0xff);
      expect(await c.closedWithin()).toBe(true);
      await othersStillServed();
    });

    it('drops a client whose option has no IHAVEOPT magic', async () => {
      const c = await client();
      await c.greet();
      c.write(Buffer.alloc(16, 0x5a));
      expect(await c.closedWithin()).toBe(true);
      await othersStillServed();
    });

    it('drops a client announcing an option payload too large to accept', async () => {
      const c = await client();
      await c.greet();
      const header = Buffer.alloc(16);
      header.writeBigUInt64BE(0x49484156454f5054n, 0);
      header.writeUInt32BE(NBD_OPT_INFO, 8);
      header.writeUInt32BE(0xffffffff, 12);
      c.write(header);
      expect(await c.closedWithin()).toBe(true);
    });

    it('answers unknown options and STRUCTURED_REPLY with ERR_UNSUP and goes on', async () => {
      const c = await client();
      await c.greet();
      c.sendOption(4242, Buffer.from('junk'));
      expect(await c.readOptionReply()).toMatchObject({ option: 4242, type: NBD_REP_ERR_UNSUP });
      c.sendOption(NBD_OPT_STRUCTURED_REPLY);
      expect(await c.readOptionReply()).toMatchObject({
        option: NBD_OPT_STRUCTURED_REPLY,
        type: NBD_REP_ERR_UNSUP,
      });
      await c.go('');
      c.request(NBD_CMD_FLUSH, 1, 0, 0);
      expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
    });

    it('lists exports, and refuses LIST with data', async () => {
      const c = await client();
      await c.greet();
      c.sendOption(NBD_OPT_LIST);
      const names: string[] = [];
      for (;;) {
        const reply = await c.readOptionReply();
        if (reply.type === NBD_REP_ACK) break;
        expect(reply.type).toBe(NBD_REP_SERVER);
        const length = reply.data.readUInt32BE(0);
        names.push(reply.data.toString('utf8', 4, 4 + length));
      }
      expect(names).toEqual(['', 'other']);
      c.sendOption(NBD_OPT_LIST, Buffer.from('x'));
      expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
    });

    it('answers INFO with size, flags, block sizes, name and description', async () => {
      const c = await client();
      await c.greet();
      c.sendOption(
        NBD_OPT_INFO,
        infoRequest('other', [NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE]),
      );
      const infos = new Map<number, Buffer>();
      for (;;) {
        const reply = await c.readOptionReply();
        if (reply.type === NBD_REP_ACK) break;
        infos.set(reply.data.readUInt16BE(0), reply.data.subarray(2));
      }
      const exp = infos.get(NBD_INFO_EXPORT)!;
      expect(Number(exp.readBigUInt64BE(0))).toBe(MiB);
      expect(exp.readUInt16BE(8)).toBe(0b1_0110_1101); // HAS_FLAGS FLUSH FUA TRIM WRITE_ZEROES MULTI_CONN
      const bs = infos.get(NBD_INFO_BLOCK_SIZE)!;
      expect([bs.readUInt32BE(0), bs.readUInt32BE(4), bs.readUInt32BE(8)]).toEqual([1, 4096, 32 * MiB]);
      expect(infos.get(NBD_INFO_NAME)!.toString()).toBe('other');
      expect(infos.get(NBD_INFO_DESCRIPTION)!.toString()).toBe('a second export');
      // INFO does not end the handshake: GO still works afterwards.
      await c.go('other');
    });

    it('answers GO for an unknown export with ERR_UNKNOWN, and a malformed GO with ERR_INVALID', async () => {
      const c = await client();
      await c.greet();
      await expect(c.go('nope')).rejects.toThrow(`0x${NBD_REP_ERR_UNKNOWN.toString(16)}`);
      c.sendOption(7, Buffer.from([0, 0, 0, 9, 1]));
      expect((await c.readOptionReply()).type).toBe(NBD_REP_ERR_INVALID);
      await c.go('');
    });

    it('drops EXPORT_NAME for an unknown export and serves a known one', async () => {
      const bad = await client();
      await bad.greet();
      bad.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('nope'));
      expect(await bad.closedWithin()).toBe(true);

      const good = await client();
      await good.greet(0); // without NO_ZEROES: 124 zero bytes follow
      good.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from('other'));
      const reply = await good.read(134);
      expect(Number(reply.readBigUInt64BE(0))).toBe(MiB);
      expect(reply.subarray(10).every((b) => b === 0)).toBe(true);
      good.request(NBD_CMD_FLUSH, 5, 0, 0);
      expect(await good.readReply()).toEqual({ error: 0, handle: 5 });
    });

    it('acknowledges ABORT and closes', async () => {
      const c = await client();
      await c.greet();
      c.sendOption(NBD_OPT_ABORT);
      expect(await c.readOptionReply()).toMatchObject({ option: NBD_OPT_ABORT, type: NBD_REP_ACK });
      expect(await c.closedWithin()).toBe(true);
    });

    it('drops a client that stalls in the handshake, even one trickling bytes', async () => {
      const strict = new NbdServer({ exports: new Map([['', device]]), handshakeTimeoutMs: 500 });
      const { port: strictPort } = await strict.listenTcp('127.0.0.1', 0);
      const connect = async () => {
        const c = await RawClient.connect(strictPort);
        clients.push(c);
        return c;
      };
      try {
        const c = await connect();
        await c.read(18);
        expect(await c.closedWithin(2000)).toBe(true);
        const slow = await connect();
        await slow.greet();
        const trickle = setInterval(() => slow.write(Buffer.from([0x49])), 100);
        try {
          expect(await slow.closedWithin(2000)).toBe(true);
        } finally {
          clearInterval(trickle);
        }
      } finally {
        await strict.close();
      }
    });
  });

  describe('transmission', () => {
    it('reads and writes with FUA, trims and writes zeroes', async () => {
      const c = await (await client()).connectedTo('');
      const data = Buffer.alloc(10_000, 0xab);
      c.request(NBD_CMD_WRITE, 1, 12_345, data.length, NBD_CMD_FLAG_FUA, data);
      expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
      c.request(NBD_CMD_READ, 2, 12_340, 10_010);
      expect(await c.readReply()).toEqual({ error: 0, handle: 2 });
      const read = await c.read(10_010);
      expect(read.subarray(0, 5).every((b) => b === 0)).toBe(true);
      expect(read.subarray(5, 10_005).equals(data)).toBe(true);
      c.request(NBD_CMD_TRIM, 3, 12_345, 100);
      c.request(NBD_CMD_WRITE_ZEROES, 4, 12_445, 100, NBD_CMD_FLAG_NO_HOLE);
      c.request(NBD_CMD_FLUSH, 5, 0, 0);
      const handles = [await c.readReply(), await c.readReply(), await c.readReply()];
      expect(handles.map((r) => r.error)).toEqual([0, 0, 0]);
      expect(handles.map((r) => r.handle).sort()).toEqual([3, 4, 5]);
      expect(device.data.subarray(12_345, 12_545).every((b) => b === 0)).toBe(true);
      expect(device.data[12_545]).toBe(0xab);
      expect(device.flushes).toBe(1);
    });

    it('answers an unknown command and unknown flags with EINVAL and keeps the connection', async () => {
      const c = await (await client()).connectedTo('');
      c.request(42, 0xdead_beef_0001, 0, 512);
      expect(await c.readReply()).toEqual({ error: 22, handle: 0xdead_beef_0001 });
      c.request(NBD_CMD_READ, 2, 0, 512, 0x40);
      expect(await c.readReply()).toEqual({ error: 22, handle: 2 });
      c.request(NBD_CMD_READ, 3, 0, 512);
      expect(await c.readReply()).toEqual({ error: 0, handle: 3 });
      await c.read(512);
    });

    it('answers requests past the end: EINVAL for reads and trims, ENOSPC for writes (payload consumed)', async () => {
      const c = await (await client()).connectedTo('');
      c.request(NBD_CMD_READ, 1, SIZE - 100, 200);
      expect(await c.readReply()).toEqual({ error: 22, handle: 1 });
      c.request(NBD_CMD_READ, 2, 2 ** 62, 1);
      expect(await c.readReply()).toEqual({ error: 22, handle: 2 });
      c.request(NBD_CMD_TRIM, 3, SIZE, 1);
      expect(await c.readReply()).toEqual({ error: 22, handle: 3 });
      c.request(NBD_CMD_WRITE, 4, SIZE - 1, 4096, 0, Buffer.alloc(4096, 1));
      expect(await c.readReply()).toEqual({ error: 28, handle: 4 });
      c.request(NBD_CMD_WRITE_ZEROES, 5, SIZE, 4096);
      expect(await c.readReply()).toEqual({ error: 28, handle: 5 });
      // The stream is still in step: the write's payload was consumed.
      c.request(NBD_CMD_READ, 6, SIZE - 4096, 4096);
      expect(await c.readReply()).toEqual({ error: 0, handle: 6 });
      await c.read(4096);
    });

    it('answers a read over 32 MiB with EINVAL, and drops a write over 32 MiB', async () => {
      const c = await (await client()).connectedTo('');
      c.request(NBD_CMD_READ, 1, 0, 32 * MiB + 1);
      expect(await c.readReply()).toEqual({ error: 22, handle: 1 });
      c.request(NBD_CMD_WRITE, 2, 0, 64 * MiB);
      expect(await c.closedWithin()).toBe(true);
      await othersStillServed();
    });

    // README: a request with a bad magic is judged from its first 4 bytes, not a whole header.
    it.each([
      ['as its very first request', false],
      ['after a request it was served', true],
    ])(
      'drops a client whose request starts with 4 bytes of bad magic %s, others keep working',
      async (_, served) => {
        const c = await (await client()).connectedTo('');
        if (served) {
          c.request(NBD_CMD_FLUSH, 1, 0, 0);
          expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
        }
        c.write(Buffer.from('GET '));
        expect(await c.closedWithin()).toBe(true);
        await othersStillServed();
      },
    );

    it('drops a client that sends garbage mid-stream, others keep working', async () => {
      const c = await (await client()).connectedTo('');
      c.request(NBD_CMD_FLUSH, 1, 0, 0);
      expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
      c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      expect(await c.closedWithin()).toBe(true);
      await othersStillServed();
    });

    it('cleans up after a client that vanishes mid-write', async () => {
      const c = await (await client()).connectedTo('');
      await waitFor('one connection', () => server.connectionCount === 1);
      const header = Buffer.alloc(28);
      header.writeUInt32BE(0x25609513, 0);
      header.writeUInt16BE(NBD_CMD_WRITE, 6);
      header.writeUInt32BE(MiB, 24);
      // Every byte in the kernel before the client vanishes: the server gets the partial write.
      await new Promise((r) => c.socket.write(Buffer.concat([header, Buffer.alloc(300_000, 9)]), r));
      c.destroy();
      await waitFor('no connection', () => server.connectionCount === 0);
      expect(device.data.subarray(0, 300_000).every((b) => b === 0)).toBe(true);
      await othersStillServed();
    });

    it('maps device errors to NBD errnos', async () => {
      const c = await (await client()).connectedTo('');
      const cases: [Error, number][] = [
        [new BlockError('ENOSPC', 'full'), 28],
        [new BlockError('EPERM', 'ro'), 1],
        [new BlockError('ESHUTDOWN', 'stopping'), 108],
        [new BlockError('ENOTSUP', 'no'), 95],
        [new Error('unexpected'), 5],
      ];
      let handle = 100;
      for (const [err, errno] of cases) {
        device.failWith = err;
        c.request(NBD_CMD_WRITE, ++handle, 0, 512, 0, Buffer.alloc(512));
        expect(await c.readReply()).toEqual({ error: errno, handle });
      }
      device.failWith = null;
      // A device that throws instead of rejecting is answered the same way.
      const trim = device.trim;
      device.trim = () => {
        throw new BlockError('EPERM', 'thrown, not rejected');
      };
      c.request(NBD_CMD_TRIM, 200, 0, 512);
      expect(await c.readReply()).toEqual({ error: 1, handle: 200 });
      device.trim = trim;
      c.request(NBD_CMD_READ, 1, 0, 512);
      expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
      await c.read(512);
    });

    it('replies out of order as the device completes, and drains in-flight requests on DISC', async () => {
      const gates = new Map<number, () => void>();
      const slow: BlockDevice = {
        canMultiConn: false,
        size: () => SIZE,
        read: (offset, length) =>
          new Promise((resolve) => gates.set(offset, () => resolve(Buffer.alloc(length, offset / 4096)))),
        write: () => Promise.resolve(),
        flush: () => Promise.resolve(),
        trim: () => Promise.resolve(),
        writeZeroes: () => Promise.resolve(),
      };
      const slowServer = new NbdServer({ exports: new Map([['', slow]]) });
      const { port: slowPort } = await slowServer.listenTcp('127.0.0.1', 0);
      try {
        const c = await RawClient.connect(slowPort);
        clients.push(c);
        await c.connectedTo('');
        c.request(NBD_CMD_READ, 1, 4096, 16);
        c.request(NBD_CMD_READ, 2, 8192, 16);
        c.request(NBD_CMD_DISC, 3, 0, 0);
        await waitFor('both reads at the device', () => gates.size === 2);
        gates.get(8192)!();
        expect(await c.readReply()).toEqual({ error: 0, handle: 2 });
        expect((await c.read(16)).every((b) => b === 2)).toBe(true);
        gates.get(4096)!();
        expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
        expect((await c.read(16)).every((b) => b === 1)).toBe(true);
        expect(await c.closedWithin()).toBe(true);
      } finally {
        await slowServer.close();
      }
    });

    it('stops reading requests while too many are in flight', async () => {
      const pending: (() => void)[] = [];
      let maxPending = 0;
      const gated: BlockDevice = {
        canMultiConn: false,
        size: () => SIZE,
        read: (_o, length) => Promise.resolve(Buffer.alloc(length)),
        write: () => Promise.resolve(),
        flush: () =>
          new Promise<void>((resolve) => {
            pending.push(resolve);
            maxPending = Math.max(maxPending, pending.length);
          }),
        trim: () => Promise.resolve(),
        writeZeroes: () => Promise.resolve(),
      };
      const gatedServer = new NbdServer({ exports: new Map([['', gated]]), maxInFlightRequests: 8 });
      const { port: gatedPort } = await gatedServer.listenTcp('127.0.0.1', 0);
      try {
        const c = await RawClient.connect(gatedPort);
        clients.push(c);
        await c.connectedTo('');
        for (let i = 0; i < 40; i++) c.request(NBD_CMD_FLUSH, i, 0, 0);
        // The 40 requests arrive in one segment: without the limit all would reach the device
        // in the same turn (maxPending below catches a later overrun too).
        await waitFor('8 flushes at the device', () => pending.length >= 8);
        expect(pending.length).toBe(8);
        const seen = new Set<number>();
        while (seen.size < 40) {
          for (const release of pending.splice(0)) release();
          const reply = await c.readReply();
          expect(reply.error).toBe(0);
          seen.add(reply.handle);
        }
        expect(maxPending).toBeLessThanOrEqual(8);
      } finally {
        await gatedServer.close();
      }
    });

    it('answers every request received before the client half-closes, even ones queued while paused', async () => {
      const pending: (() => void)[] = [];
      const gated: BlockDevice = {
        canMultiConn: false,
        size: () => SIZE,
        read: (_o, length) => Promise.resolve(Buffer.alloc(length)),
        write: () => Promise.resolve(),
        flush: () => new Promise<void>((resolve) => pending.push(resolve)),
        trim: () => Promise.resolve(),
        writeZeroes: () => Promise.resolve(),
      };
      const gatedServer = new NbdServer({ exports: new Map([['', gated]]), maxInFlightRequests: 4 });
      const { port: gatedPort } = await gatedServer.listenTcp('127.0.0.1', 0);
      try {
        const c = await RawClient.connect(gatedPort);
        clients.push(c);
        await c.connectedTo('');
        for (let i = 0; i < 12; i++) c.request(NBD_CMD_FLUSH, i, 0, 0);
        c.socket.end();
        await waitFor('4 flushes at the device', () => pending.length === 4);
        const releaser = setInterval(() => {
          for (const release of pending.splice(0)) release();
        }, 5);
        try {
          const seen = new Set<number>();
          for (let i = 0; i < 12; i++) {
            const reply = await c.readReply();
            expect(reply.error).toBe(0);
            seen.add(reply.handle);
          }
          expect(seen.size).toBe(12);
          expect(await c.closedWithin()).toBe(true);
        } finally {
          clearInterval(releaser);
        }
      } finally {
        await gatedServer.close();
      }
    });

    // The server has stopped reading a client when what the client sent stays queued in the
    // client's own socket (the kernel's buffers between them are full) and stops moving. A
    // server without back-pressure reads everything, so this never holds and the wait fails.
    const serverStoppedReading = (c: RawClient) =>
      waitFor(
        'the server to stop reading the client',
        steady(
          () => c.socket.writableLength,
          10,
          (n) => n > 0,
        ),
        { intervalMs: 20, maxIntervalMs: 20 },
      );

    it('stops reading a client that streams requests and never reads the replies', async () => {
      let reads = 0;
      let writes = 0;
      const counting: BlockDevice = {
        canMultiConn: false,
        size: () => SIZE,
        read: (_o, length) => {
          reads++;
          return Promise.resolve(Buffer.alloc(length, 3));
        },
        write: () => {
          writes++;
          return Promise.resolve();
        },
        flush: () => Promise.resolve(),
        trim: () => Promise.resolve(),
        writeZeroes: () => Promise.resolve(),
      };
      const tight = new NbdServer({ exports: new Map([['', counting]]), maxInFlightBytes: MiB });
      const { port: tightPort } = await tight.listenTcp('127.0.0.1', 0);
      try {
        const c = await RawClient.connect(tightPort);
        clients.push(c);
        await c.connectedTo('');
        c.socket.pause();
        // 64 MiB of read replies the client does not take, then 64 MiB of writes behind them.
        for (let i = 0; i < 64; i++) c.request(NBD_CMD_READ, i, 0, MiB);
        const payload = Buffer.alloc(MiB, 7);
        for (let i = 0; i < 64; i++) c.request(NBD_CMD_WRITE, 1000 + i, 0, MiB, 0, payload);
        await serverStoppedReading(c);
        // Unsent replies are bounded by the limit plus what the kernel's socket buffers hold.
        expect(reads).toBeLessThan(40);
        expect(writes).toBe(0);
        c.socket.resume();
        const seen = new Set<number>();
        for (let i = 0; i < 128; i++) {
          const reply = await c.readReply();
          expect(reply.error).toBe(0);
          seen.add(reply.handle);
          if (reply.handle < 1000) expect((await c.read(MiB)).every((b) => b === 3)).toBe(true);
        }
        expect(seen.size).toBe(128);
        expect([reads, writes]).toEqual([64, 64]);
      } finally {
        await tight.close();
      }
    });

    it('holds at most its in-flight limit of a client streaming writes to a slow device', async () => {
      const held: (() => void)[] = [];
      let heldBytes = 0;
      let maxHeld = 0;
      let release = false;
      const slow: BlockDevice = {
        canMultiConn: false,
        size: () => SIZE,
        read: (_o, length) => Promise.resolve(Buffer.alloc(length)),
        write: (_o, data) =>
          new Promise<void>((resolve) => {
            heldBytes += data.length;
            maxHeld = Math.max(maxHeld, heldBytes);
            const done = () => {
              heldBytes -= data.length;
              resolve();
            };
            if (release) done();
            else held.push(done);
          }),
        flush: () => Promise.resolve(),
        trim: () => Promise.resolve(),
        writeZeroes: () => Promise.resolve(),
      };
      const limited = new NbdServer({ exports: new Map([['', slow]]), maxInFlightBytes: 4 * MiB });
      const { port: limitedPort } = await limited.listenTcp('127.0.0.1', 0);
      try {
        const c = await RawClient.connect(limitedPort);
        clients.push(c);
        await c.connectedTo('');
        const payload = Buffer.alloc(MiB, 5);
        for (let i = 0; i < 64; i++) c.request(NBD_CMD_WRITE, i, (i % 8) * MiB, MiB, 0, payload);
        await serverStoppedReading(c);
        // 64 MiB sent; the device holds the limit's worth, the rest waits in the client.
        expect(maxHeld).toBeGreaterThan(0);
        expect(maxHeld).toBeLessThanOrEqual(4 * MiB);
        release = true;
        for (const done of held.splice(0)) done();
        const seen = new Set<number>();
        for (let i = 0; i < 64; i++) {
          const reply = await c.readReply();
          expect(reply.error).toBe(0);
          seen.add(reply.handle);
        }
        expect(seen.size).toBe(64);
        expect(maxHeld).toBeLessThanOrEqual(4 * MiB);
      } finally {
        await limited.close();
      }
    });

    it('counts connections and closes them all on close()', async () => {
      const a = await (await client()).connectedTo('');
      const b = await client();
      await b.greet();
      await waitFor('two connections', () => server.connectionCount === 2);
      await server.close();
      expect(await a.closedWithin()).toBe(true);
      expect(await b.closedWithin()).toBe(true);
      await waitFor('no connection', () => server.connectionCount === 0);
    });
  });
});
