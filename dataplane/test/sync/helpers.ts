import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TokenBucket } from '../../src/net/token-bucket.js';
import { ReplicaClient } from '../../src/protocol/client.js';
import { ReplicaServer } from '../../src/protocol/server.js';
import type { ReplicaStoreFactory } from '../../src/protocol/store-factory.js';
import { Replica } from '../../src/replica/replica.js';
import { SyncAgent } from '../../src/sync/sync-agent.js';

export const MiB = 1024 * 1024;

const factory: ReplicaStoreFactory = {
  create: (d, opts) => Replica.create(d, opts),
  open: (d) => Replica.open(d),
};

/** One in-process replica server on its own Unix socket and data directory (a "node"). */
export interface Node {
  server: ReplicaServer;
  address: string;
  dataDir: string;
}

export class Cluster {
  readonly nodes: Node[] = [];
  private readonly clients: ReplicaClient[] = [];
  /**
   * One sync agent for every node's server: they share this process, so a job may read a
   * source on another node from its store directly (the `viaSocket: false` shortcut).
   */
  private readonly sync: SyncAgent;
  private constructor(
    readonly dir: string,
    /** A bulk-transfer budget every node's server and the sync agent share (default: none). */
    private readonly bulk?: TokenBucket,
  ) {
    this.sync = new SyncAgent(bulk);
  }

  static async create(opts: { bulk?: TokenBucket } = {}): Promise<Cluster> {
    return new Cluster(await mkdtemp(join(tmpdir(), 'sync-')), opts.bulk);
  }

  async node(): Promise<Node> {
    const i = this.nodes.length;
    const dataDir = join(this.dir, `node-${i}`);
    const server = new ReplicaServer({
      dataDir,
      factory,
      controlOps: [this.sync.controlOps],
      ...(this.bulk ? { bulk: this.bulk } : {}),
    });
    const path = await server.listenUnix(join(this.dir, `rs-${i}.sock`));
    const node = { server, address: `unix:${path}`, dataDir };
    this.nodes.push(node);
    return node;
  }

  async replica(node: Node, id: string, size: number): Promise<ReplicaClient> {
    await node.server.createReplica(id, { size });
    return this.connect(node, id);
  }

  async connect(node: Node, id: string): Promise<ReplicaClient> {
    const c = await ReplicaClient.connect({ path: node.address.slice('unix:'.length) }, id, {
      connections: 2,
    });
    this.clients.push(c);
    return c;
  }

  async close(): Promise<void> {
    for (const c of this.clients.splice(0)) await c.close();
    for (const n of this.nodes) await n.server.close().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Deterministic pseudo-random bytes. */
export function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

export { randomBytes };

/** Writes the same bytes to every replica. */
export async function writeAll(rs: ReplicaClient[], offset: number, data: Buffer): Promise<void> {
  await Promise.all(rs.map((r) => r.write(offset, data)));
}

export async function snapshotAll(rs: ReplicaClient[], name: string): Promise<void> {
  const created = new Date().toISOString();
  await Promise.all(rs.map((r) => r.snapshot(name, { userCreated: false, created })));
}

function sha(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}

/** Per layer below the head: name, parent, allocated ranges and a hash of its own bytes. */
export async function layerPrint(r: ReplicaClient) {
  const info = await r.info();
  const out: { name: string; parent: string | null; ranges: unknown; hash: string }[] = [];
  for (const l of await r.chain()) {
    if (l.name === info.headName) continue;
    const hash = createHash('sha256');
    for (let off = 0; off < l.size; off += 8 * MiB) {
      hash.update(await r.readLayer(l.name, off, Math.min(8 * MiB, l.size - off)));
    }
    out.push({
      name: l.name,
      parent: l.parent,
      ranges: await r.allocatedRanges(l.name),
      hash: hash.digest('hex'),
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The merged view, hashed per 8 MiB. */
export async function volumePrint(r: ReplicaClient): Promise<string[]> {
  const { size } = await r.info();
  const out: string[] = [];
  for (let off = 0; off < size; off += 8 * MiB)
    out.push(sha(await r.read(off, Math.min(8 * MiB, size - off))));
  return out;
}

export async function expectSameLayers(source: ReplicaClient, target: ReplicaClient): Promise<void> {
  expect(await layerPrint(target)).toEqual(await layerPrint(source));
  expect(await volumePrint(target)).toEqual(await volumePrint(source));
}

/** File names in a replica directory (import leftovers would show up as *.import). */
export async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir)).sort();
}
