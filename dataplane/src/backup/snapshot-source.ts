import type { ReplicaClient } from '../protocol/client.js';
import type { ByteRange, LayerInfo, LayerStore, ReplicaStore } from '../replica/types.js';
import { BackupError } from './errors.js';

/**
 * Where a backup reads a snapshot from: one replica's layer chain, read through the replica
 * protocol's layer calls (not the engine's I/O path, so the volume's I/O is not queued behind
 * the backup's reads). Anything with the same calls can be backed up (tests use a replica
 * opened in-process).
 */
export interface SnapshotSource {
  /** The volume's size in bytes. */
  size(): Promise<number>;
  /** Every layer of the replica (snapshots and head), oldest first. */
  chain(): Promise<LayerInfo[]>;
  allocatedRanges(layer: string): Promise<ByteRange[]>;
  /** The volume as it was when `snapshot` was taken: [offset, offset + length). */
  readSnapshot(snapshot: string, offset: number, length: number): Promise<Buffer>;
}

/** The snapshot's chain, newest first: the snapshot, its parent, ... the oldest layer. */
export function chainOf(layers: readonly LayerInfo[], snapshot: string): LayerInfo[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const first = byName.get(snapshot);
  if (!first) throw new BackupError('NOT_FOUND', `no snapshot ${snapshot} on the replica`);
  const out: LayerInfo[] = [];
  for (let l: LayerInfo | undefined = first; l; l = l.parent ? byName.get(l.parent) : undefined) {
    if (out.includes(l)) throw new BackupError('EIO', `the replica's chain loops at ${l.name}`);
    out.push(l);
  }
  return out;
}

export class ReplicaSnapshotSource implements SnapshotSource {
  constructor(private readonly client: ReplicaClient) {}

  async size(): Promise<number> {
    return (await this.client.info()).size;
  }

  chain(): Promise<LayerInfo[]> {
    return this.client.chain();
  }

  allocatedRanges(layer: string): Promise<ByteRange[]> {
    return this.client.allocatedRanges(layer);
  }

  readSnapshot(snapshot: string, offset: number, length: number): Promise<Buffer> {
    return this.client.readSnapshot(snapshot, offset, length);
  }
}

/** A replica store opened in this process (tests, tools run next to the replica's files). */
export class StoreSnapshotSource implements SnapshotSource {
  constructor(private readonly store: ReplicaStore & LayerStore) {}

  async size(): Promise<number> {
    return this.store.info().size;
  }

  async chain(): Promise<LayerInfo[]> {
    return this.store.chain();
  }

  allocatedRanges(layer: string): Promise<ByteRange[]> {
    return this.store.allocatedRanges(layer);
  }

  readSnapshot(snapshot: string, offset: number, length: number): Promise<Buffer> {
    return this.store.readSnapshot(snapshot, offset, length);
  }
}
