import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SnapshotView, VolumeView } from '../../src/engine/engine-client.js';
import { NBD_CMD_READ, NBD_CMD_WRITE } from '../../src/frontend/nbd/index.js';
import { entryCommand } from '../../src/process/entry-point.js';
import { ReplicaServer } from '../../src/protocol/server.js';
import { Replica } from '../../src/replica/replica.js';
import { grpc, loadService } from '../../src/rpc/grpc-proto.js';
import { SyncAgent } from '../../src/sync/sync-agent.js';
import { RawClient } from '../nbd/raw-client.js';
import { waitFor } from '../wait-for.js';

/**
 * The engine's gRPC service (proto/engine.proto) called directly, every RPC with good and bad
 * input, against a real engine process and real replica servers (in this process, so a test can
 * count the connections each replica holds). Statuses and messages are what a caller sees.
 */

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;

type Rpc = <T>(method: string, req?: unknown) => Promise<T>;

interface Started {
  child: ChildProcess;
  control: string;
  nbd: string;
}

let dir: string;
/** Three "nodes": r1 on a, r2 on b, spare replicas on c. */
let servers: { a: ReplicaServer; b: ReplicaServer; c: ReplicaServer };
let addr: { a: string; b: string; c: string };
let engine: Started | null = null;
let client: grpc.Client | null = null;
let call: Rpc;

function newServer(name: string): ReplicaServer {
  return new ReplicaServer({
    dataDir: join(dir, name),
    factory: { create: (d, o) => Replica.create(d, o), open: (d) => Replica.open(d) },
    controlOps: [new SyncAgent().controlOps],
  });
}

async function listen(server: ReplicaServer): Promise<string> {
  const { host, port } = await server.listenTcp('127.0.0.1', 0);
  return `${host}:${port}`;
}

async function startEngine(replicas: string[]): Promise<Started> {
  const { command, args } = entryCommand('engine/engine-main');
  const child = spawn(
    command,
    [
      ...args,
      '--volume',
      'v',
      ...replicas.flatMap((r) => ['--replica', r]),
      '--listen',
      '127.0.0.1:0',
      '--control',
      '127.0.0.1:0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`engine exited ${code} before it was ready: ${stderr}`)));
  });
  const ready = JSON.parse(line) as { control: string; nbd: string };
  return { child, control: ready.control, nbd: ready.nbd };
}

async function stopEngine(started: Started): Promise<void> {
  const { child } = started;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

/** Connections the replica server holds for one replica (the engine's client has 2). */
function connections(server: ReplicaServer, id: string): number {
  return server.listReplicas().find((r) => r.id === id)?.connections ?? 0;
}

/** Asserts a call fails with this gRPC status and a message matching `message`. */
async function expectStatus(promise: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> {
  const err = (await promise.then(
    () => {
      throw new Error(`expected ${grpc.status[code]}, the call succeeded`);
    },
    (e: unknown) => e,
  )) as grpc.ServiceError;
  expect({ code: grpc.status[err.code], details: err.details }).toEqual({
    code: grpc.status[code],
    details: expect.stringMatching(message),
  });
}

/** Writes through the engine's NBD frontend, as a client would. */
async function nbdWrite(uri: string, offset: number, data: Buffer): Promise<void> {
  const c = await (await RawClient.connect(Number(new URL(uri).port))).connectedTo('');
  try {
    const chunk = MiB;
    let handle = 0;
    for (let pos = 0; pos < data.length; pos += chunk) {
      c.request(
        NBD_CMD_WRITE,
        ++handle,
        offset + pos,
        Math.min(chunk, data.length - pos),
        0,
        data.subarray(pos, pos + chunk),
      );
    }
    for (let i = 0; i < handle; i++) expect((await c.readReply()).error).toBe(0);
  } finally {
    c.destroy();
  }
}

async function nbdRead(uri: string, offset: number, length: number): Promise<Buffer> {
  const c = await (await RawClient.connect(Number(new URL(uri).port))).connectedTo('');
  try {
    c.request(NBD_CMD_READ, 1, offset, length);
    expect(await c.readReply()).toEqual({ error: 0, handle: 1 });
    return await c.read(length);
  } finally {
    c.destroy();
  }
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'engine-svc-'));
  servers = { a: newServer('a'), b: newServer('b'), c: newServer('c') };
  addr = { a: await listen(servers.a), b: await listen(servers.b), c: await listen(servers.c) };
  await servers.a.createReplica('r1', { size: SIZE });
  await servers.b.createReplica('r2', { size: SIZE });
  for (const id of ['r3', 'r4']) await servers.c.createReplica(id, { size: SIZE });
  engine = await startEngine([`r1=${addr.a}`, `r2=${addr.b}`]);
  const Service = loadService('engine.proto', 'longhorn.engine.v1.Engine');
  const c = new Service(engine.control, grpc.credentials.createInsecure());
  client = c;
  call = <T>(method: string, req: unknown = {}) =>
    new Promise<T>((resolve, reject) => {
      const fn = (c as unknown as Record<string, (...a: unknown[]) => void>)[method]!;
      fn.call(c, req, { deadline: Date.now() + 60_000 }, (err: grpc.ServiceError | null, res: T) =>
        err ? reject(err) : resolve(res),
      );
    });
  await waitFor(
    'the engine to hold both replicas',
    () => connections(servers.a, 'r1') === 2 && connections(servers.b, 'r2') === 2,
  );
}, 60_000);

