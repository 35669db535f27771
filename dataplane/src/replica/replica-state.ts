import { BlockLocks } from './block-locks.js';
import type { DirtyMap } from './dirty-map.js';
import { ReplicaError } from './errors.js';
import { IoGate } from './io-gate.js';
import { closeLayer, type Layer } from './layer.js';
import { REPLICA_META, type ReplicaMeta, removeFiles, wasRenamed, writeJsonAtomic } from './metadata.js';

/** A staged layer's early flush: bytes written since the last one, the one running, its error. */
export interface StagedFlush {
  unflushed: number;
  running: Promise<void> | null;
  error: Error | null;
}

/**
 * The state of one open replica and the rules every operation on it follows: block I/O enters
 * the I/O gate (`enter`), structural changes hold it exclusively (`exclusive`), chain changes
 * run one at a time (`chainChange`), and volume.meta is the commit point (`saveMeta`). Built
 * on by layer-store.ts (single-layer reads and imports) and replica.ts (block I/O and the
 * chain); replica-open.ts creates and recovers the files.
 */
export abstract class ReplicaState {
  protected readonly gate = new IoGate();
  /** Tail of the queue of chain changes (see serialized()). */
  protected chainTail: Promise<unknown> = Promise.resolve();
  protected readonly locks = new BlockLocks();
  /** Snapshot layers in creation order (never the head). */
  protected readonly snaps = new Map<string, Layer>();
  protected head!: Layer;
  /** head, its parent, grandparent...: the layers a volume read resolves through. */
  protected chainFromHead: Layer[] = [];
  /** Layers being imported (layer-store.ts), under their temporary file names. */
  protected readonly staged = new Map<string, Layer>();
  /** Early flushes of staged layers (layer-store.ts `writeBack`), by layer. */
  protected readonly stagedFlush = new Map<Layer, StagedFlush>();
  protected dirtyMap!: DirtyMap;
  protected closed = false;
  protected readonly wasDirty: boolean;

  protected constructor(
    readonly dir: string,
    protected meta: ReplicaMeta,
    /** The directory's fd, holding the flock until close. */
    protected readonly lockFd: number,
  ) {
    this.wasDirty = meta.dirty;
  }

  protected ensureOpen(): void {
    if (this.closed) throw new ReplicaError('CLOSED', `replica ${this.dir} is closed`, { replica: this.dir });
  }

  /**
   * Enters the I/O gate. Synchronous (null) in the common case so the hot path pays no extra
   * promise; a promise only while a structural change holds or awaits the gate.
   */
  protected enter(): Promise<void> | null {
    const wait = this.gate.enter();
    if (!wait) return null;
    return wait.then(() => {
      if (this.closed) {
        this.gate.leave();
        this.ensureOpen();
      }
    });
  }

  /** Chain changes run one at a time (a purge's copy phase included), each exclusive of I/O. */
  protected chainChange<T>(fn: () => Promise<T>): Promise<T> {
    return this.serialized(() => this.exclusive(fn));
  }

  protected serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chainTail.then(fn, fn);
    this.chainTail = run.catch(() => undefined);
    return run;
  }

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate.exclusive(async () => {
      this.ensureOpen();
      return fn();
    });
  }

  protected rebuildChain(): void {
    const chain: Layer[] = [this.head];
    let parent = this.head.meta.parent;
    while (parent !== null) {
      const l = this.snaps.get(parent);
      if (!l) break;
      chain.push(l);
      parent = l.meta.parent;
    }
    this.chainFromHead = chain;
  }

  protected snapshotLayer(name: string): Layer {
    const l = this.snaps.get(name);
    if (l) return l;
    if (name === this.meta.head) {
      throw new ReplicaError('INVALID_LAYER', `${name} is the head, not a snapshot`, { layer: name });
    }
    throw new ReplicaError('SNAPSHOT_NOT_FOUND', `no snapshot ${name}`, { layer: name });
  }

  protected layerByName(name: string): Layer {
    return name === this.meta.head ? this.head : this.snapshotLayer(name);
  }

  protected async saveMeta(next: ReplicaMeta): Promise<void> {
    try {
      await writeJsonAtomic(this.dir, REPLICA_META, next);
    } catch (err) {
      if (wasRenamed(err)) this.meta = next; // committed, only the directory fsync failed
      throw err;
    }
    this.meta = next;
  }

  /**
   * Waits for the early flushes of `layers` still running (their fds must not close under
   * them); returns the first error one met. Linux reports a writeback error to one fdatasync
   * only, so the commit must see it here, not from its own fdatasync: an error stays until
   * the layers are forgotten (`forget`, once they are committed or dropped).
   */
  protected async settleStagedFlushes(layers: readonly Layer[], forget: boolean): Promise<Error | null> {
    let error: Error | null = null;
    for (const l of layers) {
      const f = this.stagedFlush.get(l);
      if (!f) continue;
      if (f.running) await f.running;
      error ??= f.error;
    }
    if (forget) for (const l of layers) this.stagedFlush.delete(l);
    return error;
  }

  protected async abortStaged(): Promise<void> {
    const staged = [...this.staged.values()];
    this.staged.clear();
    await this.settleStagedFlushes(staged, true);
    for (const l of staged) closeLayer(l);
    await removeFiles(
      this.dir,
      staged.map((l) => l.file),
    );
  }
}
