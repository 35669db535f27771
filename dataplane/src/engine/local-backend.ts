import type { FileSpan } from '../block/block-device.js';
import type { Replica } from '../replica/index.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import type { ByteRange, LayerImport, LayerInfo, ReplicaInfo, SnapshotOptions } from '../replica/types.js';

/**
 * The replica on the engine's own node, opened in the engine process: I/O reaches its files
 * without a socket hop (the path nbdkit has), while replicas on other nodes go through their
 * replica servers. The store's synchronous getters are wrapped as promises.
 */
export class LocalReplicaBackend implements ReplicaBackend {
  constructor(readonly store: Replica) {}

  read(offset: number, length: number): Promise<Buffer> {
    return this.store.read(offset, length);
  }
  readSpan(offset: number, length: number): FileSpan | null {
    return this.store.readSpan(offset, length);
  }
  write(offset: number, data: Buffer): Promise<void> {
    return this.store.write(offset, data);
  }
  unmap(offset: number, length: number): Promise<void> {
    return this.store.unmap(offset, length);
  }
  writeZeroes(offset: number, length: number): Promise<void> {
    return this.store.writeZeroes(offset, length);
  }
  flush(): Promise<void> {
    return this.store.flush();
  }
  async info(): Promise<ReplicaInfo> {
    return this.store.info();
  }
  async chain(): Promise<LayerInfo[]> {
    return this.store.chain();
  }
  snapshot(name: string, opts?: SnapshotOptions): Promise<void> {
    return this.store.snapshot(name, opts);
  }
  markRemoved(name: string): Promise<void> {
    return this.store.markRemoved(name);
  }
  purge(): Promise<string[]> {
    return this.store.purge();
  }
  revert(name: string, created?: string): Promise<void> {
    return this.store.revert(name, created);
  }
  expand(size: number): Promise<void> {
    return this.store.expand(size);
  }
  setGeneration(generation: number): Promise<void> {
    return this.store.setGeneration(generation);
  }
  setKeyRotation(record: string | null): Promise<void> {
    return this.store.setKeyRotation(record);
  }
  allocatedRanges(layer?: string): Promise<ByteRange[]> {
    return this.store.allocatedRanges(layer);
  }
  readLayer(name: string, offset: number, length: number): Promise<Buffer> {
    return this.store.readLayer(name, offset, length);
  }
  writeLayer(name: string, offset: number, data: Buffer): Promise<void> {
    return this.store.writeLayer(name, offset, data);
  }
  importLayer(meta: LayerImport): Promise<void> {
    return this.store.importLayer(meta);
  }
  finishImport(): Promise<void> {
    return this.store.finishImport();
  }
  abortImport(): Promise<void> {
    return this.store.abortImport();
  }
  async dirtyRanges(): Promise<ByteRange[]> {
    return this.store.dirtyRanges();
  }
  markClean(): Promise<void> {
    return this.store.markClean();
  }
  close(): Promise<void> {
    return this.store.close();
  }
}