afterEach(async () => {
  client?.close();
  client = null;
  if (engine) await stopEngine(engine);
  engine = null;
  for (const s of Object.values(servers)) await s.close();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('Engine gRPC service', () => {
  it('VolumeGet describes the volume, its frontend and replicas', async () => {
    const v = await call<VolumeView>('volumeGet');
    expect(v).toMatchObject({ name: 'v', size: SIZE, robustness: 'healthy', frontend: engine!.nbd });
    expect(v.generation % 2).toBe(1);
    expect(v.replicas.map((r) => [r.id, r.address, r.mode, r.rebuilding])).toEqual([
      ['r1', addr.a, 'RW', false],
      ['r2', addr.b, 'RW', false],
    ]);
  });

  it('VolumeExpand grows the volume and refuses sizes that are not 4 KiB multiples or shrink it', async () => {
    await expectStatus(
      call('volumeExpand', { size: SIZE + 1000 }),
      grpc.status.INVALID_ARGUMENT,
      /multiple of 4096/,
    );
    await expectStatus(
      call('volumeExpand', { size: SIZE / 2 }),
      grpc.status.INVALID_ARGUMENT,
      /cannot shrink/,
    );
    await expectStatus(call('volumeExpand', { size: 0 }), grpc.status.INVALID_ARGUMENT, /cannot shrink/);
    expect((await call<VolumeView>('volumeExpand', { size: SIZE })).size).toBe(SIZE);
    expect((await call<VolumeView>('volumeExpand', { size: 2 * SIZE })).size).toBe(2 * SIZE);
    expect((await call<VolumeView>('volumeGet')).size).toBe(2 * SIZE);
    // Every replica grew with it.
    for (const [s, id] of [
      [servers.a, 'r1'],
      [servers.b, 'r2'],
    ] as const) {
      expect(s.listReplicas().find((r) => r.id === id)!.info.size).toBe(2 * SIZE);
    }
  });

  it('FrontendStop and FrontendStart are idempotent and move the NBD endpoint', async () => {
    expect((await call<VolumeView>('frontendStart')).frontend).toBe(engine!.nbd);
    expect((await call<VolumeView>('frontendStop')).frontend).toBe('');
    expect((await call<VolumeView>('frontendStop')).frontend).toBe('');
    await expect(RawClient.connect(Number(new URL(engine!.nbd).port))).rejects.toThrow(/ECONNREFUSED/);
    const started = await call<VolumeView>('frontendStart');
    expect(started.frontend).toMatch(/^nbd:\/\/127\.0\.0\.1:\d+$/);
    expect((await call<VolumeView>('frontendStart')).frontend).toBe(started.frontend);
    const data = randomBytes(8192);
    await nbdWrite(started.frontend, 4096, data);
    expect((await nbdRead(started.frontend, 4096, 8192)).equals(data)).toBe(true);
  });

  it('ReplicaAdd refuses a malformed address with INVALID_ARGUMENT, and a missing id', async () => {
    for (const address of [
      '',
      'nocolon',
      '127.0.0.1:0',
      '127.0.0.1:99999',
      ':7000',
      '127.0.0.1:port',
      'unix:',
    ]) {
      await expectStatus(
        call('replicaAdd', { id: 'r3', address }),
        grpc.status.INVALID_ARGUMENT,
        /expected HOST:PORT or unix:PATH/,
      );
    }
    await expectStatus(
      call('replicaAdd', { id: '', address: addr.c }),
      grpc.status.INVALID_ARGUMENT,
      /replica id is required/,
    );
    expect((await call<VolumeView>('volumeGet')).replicas.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('ReplicaAdd: an unknown replica is NOT_FOUND, a server that is not there UNAVAILABLE', async () => {
    await expectStatus(
      call('replicaAdd', { id: 'nope', address: addr.c }),
      grpc.status.NOT_FOUND,
      /no replica nope/,
    );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
    const { port } = closed.address() as AddressInfo;
    await new Promise((r) => closed.close(r));
    await expectStatus(
      call('replicaAdd', { id: 'r3', address: `127.0.0.1:${port}` }),
      grpc.status.UNAVAILABLE,
      /cannot connect|ECONNREFUSED/,
    );
    expect((await call<VolumeView>('volumeGet')).replicas.map((r) => r.id)).toEqual(['r1', 'r2']);
  });

  it('ReplicaAdd of a member is refused and the client it opened is closed (no leak)', async () => {
    await expectStatus(
      call('replicaAdd', { id: 'r1', address: addr.a }),
      grpc.status.INVALID_ARGUMENT,
      /replica r1 is already a member/,
    );
    // The engine's own client (2 connections) stays; the refused one went away.
    await waitFor('the refused client to close', () => connections(servers.a, 'r1') === 2, {
      timeoutMs: 5000,
    });
    expect((await call<VolumeView>('volumeGet')).replicas.map((r) => [r.id, r.mode])).toEqual([
      ['r1', 'RW'],
      ['r2', 'RW'],
    ]);
  });

  it('ReplicaAdd while a rebuild runs is FAILED_PRECONDITION and leaks nothing; so are snapshot, purge, expand, revert', async () => {
    await nbdWrite(engine!.nbd, 0, randomBytes(12 * MiB));
    // 12 MiB at 2 MiB/s: several seconds of rebuild to probe.
    await call<VolumeView>('replicaAdd', {
      id: 'r3',
      address: addr.c,
      bandwidthLimit: 2 * MiB,
      background: true,
    });
    await waitFor('r3 to join write-only', async () => {
      const r3 = (await call<VolumeView>('volumeGet')).replicas.find((r) => r.id === 'r3');
      return r3?.mode === 'WO' && r3.rebuilding;
    });
    await expectStatus(
      call('replicaAdd', { id: 'r4', address: addr.c }),
      grpc.status.FAILED_PRECONDITION,
      /one rebuild at a time/,
    );
    await waitFor('the refused client to close', () => connections(servers.c, 'r4') === 0, {
      timeoutMs: 5000,
    });
    await expectStatus(
      call('snapshotCreate', { name: 'x' }),
      grpc.status.FAILED_PRECONDITION,
      /rebuild is running/,
    );
    await expectStatus(call('snapshotPurge'), grpc.status.FAILED_PRECONDITION, /rebuild is running/);
    await expectStatus(
      call('volumeExpand', { size: 2 * SIZE }),
      grpc.status.FAILED_PRECONDITION,
      /rebuild is running/,
    );
    await call('frontendStop');
    await expectStatus(call('snapshotRevert', { name: 'x' }), grpc.status.FAILED_PRECONDITION, /rebuild/);
    const v = await call<VolumeView>('volumeGet');
    expect(v.replicas.find((r) => r.id === 'r3')).toMatchObject({ mode: 'WO', rebuilding: true });
    expect(v.size).toBe(SIZE);
    // Removing the replica ends the rebuild; its client is closed too.
    expect((await call<VolumeView>('replicaRemove', { id: 'r3' })).replicas.map((r) => r.id)).toEqual([
      'r1',
      'r2',
    ]);
    await waitFor('the removed replica client to close', () => connections(servers.c, 'r3') === 0, {
      timeoutMs: 5000,
    });
  }, 60_000);

  it('ReplicaAdd rebuilds a replica online; ReplicaRemove drops one and refuses unknown ids', async () => {
    const data = randomBytes(4 * MiB);
    await nbdWrite(engine!.nbd, 8 * MiB, data);
    const v = await call<VolumeView>('replicaAdd', { id: 'r3', address: addr.c });
    expect(v.replicas.map((r) => [r.id, r.mode, r.rebuilding])).toEqual([
      ['r1', 'RW', false],
      ['r2', 'RW', false],
      ['r3', 'RW', false],
    ]);
    await expectStatus(
      call('replicaRemove', { id: 'nope' }),
      grpc.status.INVALID_ARGUMENT,
      /no replica nope/,
    );
    await expectStatus(call('replicaRemove', { id: '' }), grpc.status.INVALID_ARGUMENT, /no replica/);
    const after = await call<VolumeView>('replicaRemove', { id: 'r1' });
    expect(after.replicas.map((r) => [r.id, r.mode])).toEqual([
      ['r2', 'RW'],
      ['r3', 'RW'],
    ]);
    await waitFor('the removed replica client to close', () => connections(servers.a, 'r1') === 0, {
      timeoutMs: 5000,
    });
    // r3 now serves reads alongside r2: the rebuilt bytes are right (round-robin hits both).
    for (let i = 0; i < 4; i++)
      expect((await nbdRead(engine!.nbd, 8 * MiB, 4 * MiB)).equals(data)).toBe(true);
  }, 60_000);

  it('SnapshotCreate, SnapshotList, SnapshotDelete and SnapshotPurge, with bad names and unknown snapshots', async () => {
    const s1 = await call<SnapshotView>('snapshotCreate', { name: 's1', labels: { app: 'db' } });
    expect(s1).toMatchObject({
      name: 's1',
      userCreated: true,
      removed: false,
      head: false,
      labels: { app: 'db' },
    });
    const auto = await call<SnapshotView>('snapshotCreate', { name: '' });
    expect(auto.name).toMatch(/^snap-\d{14}$/);
    await expectStatus(call('snapshotCreate', { name: 's1' }), grpc.status.ALREADY_EXISTS, /s1/);
    for (const name of ['../x', 'a b', '.hidden', 'x'.repeat(64)]) {
      await expectStatus(
        call('snapshotCreate', { name }),
        grpc.status.INVALID_ARGUMENT,
        /snapshot name .* is invalid/,
      );
    }

    const list = (await call<{ snapshots: SnapshotView[] }>('snapshotList')).snapshots;
    expect(list.map((l) => [l.name, l.head])).toEqual([
      ['s1', false],
      [auto.name, false],
      [expect.any(String), true],
    ]);
    expect(list[1]!.parent).toBe('s1');

    await expectStatus(call('snapshotDelete', { name: 'nope' }), grpc.status.NOT_FOUND, /no snapshot nope/);
    await expectStatus(call('snapshotDelete', { name: '' }), grpc.status.INVALID_ARGUMENT, /is invalid/);
    await expectStatus(call('snapshotDelete', { name: '../s1' }), grpc.status.INVALID_ARGUMENT, /is invalid/);
    await call('snapshotDelete', { name: 's1' });
    await call('snapshotDelete', { name: 's1' }); // already removed: idempotent
    expect((await call<{ snapshots: SnapshotView[] }>('snapshotList')).snapshots[0]).toMatchObject({
      name: 's1',
      removed: true,
    });
    expect((await call<{ purged: string[] }>('snapshotPurge')).purged).toEqual(['s1']);
    expect((await call<{ purged: string[] }>('snapshotPurge')).purged).toEqual([]);
    expect(
      (await call<{ snapshots: SnapshotView[] }>('snapshotList')).snapshots.map((l) => l.name),
    ).not.toContain('s1');
    // Refusals ejected nobody.
    expect((await call<VolumeView>('volumeGet')).replicas.map((r) => r.mode)).toEqual(['RW', 'RW']);
  });

  it('SnapshotRevert needs the frontend down, a valid name and a live snapshot; then restores its bytes', async () => {
    const before = randomBytes(64 * 1024);
    await nbdWrite(engine!.nbd, 0, before);
    await call('snapshotCreate', { name: 's1' });
    await nbdWrite(engine!.nbd, 0, randomBytes(64 * 1024));
    await call('snapshotCreate', { name: 'gone' });
    await call('snapshotDelete', { name: 'gone' });

    await expectStatus(
      call('snapshotRevert', { name: 's1' }),
      grpc.status.FAILED_PRECONDITION,
      /stop the frontend/,
    );
    await call('frontendStop');
    await expectStatus(call('snapshotRevert', { name: 'nope' }), grpc.status.NOT_FOUND, /no snapshot nope/);
    await expectStatus(call('snapshotRevert', { name: 'a/b' }), grpc.status.INVALID_ARGUMENT, /is invalid/);
    await expectStatus(
      call('snapshotRevert', { name: 'gone' }),
      grpc.status.FAILED_PRECONDITION,
      /marked removed/,
    );
    await call('snapshotRevert', { name: 's1' });
    const head = (await call<{ snapshots: SnapshotView[] }>('snapshotList')).snapshots.find((l) => l.head)!;
    expect(head.parent).toBe('s1');
    const { frontend } = await call<VolumeView>('frontendStart');
    for (let i = 0; i < 2; i++) expect((await nbdRead(frontend, 0, before.length)).equals(before)).toBe(true);
    expect((await call<VolumeView>('volumeGet')).replicas.map((r) => r.mode)).toEqual(['RW', 'RW']);
  });
});
