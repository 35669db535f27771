import { EventEmitter } from 'node:events';
import type { BlockDevice, FileSpan } from '../block/block-device.js';
import { BlockError } from '../block/block-error.js';
import { isAligned, WIDEN_BLOCK, widenToBlocks } from '../block/block-widening.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { RangeLock } from '../block/range-lock.js';
import { componentLogger, type Logger } from '../logging/logger.js';
import type { LayerInfo, SnapshotOptions } from '../replica/types.js';
import type { Rebuilder, RebuildOptions, RebuildProgressReport } from '../sync/rebuild.js';
import {
  type CloneRequest,
  type CloneSource,
  type CloneTarget,
  cloneSnapshot,
} from '../sync/snapshot-clone.js';
import { checkRange, checkSnapshotName } from './engine-errors.js';
import { decideStartup, type GenerationRecord } from './generation-choice.js';
import { IoBarrier } from './io-barrier.js';
import { rebuildOnline } from './online-rebuild.js';
import { type ReplicaMode, type Robustness, robustness } from './replica-mode.js';
import { errorText, type RebuildProgress, type ReplicaEndpoint, ReplicaSet } from './replica-set.js';
import { initialModes, probeReplicas, reconcileCurrent } from './startup.js';

export type { Rebuilder } from '../sync/rebuild.js';
export type { GenerationRecord } from './generation-choice.js';
export type { RebuildProgress, ReplicaEndpoint } from './replica-set.js';

export interface ReplicaStatus {
  id: string;
  address: string;
  mode: ReplicaMode;
  /** Why the replica is ERR, or the last rebuild failure. */
  error?: string;
  rebuild?: RebuildProgress & { percent: number };
}

export interface EngineOptions {
  volume: string;
  /** Engine-replica timeout (Longhorn default 8 s); the last waiting replica gets twice this. */
  timeoutMs?: number;
  /** Replica count the volume wants; only used to derive robustness. */
  wantedReplicas?: number;
  /** How often replicas are declared equal (write-intent maps cleared) while writes happen. */
  cleanIntervalMs?: number;
  logger?: Logger;
  /** What the last engine of this volume recorded (see GenerationRecord); none for a new one. */
  generationRecord?: GenerationRecord | undefined;
  /** Durably records generation marks; writes are acknowledged only after it resolves. */
  saveGeneration?: (record: GenerationRecord) => Promise<void>;
  /**
   * Start from the newest replica that answered even when it cannot be proven current (the
   * current ones are unreachable). Explicit, as Longhorn's salvage: acknowledged writes may be lost.
   */
  salvage?: boolean;
}

/**
 * One volume: fans writes out to every replica in RW or WO mode, reads from RW replicas, takes
 * snapshots at one consistent point, and rebuilds replicas online. The replica set
 * (replica-set.ts) keeps the modes, the timeouts and the generation marks; start-up is a pure
 * choice (generation-choice.ts) plus its I/O (startup.ts); the rebuild is online-rebuild.ts.
 */
export class Engine extends EventEmitter implements BlockDevice {
  readonly canMultiConn = true;
  readonly volume: string;
  private volumeSize: number;
  private readonly set: ReplicaSet;
  private readonly barrier = new IoBarrier();
  private readonly rangeLock = new RangeLock();
  private readonly wanted: number;
  private readonly cleaner: NodeJS.Timeout;
  private writtenSinceClean = false;
  private readonly log: Logger;
  private rebuilding = false;
  private closed = false;
  private startKeyRotations: { replica: string; record: string }[] = [];

  private constructor(opts: EngineOptions, size: number) {
    super();
    this.volume = opts.volume;
    this.volumeSize = size;
    this.wanted = opts.wantedReplicas ?? 0;
    this.log = opts.logger ?? componentLogger('engine', { volume: opts.volume });
    this.set = new ReplicaSet(
      {
        volume: opts.volume,
        timeoutMs: opts.timeoutMs ?? 8000,
        log: this.log,
        ...(opts.saveGeneration ? { saveGeneration: opts.saveGeneration } : {}),
      },
      opts.generationRecord,
    );
    this.set.on('members', () => this.emit('members'));
    this.set.on('mode', (id: string, mode: ReplicaMode) => this.emit('mode', id, mode));
    this.cleaner = setInterval(() => {
      this.cleanPoint().catch((err) => this.log.warn({ err: errorText(err) }, 'clean point failed'));
    }, opts.cleanIntervalMs ?? CLEAN_INTERVAL_MS);
    this.cleaner.unref();
  }

