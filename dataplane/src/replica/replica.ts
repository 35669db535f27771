import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { FileSpan } from '../block/block-device.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { zeroCopy } from '../net/zerocopy.js';
import { layerHolding, readChain } from './chain-read.js';
import { DirtyMap } from './dirty-map.js';
import { ReplicaError } from './errors.js';
import { ExtentSet } from './extent-set.js';
import { fdatasync, pread, pwrite } from './file-io.js';
import { closeLayer, createLayerFile, type Layer, openLayer, punchBlocks } from './layer.js';
import { ReplicaLayerStore } from './layer-store.js';
import {
  emptyHeadMeta,
  headName,
  type LayerMeta,
  layerFile,
  metaFile,
  type ReplicaMeta,
  removeFiles,
  wasRenamed,
  writeJsonAtomic,
} from './metadata.js';
import { planPurge } from './purge-plan.js';
import {
  type CreateOptions,
  createReplicaFiles,
  lockReplicaDir,
  recoverReplicaFiles,
} from './replica-open.js';
import type {
  ByteRange,
  DirtyTracking,
  LayerInfo,
  ReplicaInfo,
  ReplicaStore,
  SnapshotOptions,
} from './types.js';
import {
  BLOCK_SIZE,
  checkBuffer,
  checkCreated,
  checkGeneration,
  checkKeyRotation,
  checkLabels,
  checkName,
  checkRange,
  checkSize,
} from './validate.js';

export type { CreateOptions } from './replica-open.js';

/** Copy and zero-fill unit for purge and write-zeroes. */
const COPY_CHUNK = 1 << 20;
const ZEROES = Buffer.alloc(COPY_CHUNK);

/**
 * One replica: a directory holding a writable head layer on top of a tree of read-only
 * snapshot layers (see metadata.ts for the files). Block I/O goes to the head and reads
 * resolve through the head's chain using the in-memory extent indexes; structural changes
 * (snapshot, purge, revert, expand) run exclusively and commit by rewriting volume.meta.
 *
 * This file holds block I/O and the chain (`ReplicaStore`) and write-intent tracking; layer
 * reads and imports (`LayerStore`) are layer-store.ts, the shared state and its rules
 * replica-state.ts, creating and recovering the files replica-open.ts.
 */
export class Replica extends ReplicaLayerStore implements ReplicaStore, DirtyTracking {
  private constructor(dir: string, meta: ReplicaMeta, lockFd: number) {
    super(dir, meta, lockFd);
  }

  // ---- create / open / close ----------------------------------------------------------------

  static async create(dir: string, opts: CreateOptions): Promise<Replica> {
    await createReplicaFiles(dir, opts);
    return Replica.open(dir);
  }

  static async open(dir: string): Promise<Replica> {
    const { meta, lockFd } = await lockReplicaDir(dir);
    try {
      return await Replica.openLocked(dir, meta, lockFd);
    } catch (err) {
      fs.closeSync(lockFd);
      throw err;
    }
  }

  private static async openLocked(dir: string, first: ReplicaMeta, lockFd: number): Promise<Replica> {
    const { meta, metas, headMeta } = await recoverReplicaFiles(dir, first);
    const replica = new Replica(dir, meta, lockFd);
    try {
      for (const [name, m] of metas) replica.snaps.set(name, openLayer(dir, layerFile(name, false), m));
      replica.head = openLayer(dir, layerFile(meta.head, true), headMeta);
      replica.rebuildChain();
      replica.dirtyMap = await DirtyMap.open(dir, meta.size, meta.dirtyRegionSize, () => replica.markDirty());
    } catch (err) {
      for (const l of replica.snaps.values()) closeLayer(l);
      if (replica.head) closeLayer(replica.head);
      throw err;
    }
    return replica;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.serialized(() =>
      this.gate.exclusive(async () => {
        if (this.closed) return;
        await this.abortStaged();
        await fdatasync(this.head.fd);
        // The write-intent bits stay: this replica's writes are durable, but an engine that
        // died may have left the same writes unapplied on other replicas, and its next start
        // finds those ranges only in these maps. Only the engine may declare ranges clean.
        await this.dirtyMap.close();
        this.meta = { ...this.meta, dirty: false };
        await this.saveMeta(this.meta);
        for (const l of this.snaps.values()) closeLayer(l);
        closeLayer(this.head);
        fs.closeSync(this.lockFd);
        this.closed = true;
      }),
    );
  }

