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
  /** The data-key rotation record the engine last saved here (setKeyRotation), if any. */
  keyRotation?: string;
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
  /** Keeps the engine's data-key rotation record (opaque text) durably; null removes it. */
  setKeyRotation(record: string | null): Promise<void>;
  /** Data ranges of one layer (by name), or of the merged view when `layer` is omitted. */
  allocatedRanges(layer?: string): Promise<ByteRange[]>;
  close(): Promise<void>;
}

/**
 * Rebuild and backup access to single layers, beyond `ReplicaStore` (kept separate so stores
 * that do not offer it, e.g. test doubles, still satisfy `ReplicaStore`).
 *
 * Building a replica's chain from received layers (rebuild):
 * 1. `importLayer(meta)` once per layer to receive: stages an empty sparse file of
 *    `meta.size` bytes under a temporary name, invisible to reads and to `chain()`.
 * 2. `writeLayer(name, offset, data)` any number of times, in any order; untouched ranges stay
 *    holes. Only staged layers accept writes.
 * 3. `finishImport()` checks that every staged layer's parent exists (already present or
 *    staged) and that no cycle forms, then commits them all at once: a staged layer whose name
 *    already exists (e.g. the empty system snapshot the rebuild made locally) replaces it. A
 *    crash before the commit leaves no trace; a crash during it is rolled forward at open.
 *    `abortImport()` drops every staged layer instead.
 * The head is never imported: the new replica's head keeps receiving the engine's writes (WO);
 * use `revert(name)` afterwards if the head should sit on top of an imported layer instead.
 */
export interface LayerImport {
  name: string;
  parent: string | null;
  /** Logical size; defaults to the replica's size, and may not exceed it. */
  size?: number;
  created?: string;
  labels?: Record<string, string>;
  userCreated?: boolean;
  removed?: boolean;
}

export interface LayerStore {
  /**
   * One layer's own bytes (head or snapshot, by name); holes and bytes past its size are zeros.
   * `into`: read into (the start of) this buffer instead of a new one, e.g. a rebuild reusing
   * its buffers (fresh multi-MiB buffers cost page faults on every use).
   */
  readLayer(name: string, offset: number, length: number, into?: Buffer): Promise<Buffer>;
  /** The volume as it was when snapshot `name` was taken (that layer and its ancestors). */
  readSnapshot(name: string, offset: number, length: number): Promise<Buffer>;
  importLayer(meta: LayerImport): Promise<void>;
  writeLayer(name: string, offset: number, data: Buffer): Promise<void>;
  finishImport(opts?: FinishImportOptions): Promise<void>;
  abortImport(): Promise<void>;
}

/**
 * `drop`: snapshot layers to delete in the same commit (e.g. layers a returning replica still
 * holds but its source no longer has). Each must exist, must not be staged, and no remaining
 * layer (nor the head) may have it as an ancestor; refused with IMPORT_INVALID otherwise.
 */
export interface FinishImportOptions {
  drop?: string[];
}

/**
 * The write-intent side of the generation scheme (see the dataplane README): regions written
 * since the engine last declared all replicas equal.
 */
export interface DirtyTracking {
  /** Byte ranges (whole regions) that may differ from other replicas of the same generation. */
  dirtyRanges(): ByteRange[];
  /**
   * Flushes, then durably clears the write-intent bitmap. Call only when every replica holds
   * every write (the engine's I/O is paused and all replicas acknowledged a flush).
   */
  markClean(): Promise<void>;
}
