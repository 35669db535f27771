/**
 * The public face of one replica's on-disk store. The replica server (protocol) and the sync
 * code program against this interface; `Replica` in this folder implements it.
 */

/** A half-open byte range [offset, offset + length). */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface SnapshotOptions {
  labels?: Record<string, string>;
  /** True when a user asked for it; false for system snapshots (rebuild, expansion). */
  userCreated?: boolean;
  /** ISO-8601 time; defaults to now. The engine passes one time to every replica. */
  created?: string;
}

/** One layer of the chain as seen by `chain()`. The head is named by `headName`. */
export interface LayerInfo {
  name: string;
  parent: string | null;
  children: string[];
  removed: boolean;
  userCreated: boolean;
  created: string;
  labels: Record<string, string>;
  /** Logical size of the layer in bytes (layers made before an expansion are smaller). */
  size: number;
  /** Bytes of data the layer holds (allocated extents), from the extent index. */
  allocatedBytes: number;
}

export interface ReplicaInfo {
  size: number;
  sectorSize: number;
  headName: string;
  /** Persistent generation mark, see the dataplane README. */
  generation: number;
  /** True if the last session did not close cleanly. */
  dirty: boolean;
}

export interface ReplicaStore {
  info(): ReplicaInfo;
  read(offset: number, length: number): Promise<Buffer>;
  write(offset: number, data: Buffer): Promise<void>;
  flush(): Promise<void>;
  unmap(offset: number, length: number): Promise<void>;
  writeZeroes(offset: number, length: number): Promise<void>;
  snapshot(name: string, opts?: SnapshotOptions): Promise<void>;
  /** Every layer, snapshots and head, ordered from the oldest to the head. */
  chain(): LayerInfo[];
  markRemoved(name: string): Promise<void>;
  /** Coalesces or prunes every removed layer; returns the names it purged. */
  purge(): Promise<string[]>;
  /** A new empty head on top of `name`. */
  revert(name: string, created?: string): Promise<void>;
  expand(size: number): Promise<void>;
  setGeneration(generation: number): Promise<void>;
  /** Data ranges of one layer (by name), or of the merged view when `layer` is omitted. */
  allocatedRanges(layer?: string): Promise<ByteRange[]>;
  close(): Promise<void>;
}