  // ---- block I/O -----------------------------------------------------------------------------

  info(): ReplicaInfo {
    this.ensureOpen();
    return {
      size: this.meta.size,
      sectorSize: this.meta.sectorSize,
      headName: this.meta.head,
      generation: this.meta.generation,
      dirty: this.wasDirty,
      ...(this.meta.keyRotation !== undefined ? { keyRotation: this.meta.keyRotation } : {}),
    };
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.ensureOpen();
    checkRange(offset, length, this.meta.size);
    const entering = this.enter();
    if (entering) await entering;
    try {
      // From the shared pool: the replica server gives it back once the response is sent.
      const out = ioBuffers.acquire(length);
      await readChain(this.chainFromHead, out, 0, offset, offset + length);
      return out;
    } finally {
      this.gate.leave();
    }
  }

  /**
   * The layer file and position holding all of [offset, offset + length), when one layer does
   * and the page cache has those pages (sendfile then never waits for the disk); see
   * BlockDevice.readSpan. A write still in flight has not marked its blocks yet, so a span
   * never points at bytes not written.
   */
  readSpan(offset: number, length: number): FileSpan | null {
    const zc = zeroCopy();
    if (!zc || this.closed || !this.gate.isOpen()) return null;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length <= 0)
      return null;
    if (offset + length > this.meta.size) return null;
    const layer = layerHolding(this.chainFromHead, offset, offset + length);
    if (!layer || !zc.allCached(layer.fd, offset, length)) return null;
    return { fd: layer.fd, position: offset };
  }

  async write(offset: number, data: Buffer): Promise<void> {
    this.ensureOpen();
    checkBuffer(data);
    const len = data.length;
    checkRange(offset, len, this.meta.size);
    if (len === 0) return;
    const entering = this.enter();
    if (entering) await entering;
    try {
      const bs = Math.floor(offset / BLOCK_SIZE);
      const be = Math.ceil((offset + len) / BLOCK_SIZE);
      const l = this.locks.acquire(bs, be);
      const lock = l instanceof Promise ? await l : l;
      try {
        const d = this.dirtyMap.mark(offset, offset + len);
        if (d) await d;
        const head = this.head;
        if (offset % BLOCK_SIZE === 0 && len % BLOCK_SIZE === 0) {
          await pwrite(head.fd, data, 0, len, offset);
        } else {
          // Read-modify-write of the partial edge blocks, so the head only ever holds whole
          // blocks and the index stays block-granular. The block lock keeps it atomic.
          const buf = Buffer.allocUnsafe((be - bs) * BLOCK_SIZE);
          const base = bs * BLOCK_SIZE;
          if (offset !== base) await readChain(this.chainFromHead, buf, 0, base, base + BLOCK_SIZE);
          const last = (be - 1) * BLOCK_SIZE;
          if ((offset + len) % BLOCK_SIZE !== 0 && (last !== base || offset === base)) {
            await readChain(this.chainFromHead, buf, last - base, last, last + BLOCK_SIZE);
          }
          data.copy(buf, offset - base);
          await pwrite(head.fd, buf, 0, buf.length, base);
        }
        head.extents.add(bs, be);
      } finally {
        this.locks.release(lock);
      }
    } finally {
      this.gate.leave();
    }
  }

  async flush(): Promise<void> {
    this.ensureOpen();
    const entering = this.enter();
    if (entering) await entering;
    try {
      await fdatasync(this.head.fd);
    } finally {
      this.gate.leave();
    }
  }

  /**
   * Punches the head's whole blocks inside the range; partial edge blocks keep their data
   * (trim promises nothing about the bytes). Reads then see the snapshot below, as in Longhorn.
   */
  async unmap(offset: number, length: number): Promise<void> {
    this.ensureOpen();
    checkRange(offset, length, this.meta.size);
    const bs = Math.ceil(offset / BLOCK_SIZE);
    const be = Math.floor((offset + length) / BLOCK_SIZE);
    if (be <= bs) return;
    await this.withBlocks(bs, be, async () => {
      const d = this.dirtyMap.mark(bs * BLOCK_SIZE, be * BLOCK_SIZE);
      if (d) await d;
      this.punchHead(bs, be);
    });
  }

  /**
   * Zeroes the range. Whole blocks with no data below the head become holes (space freed);
   * blocks that would otherwise show a snapshot's data get written zeros.
   */
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.ensureOpen();
    checkRange(offset, length, this.meta.size);
    if (length === 0) return;
    const end = offset + length;
    const bs = Math.floor(offset / BLOCK_SIZE);
    const be = Math.ceil(end / BLOCK_SIZE);
    await this.withBlocks(bs, be, async () => {
      const d = this.dirtyMap.mark(offset, end);
      if (d) await d;
      const head = this.head;
      const wb = Math.ceil(offset / BLOCK_SIZE);
      const we = Math.floor(end / BLOCK_SIZE);
      for (const b of new Set([bs, be - 1])) {
        if (b >= wb && b < we) continue; // whole block, handled below
        const base = b * BLOCK_SIZE;
        const buf = Buffer.allocUnsafe(BLOCK_SIZE);
        await readChain(this.chainFromHead, buf, 0, base, base + BLOCK_SIZE);
        buf.fill(0, Math.max(offset, base) - base, Math.min(end, base + BLOCK_SIZE) - base);
        await pwrite(head.fd, buf, 0, BLOCK_SIZE, base);
        head.extents.add(b, b + 1);
      }
      if (we <= wb) return;
      const below = new ExtentSet();
      const hits: number[] = [];
      for (const layer of this.chainFromHead.slice(1)) {
        hits.length = 0;
        layer.extents.overlaps(wb, Math.min(we, Math.ceil(layer.meta.size / BLOCK_SIZE)), hits);
        for (let i = 0; i < hits.length; i += 2) below.add(hits[i]!, hits[i + 1]!);
      }
      let cursor = wb;
      for (const [s, e] of below) {
        if (s > cursor) this.punchHead(cursor, s);
        await this.writeZeroBlocks(head, s, e);
        cursor = e;
      }
      if (cursor < we) this.punchHead(cursor, we);
    });
  }

  // ---- snapshots and the chain ---------------------------------------------------------------

  async snapshot(name: string, opts: SnapshotOptions = {}): Promise<void> {
    this.ensureOpen();
    checkName(name);
    const labels = checkLabels(opts.labels);
    const created = checkCreated(opts.created);
    await this.chainChange(async () => {
      if (this.snaps.has(name) || name === this.meta.head || this.staged.has(name)) {
        throw new ReplicaError('SNAPSHOT_EXISTS', `snapshot ${name} already exists`, { layer: name });
      }
      const old = this.head;
      const snapFile = layerFile(name, false);
      const seq = this.meta.headSeq + 1;
      const newHead = headName(seq);
      const newFile = layerFile(newHead, true);
      const snapMeta: LayerMeta = {
        name,
        parent: old.meta.parent,
        removed: false,
        userCreated: opts.userCreated ?? true,
        created,
        labels,
        size: this.meta.size,
      };
      const headMeta: LayerMeta = { ...emptyHeadMeta(newHead, name, this.meta.size) };
      await fdatasync(old.fd);
      let fd = -1;
      try {
        // The snapshot is the old head's inode under a second name: no data is copied.
        await fsp.link(path.join(this.dir, old.file), path.join(this.dir, snapFile));
        await writeJsonAtomic(this.dir, metaFile(snapFile), snapMeta);
        fd = createLayerFile(this.dir, newFile, this.meta.size);
        await writeJsonAtomic(this.dir, metaFile(newFile), headMeta);
        await this.saveMeta({
          ...this.meta,
          head: newHead,
          headSeq: seq,
          snapshots: [...this.meta.snapshots, name],
        });
      } catch (err) {
        if (this.meta.head === newHead) {
          // Committed before the error: the new layout stands, so adopt it and report.
          this.snaps.set(name, { meta: snapMeta, file: snapFile, fd: old.fd, extents: old.extents });
          this.head = { meta: headMeta, file: newFile, fd, extents: new ExtentSet() };
          this.rebuildChain();
          throw err;
        }
        if (fd >= 0) fs.closeSync(fd);
        await removeFiles(this.dir, [snapFile, metaFile(snapFile), newFile, metaFile(newFile)]);
        throw err;
      }
      this.snaps.set(name, { meta: snapMeta, file: snapFile, fd: old.fd, extents: old.extents });
      this.head = { meta: headMeta, file: newFile, fd, extents: new ExtentSet() };
      this.rebuildChain();
      await removeFiles(this.dir, [old.file, metaFile(old.file)]);
    });
  }

  chain(): LayerInfo[] {
    this.ensureOpen();
    const all = [...this.snaps.values(), this.head];
    const children = new Map<string, string[]>();
    for (const l of all) {
      if (l.meta.parent !== null) {
        const list = children.get(l.meta.parent) ?? [];
        list.push(l.meta.name);
        children.set(l.meta.parent, list);
      }
    }
    // Parents before children (imports can give an older layer a newer parent), head last.
    const ordered: Layer[] = [];
    const done = new Set<string>();
    const pending = [...this.snaps.values()];
    while (pending.length > 0) {
      const before = pending.length;
      for (let i = 0; i < pending.length; i++) {
        const l = pending[i]!;
        if (l.meta.parent === null || done.has(l.meta.parent)) {
          ordered.push(l);
          done.add(l.meta.name);
          pending.splice(i, 1);
          i--;
        }
      }
      if (pending.length === before) break; // unreachable: open() and finishImport() reject cycles
    }
    ordered.push(this.head);
    return ordered.map((l) => ({
      name: l.meta.name,
      parent: l.meta.parent,
      children: children.get(l.meta.name) ?? [],
      removed: l.meta.removed,
      userCreated: l.meta.userCreated,
      created: l.meta.created,
      labels: { ...l.meta.labels },
      size: l.meta.size,
      allocatedBytes: l.extents.blockCount * BLOCK_SIZE,
    }));
  }

  async markRemoved(name: string): Promise<void> {
    this.ensureOpen();
    checkName(name);
    await this.chainChange(async () => {
      const layer = this.snapshotLayer(name);
      if (layer.meta.removed) return;
      const meta = { ...layer.meta, removed: true };
      await writeJsonAtomic(this.dir, metaFile(layer.file), meta);
      layer.meta = meta;
    });
  }

  async purge(): Promise<string[]> {
    this.ensureOpen();
    // Block I/O keeps running while purge copies and punches: only the commits (metadata and
    // dropping a layer from the chain) pause it. Other chain changes wait for the whole purge.
    return this.serialized(async () => {
      this.ensureOpen();
      const steps = planPurge(
        [...this.snaps.values()].map((l) => l.meta),
        this.head.meta,
      );
      for (const step of steps) {
        const layer = this.snaps.get(step.name)!;
        if (step.kind === 'delete') await this.exclusive(() => this.deleteSnapshot(layer));
        else if (step.kind === 'coalesce') await this.coalesce(layer, this.snaps.get(step.child)!);
        else this.prune(layer);
      }
      return steps.map((s) => s.name);
    });
  }

  async revert(name: string, created?: string): Promise<void> {
    this.ensureOpen();
    checkName(name);
    const when = checkCreated(created);
    await this.chainChange(async () => {
      const target = this.snapshotLayer(name);
      if (target.meta.removed) {
        throw new ReplicaError('INVALID_LAYER', `snapshot ${name} is marked removed`, { layer: name });
      }
      const old = this.head;
      const seq = this.meta.headSeq + 1;
      const newHead = headName(seq);
      const newFile = layerFile(newHead, true);
      const headMeta = { ...emptyHeadMeta(newHead, name, this.meta.size), created: when };
      let fd = -1;
      try {
        fd = createLayerFile(this.dir, newFile, this.meta.size);
        await writeJsonAtomic(this.dir, metaFile(newFile), headMeta);
        await this.saveMeta({ ...this.meta, head: newHead, headSeq: seq });
      } catch (err) {
        if (this.meta.head === newHead) {
          closeLayer(old);
          this.head = { meta: headMeta, file: newFile, fd, extents: new ExtentSet() };
          this.rebuildChain();
          throw err;
        }
        if (fd >= 0) fs.closeSync(fd);
        await removeFiles(this.dir, [newFile, metaFile(newFile)]);
        throw err;
      }
      closeLayer(old);
      this.head = { meta: headMeta, file: newFile, fd, extents: new ExtentSet() };
      this.rebuildChain();
      await removeFiles(this.dir, [old.file, metaFile(old.file)]);
    });
  }

  /** Grows the head; older layers keep their size and read as zeros past it. */
  async expand(size: number): Promise<void> {
    this.ensureOpen();
    checkSize(size);
    if (size < this.meta.size) {
      throw new ReplicaError('SHRINK_NOT_ALLOWED', `cannot shrink from ${this.meta.size} to ${size}`);
    }
    await this.chainChange(async () => {
      if (size < this.meta.size) {
        throw new ReplicaError('SHRINK_NOT_ALLOWED', `cannot shrink from ${this.meta.size} to ${size}`);
      }
      if (size === this.meta.size) return;
      const head = this.head;
      fs.ftruncateSync(head.fd, size);
      const headMeta = { ...head.meta, size };
      await writeJsonAtomic(this.dir, metaFile(head.file), headMeta);
      await this.saveMeta({ ...this.meta, size });
      head.meta = headMeta;
      this.dirtyMap.resize(size);
    });
  }

  async setGeneration(generation: number): Promise<void> {
    this.ensureOpen();
    checkGeneration(generation);
    await this.exclusive(() => this.saveMeta({ ...this.meta, generation }));
  }

  async setKeyRotation(record: string | null): Promise<void> {
    this.ensureOpen();
    checkKeyRotation(record);
    await this.exclusive(() => {
      const { keyRotation: _old, ...rest } = this.meta;
      return this.saveMeta(record === null ? rest : { ...rest, keyRotation: record });
    });
  }

  async allocatedRanges(layer?: string): Promise<ByteRange[]> {
    this.ensureOpen();
    if (layer !== undefined) {
      checkName(layer);
      return toByteRanges(this.layerByName(layer).extents, this.meta.size);
    }
    const merged = new ExtentSet();
    for (const l of this.chainFromHead) {
      const limit = Math.ceil(l.meta.size / BLOCK_SIZE);
      for (const [s, e] of l.extents) {
        if (s >= limit) break;
        merged.add(s, Math.min(e, limit));
      }
    }
    return toByteRanges(merged, this.meta.size);
  }

  /** Bytes the extent indexes of every layer occupy (the bench reports this). */
  indexMemoryBytes(): number {
    let n = this.head.extents.memoryBytes();
    for (const l of this.snaps.values()) n += l.extents.memoryBytes();
    return n;
  }

  // ---- write-intent tracking -----------------------------------------------------------------

  dirtyRanges(): ByteRange[] {
    this.ensureOpen();
    return this.dirtyMap.ranges(this.meta.size);
  }

  async markClean(): Promise<void> {
    this.ensureOpen();
    await this.exclusive(async () => {
      await fdatasync(this.head.fd);
      await this.dirtyMap.clear();
    });
  }

  // ---- internals -----------------------------------------------------------------------------

  /** Runs fn under the I/O gate with blocks [bs, be) locked against other writers. */
  private async withBlocks(bs: number, be: number, fn: () => Promise<void>): Promise<void> {
    const entering = this.enter();
    if (entering) await entering;
    try {
      const l = this.locks.acquire(bs, be);
      const lock = l instanceof Promise ? await l : l;
      try {
        await fn();
      } finally {
        this.locks.release(lock);
      }
    } finally {
      this.gate.leave();
    }
  }

  private punchHead(bs: number, be: number): void {
    const hits: number[] = [];
    this.head.extents.overlaps(bs, be, hits);
    for (let i = 0; i < hits.length; i += 2) punchBlocks(this.head, hits[i]!, hits[i + 1]!);
  }

  private async writeZeroBlocks(layer: Layer, bs: number, be: number): Promise<void> {
    for (let pos = bs * BLOCK_SIZE; pos < be * BLOCK_SIZE; pos += COPY_CHUNK) {
      const n = Math.min(COPY_CHUNK, be * BLOCK_SIZE - pos);
      await pwrite(layer.fd, ZEROES, 0, n, pos);
    }
    layer.extents.add(bs, be);
  }

  /** Before the first write-intent bit of a session is persisted: mark the replica dirty. */
  private async markDirty(): Promise<void> {
    if (!this.meta.dirty) await this.saveMeta({ ...this.meta, dirty: true });
  }

  private async deleteSnapshot(layer: Layer): Promise<void> {
    const name = layer.meta.name;
    let failure: unknown;
    try {
      await this.saveMeta({ ...this.meta, snapshots: this.meta.snapshots.filter((n) => n !== name) });
    } catch (err) {
      if (!wasRenamed(err)) throw err;
      failure = err; // committed: finish dropping the layer, then report
    }
    this.snaps.delete(name);
    this.rebuildChain();
    closeLayer(layer);
    await removeFiles(this.dir, [layer.file, metaFile(layer.file)]);
    if (failure) throw failure;
  }

  /**
   * Folds a removed layer into its only child by copying the parent's blocks the child does
   * not hold into the child's holes. The view through the child is the same before, during and
   * after the copy, so a crash at any point leaves a valid chain; then the child is re-parented
   * and the parent dropped. The live head is never a child here.
   */
  private async coalesce(parent: Layer, child: Layer): Promise<void> {
    const buf = Buffer.allocUnsafe(COPY_CHUNK);
    const hits: number[] = [];
    const limit = Math.ceil(parent.meta.size / BLOCK_SIZE);
    for (const [s0, e0] of [...parent.extents]) {
      if (s0 >= limit) break;
      const e1 = Math.min(e0, limit);
      hits.length = 0;
      child.extents.overlaps(s0, e1, hits);
      let cursor = s0;
      const copy = async (s: number, e: number): Promise<void> => {
        for (let pos = s * BLOCK_SIZE; pos < e * BLOCK_SIZE; pos += COPY_CHUNK) {
          const n = Math.min(COPY_CHUNK, e * BLOCK_SIZE - pos);
          await pread(parent.fd, buf, 0, n, pos);
          await pwrite(child.fd, buf, 0, n, pos);
        }
        child.extents.add(s, e);
      };
      for (let i = 0; i < hits.length; i += 2) {
        if (hits[i]! > cursor) await copy(cursor, hits[i]!);
        cursor = hits[i + 1]!;
      }
      if (cursor < e1) await copy(cursor, e1);
    }
    await fdatasync(child.fd);
    await this.exclusive(async () => {
      const childMeta = { ...child.meta, parent: parent.meta.parent };
      // Child first: if we die before volume.meta drops the parent, the parent is a removed
      // leaf that the next purge deletes.
      await writeJsonAtomic(this.dir, metaFile(child.file), childMeta);
      child.meta = childMeta;
      await this.deleteSnapshot(parent);
    });
  }

  /**
   * Punches the removed layer behind the head wherever the head already hides it. Runs beside
   * block I/O: writes only add head blocks, and a trim racing with it ends as if it came after.
   */
  private prune(layer: Layer): void {
    const hits: number[] = [];
    for (const [s, e] of [...this.head.extents]) {
      hits.length = 0;
      layer.extents.overlaps(s, e, hits);
      for (let i = 0; i < hits.length; i += 2) punchBlocks(layer, hits[i]!, hits[i + 1]!);
    }
  }
}

function toByteRanges(set: ExtentSet, size: number): ByteRange[] {
  const out: ByteRange[] = [];
  for (const [s, e] of set) {
    const offset = s * BLOCK_SIZE;
    if (offset >= size) break;
    out.push({ offset, length: Math.min(e * BLOCK_SIZE, size) - offset });
  }
  return out;
}
