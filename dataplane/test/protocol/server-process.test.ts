import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BlockError } from '../../src/block/block-error.js';
import { ReplicaServerAdmin } from '../../src/protocol/admin-client.js';
import { ReplicaClient } from '../../src/protocol/client.js';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/protocol/replica-server-main.ts');
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const MiB = 1024 * 1024;

interface Started {
  child: ChildProcess;
  tcp: { host: string; port: number };
  socket: string;
}

let dir: string;
const children: ChildProcess[] = [];

async function startServer(extra: string[] = []): Promise<Started> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      MAIN,
      '--listen',
      '127.0.0.1:0',
      '--socket',
      join(dir, 'rs.sock'),
      '--data-dir',
      join(dir, 'data'),
      ...extra,
    ],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } },
  );
  children.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const line = await new Promise<string>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`replica server did not start: ${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).once('line', (l) => {
      clearTimeout(timer);
      res(l);
    });
    child.once('exit', (code) => rej(new Error(`replica server exited ${code}: ${stderr}`)));
  });
  const ready = JSON.parse(line) as { tcp: { host: string; port: number }; socket: string; pid: number };
  expect(ready.pid).toBe(child.pid);
  return { child, tcp: ready.tcp, socket: ready.socket };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'proto-proc-'));
});

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await exited(c);
    }
  }
  await rm(dir, { recursive: true, force: true });
});

describe('replica server process', () => {
  it('rejects pending requests with EIO and emits disconnect when the server is SIGKILLed', async () => {
    const { child, tcp, socket } = await startServer();
    const admin = await ReplicaServerAdmin.connect(tcp);
    await admin.create('r1', { size: 64 * MiB });
    await admin.disconnect();
    const clients = [
      await ReplicaClient.connect(tcp, 'r1'),
      await ReplicaClient.connect({ path: socket }, 'r1'),
    ];
    const disconnects: BlockError[][] = clients.map(() => []);
    clients.forEach((c, i) => {
      c.on('disconnect', (e) => disconnects[i]!.push(e));
    });
    await clients[0]!.write(0, randomBytes(MiB));
    // Queued in this tick, sent on the next: the kill lands before any reply can.
    const pending = clients.flatMap((c) => Array.from({ length: 32 }, (_, i) => c.read(i * 4096, 4096)));
    child.kill('SIGKILL');
    const results = await Promise.allSettled(pending);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBeGreaterThan(0);
    for (const r of rejected) {
      expect(r.reason).toMatchObject({ name: 'BlockError', code: 'EIO' });
      expect((r.reason as Error).message).toMatch(/replica r1 at (127\.0\.0\.1:\d+|unix:)/);
    }
    expect(disconnects.map((d) => d.length)).toEqual([1, 1]);
    for (const c of clients) {
      expect(c.closed).toBe(true);
      await expect(c.read(0, 1)).rejects.toMatchObject({ code: 'EIO' });
    }
    expect((await exited(child)).signal).toBe('SIGKILL');
  });

  it('exits 0 on SIGTERM closing replicas, and reopens them with --open-existing', async () => {
    const first = await startServer();
    const admin = await ReplicaServerAdmin.connect({ path: first.socket });
    await admin.create('a', { size: 16 * MiB });
    await admin.create('b', { size: 16 * MiB });
    await admin.disconnect();
    const data = randomBytes(256 * 1024);
    const a = await ReplicaClient.connect(first.tcp, 'a');
    await a.write(4096, data);
    await a.flush();
    const lost = new Promise<BlockError>((res) => a.once('disconnect', res));
    first.child.kill('SIGTERM');
    expect(await exited(first.child)).toEqual({ code: 0, signal: null });
    expect((await lost).code).toBe('EIO');

    const second = await startServer(['--open-existing']);
    const admin2 = await ReplicaServerAdmin.connect(second.tcp);
    expect((await admin2.list()).map((r) => [r.id, r.info.dirty])).toEqual([
      ['a', false],
      ['b', false],
    ]);
    await admin2.disconnect();
    const a2 = await ReplicaClient.connect({ path: second.socket }, 'a', { connections: 1 });
    expect((await a2.read(4096, data.length)).equals(data)).toBe(true);
    await a2.close();
    second.child.kill('SIGTERM');
    expect((await exited(second.child)).code).toBe(0);
  });
});

describe('replica server bulk-transfer budget (rebuilds, backups, restores, clones)', () => {
  const readAll = async (read: (off: number, len: number) => Promise<Buffer>, bytes: number) => {
    const t0 = performance.now();
    const parts = await Promise.all(Array.from({ length: bytes / MiB }, (_, i) => read(i * MiB, MiB)));
    return { ms: performance.now() - t0, data: Buffer.concat(parts) };
  };

  it('holds layer reads to --bulk-bandwidth-limit while the front end reads unthrottled; changed online', async () => {
    const { tcp } = await startServer(['--bulk-bandwidth-limit', String(4 * MiB)]);
    const admin = await ReplicaServerAdmin.connect(tcp);
    await admin.create('r', { size: 64 * MiB });
    expect(await admin.bulkBandwidth()).toBe(4 * MiB);
    const client = await ReplicaClient.connect(tcp, 'r');
    const data = randomBytes(12 * MiB);
    await client.write(0, data);
    await client.snapshot('s1');
    // 12 MiB at 4 MiB/s with a 1 s burst: at least 2 s for the layer (rebuild/backup) reads;
    // the front end's reads of the same bytes meanwhile are not queued behind them.
    const [bulk, front] = await Promise.all([
      readAll((o, l) => client.readSnapshot('s1', o, l), 12 * MiB),
      readAll((o, l) => client.read(o, l), 12 * MiB),
    ]);
    expect(bulk.data.equals(data)).toBe(true);
    expect(front.data.equals(data)).toBe(true);
    expect(bulk.ms).toBeGreaterThan(1500);
    expect(front.ms).toBeLessThan(bulk.ms - 1000);

    // A bad value is refused and the budget stays.
    await expect(admin.bulkBandwidth(-1)).rejects.toMatchObject({
      code: 'EINVAL',
      message: expect.stringMatching(/bytesPerSecond must be a non-negative integer/),
    });
    expect(await admin.bulkBandwidth()).toBe(4 * MiB);
    // Lifted online: 32 MiB would take 7 s at the old limit.
    expect(await admin.bulkBandwidth(0)).toBe(0);
    await client.write(12 * MiB, randomBytes(20 * MiB));
    const head = (await client.info()).headName;
    const unlimited = await readAll((o, l) => client.readLayer(head, o, l), 32 * MiB);
    expect(unlimited.ms).toBeLessThan(4000);
    await client.close();
    await admin.disconnect();
  });

  it('refuses a malformed --bulk-bandwidth-limit at start with a clear message', async () => {
    await expect(startServer(['--bulk-bandwidth-limit', '10MB'])).rejects.toThrow(
      /--bulk-bandwidth-limit must be bytes per second \(0: no limit\), got "10MB"/,
    );
  });
});
