import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/block-error.js';
import { ReplicaServerAdmin } from '../../src/protocol/admin-client.js';
import { ReplicaClient, type ReplicaTarget } from '../../src/protocol/client.js';
import { encodeFrame, encodeJson, MessageType } from '../../src/protocol/codec.js';
import { ReplicaRemoteError } from '../../src/protocol/remote-error.js';
import { ReplicaServer } from '../../src/protocol/server.js';
import type { ReplicaStoreFactory } from '../../src/protocol/store-factory.js';
import { Replica } from '../../src/replica/replica.js';
import { waitFor } from '../wait-for.js';
import { MemoryStore } from './memory-store.js';

const replicaFactory: ReplicaStoreFactory = {
  create: (d, opts) => Replica.create(d, opts),
  open: (d) => Replica.open(d),
};

const MiB = 1024 * 1024;

let dir: string;
let server: ReplicaServer;
const clients: ReplicaClient[] = [];

async function open(target: ReplicaTarget, id: string, connections = 2): Promise<ReplicaClient> {
  const c = await ReplicaClient.connect(target, id, { connections });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proto-'));
  server = new ReplicaServer({ dataDir: join(dir, 'data'), factory: replicaFactory });
});

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each(['tcp', 'unix'] as const)('client and server over %s', (kind) => {
  let target: ReplicaTarget;
  let store: MemoryStore;

  beforeEach(async () => {
    target =
      kind === 'tcp'
        ? await server.listenTcp('127.0.0.1', 0)
        : { path: await server.listenUnix(join(dir, 's.sock')) };
    await server.createReplica('r1', { size: 64 * MiB });
    // An in-memory store with artificial latency, for reordering and pending-request tests.
    store = new MemoryStore(64 * MiB);
    server.addReplica('mem', store);
  });

  it('serves pipelined concurrent writes and reads byte-exact', async () => {
    const client = await open(target, 'r1', 2);
    expect(client.helloInfo.size).toBe(64 * MiB);
    const shadow = Buffer.alloc(8 * MiB);
    // 256 concurrent writes at unaligned offsets in disjoint 32 KiB slots, sizes up to 32 KiB.
    const writes = Array.from({ length: 256 }, (_, i) => {
      const len = 1 + ((i * 7919) % (32 * 1024 - 1));
      const off = i * 32 * 1024 + (i % 3);
      const data = randomBytes(Math.min(len, 32 * 1024 - (i % 3)));
      data.copy(shadow, off);
      return client.write(off, data);
    });
    // A 1 MiB write and a 4 MiB one split across many frames on the wire.
    const big = randomBytes(4 * MiB);
    big.copy(shadow, 4 * MiB);
    writes.push(client.write(4 * MiB, big));
    await Promise.all(writes);
    await client.flush();
    const reads = await Promise.all(
      Array.from({ length: 128 }, (_, i) => client.read(i * 64 * 1024, 64 * 1024)),
    );
    expect(Buffer.concat(reads).equals(shadow)).toBe(true);
    expect((await client.read(4 * MiB, 4 * MiB)).equals(big)).toBe(true);
    await client.writeZeroes(4 * MiB, MiB);
    await client.unmap(5 * MiB, 4096);
    const after = await client.read(4 * MiB, MiB + 8192);
    expect(after.subarray(0, MiB + 4096).equals(Buffer.alloc(MiB + 4096))).toBe(true);
    expect(after.subarray(MiB + 4096).equals(big.subarray(MiB + 4096, MiB + 8192))).toBe(true);
    expect(await client.ping()).toBeGreaterThanOrEqual(0);
  });

  it('matches out-of-order replies by seq', async () => {
    const client = await open(target, 'mem', 1);
    await client.write(0, Buffer.alloc(4096, 1));
    await client.write(4096, Buffer.alloc(4096, 2));
    store.delay = (offset) => (offset === 0 ? 80 : 0);
    const order: number[] = [];
    const slow = client.read(0, 4096).then((b) => {
      order.push(b[0]!);
      return b;
    });
    const fast = client.read(4096, 4096).then((b) => {
      order.push(b[0]!);
      return b;
    });
    await Promise.all([slow, fast]);
    expect(order).toEqual([2, 1]);
  });

  it('pauses a connection past its in-flight limit and resumes it', async () => {
    const client = await open(target, 'mem', 1);
    await client.write(0, Buffer.alloc(4096, 9));
    store.delay = () => 20;
    const reads = await Promise.all(Array.from({ length: 3000 }, () => client.read(0, 4096)));
    expect(reads.every((b) => b[4095] === 9)).toBe(true);
  });

  it('runs snapshot, chain, revert, expand and errors through the wire', async () => {
    const client = await open(target, 'r1');
    await client.write(0, Buffer.alloc(4096, 0xaa));
    await client.snapshot('s1', {
      labels: { a: 'b' },
      userCreated: true,
      created: '2026-01-01T00:00:00.000Z',
    });
    await client.write(0, Buffer.alloc(4096, 0xbb));
    const chain = await client.chain();
    const head = (await client.info()).headName;
    expect(chain.map((l) => l.name)).toEqual(['s1', head]);
    expect(chain[0]).toMatchObject({
      labels: { a: 'b' },
      created: '2026-01-01T00:00:00.000Z',
      allocatedBytes: 4096,
    });
    expect(await client.allocatedRanges('s1')).toEqual([{ offset: 0, length: 4096 }]);
    const s1 = Buffer.concat([Buffer.alloc(4096, 0xaa), Buffer.alloc(4096)]);
    expect((await client.readLayer('s1', 0, 8192)).equals(s1)).toBe(true);
    expect((await client.readSnapshot('s1', 0, 8192)).equals(s1)).toBe(true);
    expect((await client.read(0, 1))[0]).toBe(0xbb);
    await client.revert('s1');
    expect((await client.read(0, 1))[0]).toBe(0xaa);
    await client.setGeneration(42);
    expect((await client.info()).generation).toBe(42);
    expect(Array.isArray(await client.dirtyRanges())).toBe(true);
    await client.markClean();
    await client.expand(128 * MiB);
    expect((await client.info()).size).toBe(128 * MiB);
    await client.snapshot('s2');
    await client.markRemoved('s2');
    expect(await client.purge()).toEqual(['s2']);

    // Store errors keep their code: a store code arrives as ReplicaRemoteError, a block code as BlockError.
    await expect(client.revert('nope')).rejects.toBeInstanceOf(ReplicaRemoteError);
    await expect(client.revert('nope')).rejects.toMatchObject({ code: 'SNAPSHOT_NOT_FOUND' });
    await expect(client.read(128 * MiB, 4096)).rejects.toMatchObject({ code: 'OUT_OF_RANGE' });
    await expect(client.control('noSuchOp')).rejects.toBeInstanceOf(BlockError);
    await expect(client.control('noSuchOp')).rejects.toMatchObject({ code: 'ENOTSUP' });
    await expect(client.control('constructor')).rejects.toMatchObject({ code: 'ENOTSUP' });
    // What the header cannot carry is refused by the client without touching the connection.
    await expect(client.read(-1, 4096)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(client.unmap(0, 2 ** 33)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(client.write(0, Buffer.alloc(64 * MiB + 1))).rejects.toMatchObject({ code: 'EINVAL' });
    // The connection still serves after errors.
    expect((await client.read(0, 1))[0]).toBe(0xaa);
  });

  it('imports layers and compares checksums through the wire (rebuild)', async () => {
    const src = await open(target, 'r1');
    const data = randomBytes(3 * MiB);
    await src.write(MiB, data);
    await src.snapshot('base', { userCreated: false });
    await server.createReplica('r2', { size: 64 * MiB });
    const dst = await open(target, 'r2');
    const [base] = await src.chain();
    await dst.importLayer({ name: 'base', parent: null, created: base!.created, userCreated: false });
    for (const r of await src.allocatedRanges('base')) {
      for (let pos = r.offset; pos < r.offset + r.length; pos += 2 * MiB) {
        const n = Math.min(2 * MiB, r.offset + r.length - pos);
        await dst.writeLayer('base', pos, await src.readLayer('base', pos, n));
      }
    }
    await dst.finishImport();
    await dst.revert('base');
    expect((await dst.read(MiB, data.length)).equals(data)).toBe(true);
    const a = await src.layerChecksums('base', 0, 8 * MiB, 2 * MiB);
    const b = await dst.layerChecksums('base', 0, 8 * MiB, 2 * MiB);
    expect(a).toHaveLength(4);
    expect(b).toEqual(a);
    await expect(dst.writeLayer('nope', 0, Buffer.alloc(4096))).rejects.toMatchObject({
      code: 'IMPORT_INVALID',
    });
  });

  it('closes only the connection that sends garbage', async () => {
    const client = await open(target, 'r1');
    const data = randomBytes(64 * 1024);
    await client.write(0, data);
    for (const garbage of [
      Buffer.from('GET / HTTP/1.1\r\n\r\n'),
      // Valid header with an unknown type.
      encodeFrame({ seq: 1, type: 99, offset: 0, size: 0, data: Buffer.alloc(0) }),
      // Absurd length.
      (() => {
        const b = encodeFrame({ seq: 1, type: MessageType.Write, offset: 0, size: 0, data: Buffer.alloc(0) });
        b.writeUInt32LE(0xffff_fff0, 22);
        return b;
      })(),
      // A second hello, with a well-formed write behind it in the same chunk: not served.
      Buffer.concat([
        encodeFrame({
          seq: 2,
          type: MessageType.Hello,
          offset: 0,
          size: 0,
          data: encodeJson({ replicaId: 'r1' }),
        }),
        encodeFrame({
          seq: 3,
          type: MessageType.Write,
          offset: 0,
          size: 4096,
          data: Buffer.alloc(4096, 0xee),
        }),
      ]),
    ]) {
      const raw = connect(
        'path' in target ? { path: target.path } : { host: target.host, port: target.port },
      );
      let closed = false;
      raw.on('close', () => {
        closed = true;
      });
      raw.on('error', () => {});
      raw.write(
        encodeFrame({
          seq: 1,
          type: MessageType.Hello,
          offset: 0,
          size: 0,
          data: encodeJson({ replicaId: 'r1' }),
        }),
      );
      raw.write(garbage);
      await waitFor('garbage connection to close', () => closed);
    }
    expect(client.closed).toBe(false);
    expect((await client.read(0, data.length)).equals(data)).toBe(true);
    expect(server.listReplicas().find((r) => r.id === 'r1')!.connections).toBe(2);
  });

  it('never applies a write cut off mid-payload, nor survives random garbage', async () => {
    const client = await open(target, 'r1');
    const data = randomBytes(128 * 1024);
    await client.write(0, data);
    const hello = encodeFrame({
      seq: 1,
      type: MessageType.Hello,
      offset: 0,
      size: 0,
      data: encodeJson({ replicaId: 'r1' }),
    });
    const raw = async (bytes: Buffer[], end: 'destroy' | 'wait'): Promise<void> => {
      const sock = connect(
        'path' in target ? { path: target.path } : { host: target.host, port: target.port },
      );
      sock.on('error', () => {});
      let closed = false;
      sock.on('close', () => {
        closed = true;
      });
      await new Promise((r) => sock.once('connect', r));
      // Every byte handed to the kernel before the client vanishes: the server gets them all.
      for (const b of bytes) await new Promise((r) => sock.write(b, r));
      if (end === 'destroy') sock.destroy();
      await waitFor('raw connection to close', () => closed);
    };
    // A 64 KiB write whose payload stops half way, then the client vanishes.
    const cut = encodeFrame({
      seq: 2,
      type: MessageType.Write,
      offset: 0,
      size: 65536,
      data: Buffer.alloc(65536, 0xee),
    });
    await raw([hello, cut.subarray(0, 26 + 32768)], 'destroy');
    // Random garbage after a valid hello, a few times.
    for (let i = 0; i < 5; i++) {
      const garbage = randomBytes(1000);
      garbage[0] = 0; // never a valid magic, so the server judges it at once
      await raw([hello, garbage], 'wait');
    }
    expect((await client.read(0, data.length)).equals(data)).toBe(true);
  });

  it('refuses data frames before a Hello: the connection closes, nothing is read or written', async () => {
    const client = await open(target, 'r1');
    const data = randomBytes(64 * 1024);
    await client.write(0, data);
    const frame = (type: number, size: number, payload: Buffer = Buffer.alloc(0)) =>
      encodeFrame({ seq: 7, type, offset: 0, size, data: payload });
    const cases: [string, Buffer[]][] = [
      ['write', [frame(MessageType.Write, 4096, Buffer.alloc(4096, 0xee))]],
      ['read', [frame(MessageType.Read, 4096)]],
      ['unmap', [frame(MessageType.Unmap, 64 * 1024)]],
      ['write-zeroes', [frame(MessageType.WriteZeroes, 64 * 1024)]],
      ['flush', [frame(MessageType.Flush, 0)]],
      ['control', [frame(MessageType.Control, 0, encodeJson({ op: 'snapshot', args: { name: 'x' } }))]],
      ['read-layer', [frame(MessageType.ReadLayer, 4096, Buffer.from('volume-head-000.img'))]],
      // A management connection (hello without a replica) is not bound to a replica either.
      [
        'write after a management hello',
        [
          encodeFrame({ seq: 1, type: MessageType.Hello, offset: 0, size: 0, data: encodeJson({}) }),
          frame(MessageType.Write, 4096, Buffer.alloc(4096, 0xee)),
        ],
      ],
    ];
    for (const [what, frames] of cases) {
      const sock = connect(
        'path' in target ? { path: target.path } : { host: target.host, port: target.port },
      );
      sock.on('error', () => {});
      const received: Buffer[] = [];
      sock.on('data', (d: Buffer) => received.push(d));
      let closed = false;
      sock.on('close', () => {
        closed = true;
      });
      for (const f of frames) sock.write(f);
      await waitFor(`the server to close the connection that sent a ${what} before its hello`, () => closed);
      // No answer, so no data left the replica.
      const replies = Buffer.concat(received);
      const types: number[] = [];
      for (let pos = 0; pos + 26 <= replies.length; pos += 26 + replies.readUInt32LE(pos + 22)) {
        types.push(replies.readUInt32LE(pos + 6));
      }
      // (The management hello's answer may or may not leave before the connection closes.)
      const allowed = what.startsWith('write after') ? [[], [MessageType.Response]] : [[]];
      expect(allowed, what).toContainEqual(types);
    }
    // The replica is untouched (no write, trim, zeroing or snapshot) and still serves.
    expect((await client.read(0, data.length)).equals(data)).toBe(true);
    expect((await client.chain()).map((l) => l.name)).not.toContain('x');
    expect(client.closed).toBe(false);
    expect(server.listReplicas().find((r) => r.id === 'r1')!.connections).toBe(2);
    const other = await open(target, 'r1', 1);
    expect((await other.read(0, 16)).equals(data.subarray(0, 16))).toBe(true);
  });

  it('rejects pending requests promptly on close() and after a disconnect', async () => {
    const client = await open(target, 'mem');
    store.delay = () => 10_000;
    const pending = [client.read(0, 4096), client.write(0, Buffer.alloc(4096))];
    let settled = 0;
    for (const p of pending) p.catch(() => {}).finally(() => settled++);
    await client.close();
    // Well before the store would answer (10 s): close() itself rejected them.
    await waitFor('pending requests to reject', () => settled === 2, { timeoutMs: 3000 });
    for (const p of pending) await expect(p).rejects.toMatchObject({ code: 'EIO' });
    await expect(client.read(0, 1)).rejects.toMatchObject({ code: 'EIO' });

    store.delay = () => 10_000;
    const other = await open(target, 'mem');
    const disconnects: BlockError[] = [];
    other.on('disconnect', (err) => disconnects.push(err));
    const inflight = other.read(0, 4096);
    await server.closeReplica('mem');
    await expect(inflight).rejects.toThrow(/replica mem at .*(closed|reset|EPIPE)/);
    expect(disconnects).toHaveLength(1);
    expect(store.closed).toBe(true);
  });
});

describe('connecting', () => {
  it('gives up on a server that never answers the hello, and on a refused connection', async () => {
    const silent = createServer(() => {});
    const sockets: Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const { port } = silent.address() as AddressInfo;
    try {
      await expect(
        ReplicaClient.connect({ host: '127.0.0.1', port }, 'r1', { connectTimeoutMs: 200 }),
      ).rejects.toThrow(/replica r1 at 127\.0\.0\.1:\d+: connect and hello timed out/);
      await expect(
        ReplicaServerAdmin.connect({ host: '127.0.0.1', port }, { connectTimeoutMs: 200 }),
      ).rejects.toThrow(/timed out/);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
    await expect(ReplicaClient.connect({ path: join(dir, 'none.sock') }, 'r1')).rejects.toMatchObject({
      code: 'EIO',
      message: expect.stringMatching(/cannot connect/),
    });
  });
});

describe('management', () => {
  it('creates, lists, opens, closes and deletes several replicas in one server', async () => {
    const target = await server.listenTcp('127.0.0.1', 0);
    const admin = await ReplicaServerAdmin.connect(target);
    try {
      await admin.create('a', { size: 4 * MiB, sectorSize: 4096 });
      await admin.create('b', { size: 8 * MiB });
      await expect(admin.create('a', { size: MiB })).rejects.toMatchObject({ code: 'EINVAL' });
      await expect(admin.create('c', { size: 1000 })).rejects.toMatchObject({ code: 'INVALID_SIZE' });
      await expect(admin.create('../x', { size: MiB })).rejects.toMatchObject({ code: 'EINVAL' });
      expect((await admin.list()).map((r) => [r.id, r.info.size])).toEqual([
        ['a', 4 * MiB],
        ['b', 8 * MiB],
      ]);
      const a = await open(target, 'a');
      const b = await open(target, 'b');
      await a.write(0, Buffer.alloc(4096, 1));
      await b.write(0, Buffer.alloc(4096, 2));
      expect((await a.read(0, 1))[0]).toBe(1);
      expect((await b.read(0, 1))[0]).toBe(2);
      await expect(open(target, 'c')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const lost: string[] = [];
      a.on('disconnect', () => lost.push('a'));
      await admin.close('a');
      await waitFor('client a to see its replica close', () => a.closed);
      expect(lost).toEqual(['a']);
      expect((await b.read(0, 1))[0]).toBe(2);
      expect((await admin.open('a')).sectorSize).toBe(4096);
      expect((await admin.open('a')).size).toBe(4 * MiB);
      const a2 = await open(target, 'a');
      expect((await a2.read(0, 1))[0]).toBe(1);
      await admin.delete('a');
      await expect(admin.open('a')).rejects.toMatchObject({ code: 'NOT_A_REPLICA' });
      expect((await admin.list()).map((r) => r.id)).toEqual(['b']);
      // Deleting by an explicit directory outside the data directory needs a replica there.
      const stranger = join(dir, 'not-a-replica');
      await mkdir(stranger);
      await writeFile(join(stranger, 'keep'), 'x');
      await expect(admin.delete('x', { dir: stranger })).rejects.toMatchObject({ code: 'NOT_A_REPLICA' });
      expect(await readFile(join(stranger, 'keep'), 'utf8')).toBe('x');
      await admin.delete('gone');
      expect(await admin.ping()).toBeGreaterThanOrEqual(0);
    } finally {
      await admin.disconnect();
    }
  });
});