  /**
   * Starts serving from a set of replicas. Replicas behind the newest generation are stale and
   * become ERR. The start is refused when the newest replica that answered cannot be proven
   * current (see decideStartup) unless `salvage` is set. After an unclean stop the current
   * replicas are reconciled before serving; those that cannot be stay ERR.
   */
  static async start(opts: EngineOptions, replicas: ReplicaEndpoint[]): Promise<Engine> {
    const probed = await probeReplicas(replicas);
    const decision = decideStartup({
      answered: probed.answered,
      unreachable: probed.unreachable,
      record: opts.generationRecord,
      salvage: opts.salvage ?? false,
    });
    if (!decision.ok) {
      await Promise.all(replicas.map((r) => r.backend.close().catch(() => {})));
      throw new BlockError('EIO', `volume ${opts.volume}: cannot start: ${decision.reason}`);
    }
    const choice = decision.choice;
    const source = probed.answered.find((c) => c.id === choice.current[0])!;
    const engine = new Engine(opts, source.info.size);
    if (choice.salvaged) engine.log.warn({ reason: choice.salvaged }, 'salvage: starting from what answered');
    const reconciled = await reconcileCurrent(replicas, probed, choice, engine.log);
    const modes = initialModes(
      replicas.map((r) => r.id),
      probed,
      choice,
      reconciled,
    );
    for (const [i, r] of replicas.entries()) engine.set.add(r, modes[i]!.mode, modes[i]!.error);
    engine.startKeyRotations = modes.flatMap((m) => {
      const res = probed.results.get(m.id);
      return m.mode === 'RW' && res && 'info' in res && res.info.keyRotation !== undefined
        ? [{ replica: m.id, record: res.info.keyRotation }]
        : [];
    });
    // Odd while serving: a later start that finds an odd newest generation knows we crashed.
    engine.set.generation = choice.generation;
    try {
      await engine.set.persistGeneration();
      await engine.set.generationCommitted();
    } catch (err) {
      await engine.shutdown();
      throw err;
    }
    if (!engine.set.hasRW()) {
      await engine.shutdown();
      throw new BlockError('EIO', `volume ${opts.volume}: no usable replica at start`);
    }
    engine.log.info({ replicas: engine.status(), generation: choice.generation }, 'engine started');
    return engine;
  }

  size(): number {
    return this.volumeSize;
  }

  status(): ReplicaStatus[] {
    return this.set.members.map((m) => ({
      id: m.id,
      address: m.address,
      mode: m.mode,
      ...(m.error ? { error: m.error } : {}),
      ...(m.rebuild
        ? {
            rebuild: {
              ...m.rebuild,
              percent:
                m.rebuild.bytesTotal === 0
                  ? 100
                  : Math.floor((100 * m.rebuild.bytesDone) / m.rebuild.bytesTotal),
            },
          }
        : {}),
    }));
  }

  robustness(): Robustness {
    return robustness(
      this.set.members.map((m) => m.mode),
      this.wanted || this.set.members.length,
    );
  }

  /**
   * Keeps the data-key rotation record (crypt/data-key-rotation.ts; opaque here) on every replica
   * that takes writes, so an engine started on any node finds how far re-encryption got. A
   * replica that cannot take it is ejected, and so reads as stale from then on; a rebuilt one is
   * given the last record when it joins.
   */
  async saveKeyRotation(record: string): Promise<void> {
    this.set.keyRotation = record;
    await this.set.fanOut((m) => m.backend.setKeyRotation(record));
  }

  /** The data-key rotation records the replicas that started RW held (saveKeyRotation). */
  keyRotationsAtStart(): readonly { replica: string; record: string }[] {
    return this.startKeyRotations;
  }

  currentGeneration(): number {
    return this.set.generation;
  }

