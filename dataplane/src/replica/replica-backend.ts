import type { FileSpan } from '../block/block-device.js';
import type { ByteRange, LayerImport, LayerInfo, ReplicaInfo, SnapshotOptions } from './types.js';

/**
 * What the engine and rebuild need from one replica, however it is reached: the protocol's
 * ReplicaClient satisfies it over the network, engine/local-backend.ts for the replica opened
 * in the engine's own process. Kept structural, beside the store it fronts, so neither the
 * engine nor sync depends on how a replica is reached.
 */
export interface ReplicaBackend {
  read(offset: number, length: number): Promise<Buffer>;
  /** Only a replica in the engine's own process has one: see BlockDevice.readSpan. */
  readSpan?(offset: number, length: number): FileSpan | null;
  write(offset: number, data: Buffer): Promise<void>;
  unmap(offset: number, length: number): Promise<void>;
  writeZeroes(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  info(): Promise<ReplicaInfo>;
  chain(): Promise<LayerInfo[]>;
  snapshot(name: string, opts?: SnapshotOptions): Promise<void>;
  markRemoved(name: string): Promise<void>;
  purge(): Promise<string[]>;
  revert(name: string, created?: string): Promise<void>;
  expand(size: number): Promise<void>;
  setGeneration(generation: number): Promise<void>;
  setKeyRotation(record: string | null): Promise<void>;
  allocatedRanges(layer?: string): Promise<ByteRange[]>;
  /** One layer's own bytes (rebuild source). */
  readLayer(name: string, offset: number, length: number): Promise<Buffer>;
  /** Writes into a layer being imported (rebuild target). */
  writeLayer(name: string, offset: number, data: Buffer): Promise<void>;
  /** Layer import on a rebuild target (LayerStore in replica/types.ts). */
  importLayer(meta: LayerImport): Promise<void>;
  finishImport(): Promise<void>;
  abortImport(): Promise<void>;
  /** Write-intent map: ranges that may differ from other replicas of the same generation. */
  dirtyRanges(): Promise<ByteRange[]>;
  /** Flushes and clears the write-intent map; only when every replica holds every write. */
  markClean(): Promise<void>;
  close(): Promise<void>;
  /** Liveness probe; answered by the replica server without touching data. */
  ping?(): Promise<number>;
  /** Reports a lost connection at once, before any request notices it. */
  on?(event: 'disconnect', listener: (err: Error) => void): unknown;
}
