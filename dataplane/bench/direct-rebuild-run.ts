/**
 * The replica-to-replica rebuild (what a cluster does: the target's replica server pulls the
 * layers from the source's, `directRebuilder`), measured on its own: two replica-server
 * processes on loopback TCP, a source replica holding `dataBytes` of random data in a snapshot,
 * an empty target; the engine's own rebuilder drives the sync. The CLI's volume cannot show this
 * path: its engine holds the first replica in its own process, so it copies that one itself.
 */
import { randomFillSync } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startDetached, stopProcess } from '../src/cli/detached-process.js';
import { parseReplicaAddress } from '../src/net/replica-address.js';
import { entryCommand } from '../src/process/entry-point.js';
import { ReplicaServerAdmin } from '../src/protocol/admin-client.js';
import { ReplicaClient } from '../src/protocol/client.js';
import { directRebuilder } from '../src/sync/direct-rebuild.js';

export interface DirectRebuildResult {
  seconds: number;
  MiBps: number;
  /** CPU time of both replica servers during the rebuild. */
  cpuSeconds: number;
  phaseMs: Record<string, number>;
}

const WRITE = 1024 * 1024;

async function startServer(dir: string, name: string): Promise<{ pid: number; address: string }> {
  const { command, args } = entryCommand('protocol/replica-server-main');
  const data = join(dir, name);
  await mkdir(data, { recursive: true });
  const { pid, ready } = await startDetached(
    command,
    [...args, '--listen', '127.0.0.1:0', '--data-dir', data],
    join(dir, `${name}.log`),
    { UV_THREADPOOL_SIZE: '16' }, // as the instance manager starts them
  );
  const tcp = ready.tcp as { host: string; port: number };
  return { pid, address: `${tcp.host}:${tcp.port}` };
}

async function createReplica(address: string, id: string, size: number): Promise<ReplicaClient> {
  const target = parseReplicaAddress(address);
  const admin = await ReplicaServerAdmin.connect(target);
  try {
    await admin.create(id, { size });
  } finally {
    await admin.disconnect();
  }
  return ReplicaClient.connect(target, id);
}

/** Random data over the first `bytes` of the source, 1 MiB writes, 8 in flight. */
async function fillSource(client: ReplicaClient, bytes: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    const buf = Buffer.allocUnsafe(WRITE);
    while (next < bytes) {
      const offset = next;
      next += WRITE;
      randomFillSync(buf);
      await client.write(offset, buf);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await client.flush();
}

export async function directRebuildRun(
  dir: string,
  size: number,
  dataBytes: number,
  cpuUs: (pids: number[]) => number,
): Promise<DirectRebuildResult> {
  const servers: number[] = [];
  const clients: ReplicaClient[] = [];
  try {
    const a = await startServer(dir, 'server-a');
    servers.push(a.pid);
    const b = await startServer(dir, 'server-b');
    servers.push(b.pid);
    const source = await createReplica(a.address, 'src', size);
    clients.push(source);
    const target = await createReplica(b.address, 'dst', size);
    clients.push(target);
    await fillSource(source, dataBytes);
    // The engine's join point: both take the snapshot; the fill is flushed by it, outside
    // the measured time (the CLI's figure includes it).
    await Promise.all([source.snapshot('join'), target.snapshot('join')]);
    const rebuilder = directRebuilder({ fallback: false });
    const cpu0 = cpuUs(servers);
    const t0 = performance.now();
    await rebuilder.prepare(source, target);
    await rebuilder.copy(source, target, 'join', () => {});
    const seconds = (performance.now() - t0) / 1000;
    const cpuSeconds = (cpuUs(servers) - cpu0) / 1e6;
    const { phaseMs } = await target.syncProgress();
    // A figure is only worth having for a correct copy: compare 32 windows across the data.
    const step = Math.floor(dataBytes / 32 / WRITE) * WRITE;
    for (let offset = 0; offset < dataBytes; offset += step) {
      const [a, b] = await Promise.all([
        source.readLayer('join', offset, WRITE),
        target.readLayer('join', offset, WRITE),
      ]);
      if (!a.equals(b)) throw new Error(`the rebuilt layer differs from the source at ${offset}`);
    }
    return { seconds, MiBps: dataBytes / WRITE / seconds, cpuSeconds, phaseMs };
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    for (const pid of servers) await stopProcess(pid);
  }
}