  // ---- block device -------------------------------------------------------------------------

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    try {
      return await this.set.readFromRW(offset, length);
    } finally {
      this.barrier.leave();
    }
  }

  readSpan(offset: number, length: number): FileSpan | null {
    // Only while I/O flows freely: a snapshot, expansion or hand-over waits for reads to leave.
    if (!this.barrier.isOpen() || offset < 0 || offset + length > this.volumeSize) return null;
    return this.set.localSpan(offset, length);
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, data.length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      if (this.set.writeOnly === 0) await this.set.fanOut((m) => m.backend.write(offset, data));
      else await this.writeWidened(offset, data);
      // Every replica answered or was ejected (its socket destroyed): nothing reads `data` now.
      ioBuffers.release(data);
      if (fua) await this.set.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      for (const [off, len] of rangePieces(offset, length, MAX_RANGE_PIECE)) {
        if (this.set.writeOnly === 0) await this.set.fanOut((m) => m.backend.writeZeroes(off, len));
        else await this.zeroWidened(off, len);
      }
      if (fua) await this.set.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      // Trim is advisory; while a replica rebuilds it would race the layer copy (Longhorn #7103).
      if (this.set.writeOnly === 0) {
        for (const [off, len] of rangePieces(offset, length, MAX_RANGE_PIECE))
          await this.set.fanOut((m) => m.backend.unmap(off, len));
      }
      if (fua) await this.set.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async flush(): Promise<void> {
    const gate = this.barrier.enter();
    if (gate) await gate;
    try {
      await this.set.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  // ---- snapshots and resizing -------------------------------------------------------------

  async snapshot(name: string, opts: SnapshotOptions = {}): Promise<string> {
    checkSnapshotName(this.volume, name);
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; snapshot later`);
    const created = opts.created ?? new Date().toISOString();
    await this.barrier.exclusive(() =>
      this.set.fanOut((m) => m.backend.snapshot(name, { userCreated: true, ...opts, created })),
    );
    this.log.info({ snapshot: name }, 'snapshot created');
    return name;
  }

  async listSnapshots(): Promise<LayerInfo[]> {
    const reader = this.set.pickReader();
    if (!reader) throw new BlockError('EIO', `volume ${this.volume}: no RW replica`);
    return this.set.call(reader, reader.backend.chain());
  }

  async deleteSnapshot(name: string): Promise<void> {
    checkSnapshotName(this.volume, name);
    await this.set.fanOut((m) => m.backend.markRemoved(name));
  }

  async purgeSnapshots(): Promise<string[]> {
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; purge later`);
    const purged = new Set<string>();
    await this.set.fanOut(async (m) => {
      for (const name of await m.backend.purge()) purged.add(name);
    });
    return [...purged];
  }

  /** Reverts every replica to `name`. The caller keeps the frontend down while this runs. */
  async revert(name: string): Promise<void> {
    checkSnapshotName(this.volume, name);
    if (this.set.writeOnly > 0 || this.rebuilding) {
      throw new BlockError('EPERM', `volume ${this.volume}: cannot revert while a replica rebuilds`);
    }
    const created = new Date().toISOString();
    await this.barrier.exclusive(() => this.set.fanOut((m) => m.backend.revert(name, created)));
  }

  async expand(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size % 4096 !== 0) {
      throw new BlockError('EINVAL', `volume ${this.volume}: new size ${size} is not a multiple of 4096`);
    }
    if (size < this.volumeSize) {
      throw new BlockError(
        'EINVAL',
        `volume ${this.volume}: cannot shrink from ${this.volumeSize} to ${size}`,
      );
    }
    if (size === this.volumeSize) return;
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; expand later`);
    await this.barrier.exclusive(async () => {
      await this.set.fanOut((m) => m.backend.expand(size));
      this.volumeSize = size;
    });
    this.log.info({ size }, 'volume expanded');
  }

  // ---- membership and rebuild ---------------------------------------------------------------

  /** Adds a replica and rebuilds it online (online-rebuild.ts); one rebuild at a time. */
  async addReplica(endpoint: ReplicaEndpoint, rebuilder: Rebuilder): Promise<void> {
    if (this.closed) throw new BlockError('ESHUTDOWN', `volume ${this.volume}: the engine is stopping`);
    if (this.rebuilding) throw new BlockError('EPERM', `volume ${this.volume}: one rebuild at a time`);
    if (this.set.members.some((m) => m.id === endpoint.id && m.mode !== 'ERR')) {
      throw new BlockError('EINVAL', `volume ${this.volume}: replica ${endpoint.id} is already a member`);
    }
    this.rebuilding = true;
    try {
      const ctx = { volume: this.volume, set: this.set, barrier: this.barrier, log: this.log };
      await rebuildOnline(ctx, endpoint, rebuilder);
    } finally {
      this.rebuilding = false;
    }
  }

  /**
   * Fills every RW replica from a snapshot of another volume (sync/snapshot-clone.ts), with I/O
   * paused throughout: the volume is new and held by its operator until the clone completes,
   * so nothing may land in its head meanwhile. One clone or rebuild at a time.
   */
  async cloneFrom(
    source: CloneSource,
    req: CloneRequest,
    opts: RebuildOptions,
    progress: (p: RebuildProgressReport) => void,
  ): Promise<void> {
    if (this.closed) throw new BlockError('ESHUTDOWN', `volume ${this.volume}: the engine is stopping`);
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild or clone is running`);
    checkSnapshotName(this.volume, req.layer);
    this.rebuilding = true;
    try {
      await this.barrier.exclusive(async () => {
        if (this.set.writeOnly > 0)
          throw new BlockError('EPERM', `volume ${this.volume}: cannot clone while a replica rebuilds`);
        // Through the fan-out: a replica that fails or times out is ejected (and rebuilt later
        // from the others, as any ERR replica), the clone goes on while one RW replica is left.
        const each = (op: (t: CloneTarget) => Promise<unknown>) =>
          this.set.fanOut((m) => op({ id: m.id, backend: m.backend }));
        await cloneSnapshot(source, each, req, opts, progress);
      });
      this.log.info({ snapshot: req.snapshot, layer: req.layer }, 'clone done');
    } finally {
      this.rebuilding = false;
    }
  }

  /** Ejects a replica on request (e.g. before deleting it). */
  removeReplica(id: string): void {
    const m = this.set.members.find((x) => x.id === id);
    if (!m) throw new BlockError('EINVAL', `volume ${this.volume}: no replica ${id}`);
    this.set.eject(m, new Error('removed on request'));
    this.set.drop(m);
  }

  /** Every member's id and address, for the engine process to remember across restarts. */
  endpoints(): { id: string; address: string }[] {
    return this.set.members.map((m) => ({ id: m.id, address: m.address }));
  }

  /**
   * Drains I/O, flushes every replica, makes the generation even (clean) on the RW replicas and
   * closes the connections. A WO replica keeps its older generation: a rebuild cut short by the
   * stop leaves it stale. The timeout sweeper runs until the end, so a hung replica is ejected
   * rather than hanging the stop.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.cleaner);
    try {
      await this.barrier.close(
        async () => {
          await this.set.fanOut((m) => m.backend.flush());
          this.set.stopping = true;
          this.set.generation += 1;
          await this.set.persistGeneration();
          await this.set.generationCommitted();
          if (this.set.writeOnly === 0) await this.set.fanOut((m) => m.backend.markClean());
        },
        new BlockError('ESHUTDOWN', `volume ${this.volume}: the engine is stopping`),
      );
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'clean stop failed; the next start will treat it as unclean');
    }
    await this.shutdown();
  }

  // ---- internals ------------------------------------------------------------------------------

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearInterval(this.cleaner);
    this.set.stopping = true;
    this.set.stopTimers();
    await this.set.closeAll();
  }

  /**
   * Every replica acknowledged a flush with I/O paused: they are equal, so their write-intent
   * maps can be cleared. Keeps the ranges a crash leaves to reconcile small. Skipped while a
   * replica rebuilds (it does not hold every write yet) and when nothing was written.
   */
  private async cleanPoint(): Promise<void> {
    if (!this.writtenSinceClean || this.set.writeOnly > 0 || this.rebuilding || this.closed) return;
    await this.barrier.exclusive(async () => {
      if (this.set.writeOnly > 0 || this.rebuilding || this.closed) return;
      this.writtenSinceClean = false;
      await this.set.fanOut((m) => m.backend.flush());
      await this.set.fanOut((m) => m.backend.markClean());
    });
  }

  /**
   * A write while a WO replica exists: RW replicas get the request as is; WO replicas get it
   * widened to whole blocks, the partial edge blocks completed with bytes read from an RW
   * replica, under a range lock so no other write to those blocks lands in between (#4354).
   */
  private async writeWidened(offset: number, data: Buffer): Promise<void> {
    const length = data.length;
    const wide = widenToBlocks(offset, length, this.volumeSize);
    const release = await this.rangeLock.acquire(wide.offset, wide.length);
    try {
      let woData: Buffer | null = null;
      if (!isAligned(offset, length, this.volumeSize)) {
        woData = Buffer.allocUnsafe(wide.length);
        await this.readEdges(woData, wide.offset, offset, length);
        data.copy(woData, offset - wide.offset);
      }
      await this.set.fanOut((m) =>
        m.mode === 'WO' && woData ? m.backend.write(wide.offset, woData) : m.backend.write(offset, data),
      );
    } finally {
      release();
    }
  }

  /**
   * Zeroing while a WO replica exists. RW replicas zero as usual. A WO replica must hold real
   * zeros: its own zeroing would punch holes where its (still empty) join snapshot lies below,
   * and the rebuild's layers would then show through. So it gets plain writes of zeros, the
   * partial edge blocks completed from an RW replica; never a read or write larger than the
   * replica protocol carries.
   */
  private async zeroWidened(offset: number, length: number): Promise<void> {
    const end = offset + length;
    const wide = widenToBlocks(offset, length, this.volumeSize);
    const release = await this.rangeLock.acquire(wide.offset, wide.length);
    try {
      const alignedStart = Math.ceil(offset / WIDEN_BLOCK) * WIDEN_BLOCK;
      const alignedEnd = end === this.volumeSize ? end : Math.floor(end / WIDEN_BLOCK) * WIDEN_BLOCK;
      const wideEnd = wide.offset + wide.length;
      // Whole blocks to write as data: the partial edges, or all of it when no block is whole.
      const spans: [number, number][] =
        alignedEnd <= alignedStart
          ? [[wide.offset, wideEnd]]
          : [
              [wide.offset, alignedStart],
              [alignedEnd, wideEnd],
            ];
      const midStart = alignedEnd <= alignedStart ? wideEnd : alignedStart;
      const midEnd = alignedEnd <= alignedStart ? wideEnd : alignedEnd;
      const edges: { offset: number; data: Buffer }[] = [];
      for (const [s, e] of spans) {
        if (e <= s) continue;
        const from = Math.max(s, offset);
        const to = Math.min(e, end);
        const buf = Buffer.allocUnsafe(e - s);
        await this.readEdges(buf, s, from, to - from);
        buf.fill(0, from - s, to - s);
        edges.push({ offset: s, data: buf });
      }
      await this.set.fanOut(async (m) => {
        if (m.mode !== 'WO') return m.backend.writeZeroes(offset, length);
        for (const edge of edges) await m.backend.write(edge.offset, edge.data);
        for (const [off, len] of rangePieces(midStart, midEnd - midStart, ZEROS.length)) {
          await m.backend.write(off, ZEROS.subarray(0, len));
        }
      });
    } finally {
      release();
    }
  }

  /**
   * Fills the partial first and last blocks of `buf` (which covers the whole blocks from
   * `bufOffset`) with the volume's bytes from an RW replica, around [offset, offset+length).
   */
  private async readEdges(buf: Buffer, bufOffset: number, offset: number, length: number): Promise<void> {
    const end = offset + length;
    const bufEnd = bufOffset + buf.length;
    const blocks = new Set<number>();
    if (offset > bufOffset) blocks.add(bufOffset);
    if (end < bufEnd) blocks.add(Math.max(bufOffset, Math.floor((bufEnd - 1) / WIDEN_BLOCK) * WIDEN_BLOCK));
    for (const b of blocks) {
      const len = Math.min(WIDEN_BLOCK, bufEnd - b);
      const bytes = await this.set.readFromRW(b, len);
      bytes.copy(buf, b - bufOffset);
    }
  }
}

const CLEAN_INTERVAL_MS = 30_000;

/** The replica protocol carries a range length in 32 bits: split longer zeroing and trims. */
const MAX_RANGE_PIECE = 1024 * 1024 * 1024;

/** Written to WO replicas as zeros; never modified. */
const ZEROS = Buffer.alloc(4 * 1024 * 1024);

function* rangePieces(offset: number, length: number, piece: number): Generator<[number, number]> {
  for (let off = offset; off < offset + length; off += piece) {
    yield [off, Math.min(piece, offset + length - off)];
  }
}
