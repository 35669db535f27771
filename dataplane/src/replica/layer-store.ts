import fsp from 'node:fs/promises';
import path from 'node:path';
import { ioBuffers } from '../block/buffer-pool.js';
import { readChain, readOwn } from './chain-read.js';
import { DirectFile } from './direct-write.js';
import { ReplicaError } from './errors.js';
import { ExtentSet } from './extent-set.js';
import { fdatasync, pwrite } from './file-io.js';
import { closeDirect, closeLayer, createLayerFile, type Layer } from './layer.js';
import { importFile, type LayerMeta, layerFile, metaFile, removeFiles, writeJsonAtomic } from './metadata.js';
import { checkTree } from './replica-open.js';
import { ReplicaState } from './replica-state.js';
import type { FinishImportOptions, LayerImport, LayerStore } from './types.js';
import {
  BLOCK_SIZE,
  checkBuffer,
  checkCreated,
  checkLabels,
  checkName,
  checkRange,
  checkSize,
} from './validate.js';

/** Bytes written to a staged layer between two early flushes (see `writeBack`). */
const WRITEBACK_BYTES = 32 * 1024 * 1024;

/**
 * Single-layer access for rebuild and backup (`LayerStore` in types.ts): reading one layer or
 * one snapshot's view, and building layers from received data, staged under temporary names
 * and committed at once (`finishImport`; an open after a crash mid-commit rolls it forward).
 */
export abstract class ReplicaLayerStore extends ReplicaState implements LayerStore {
  /**
   * Without `into`, the bytes land in a buffer of the shared pool (`ioBuffers`): a rebuild or
   * backup moves a GiB in 2 MiB reads, and a fresh buffer each time kept V8 busy with full
   * mark-compacts (measured: a third of the engine's CPU during an engine-side rebuild). The
   * replica server gives it back once the response left; other callers may release it when
   * done with it, or keep it.
   */
  async readLayer(name: string, offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.ensureOpen();
    checkName(name);
    checkRange(offset, length, this.meta.size);
    if (into && into.length < length) {
      throw new ReplicaError('INVALID_ARGUMENT', `buffer of ${into.length} bytes for a ${length}-byte read`);
    }
    const entering = this.enter();
    if (entering) await entering;
    try {
      const out = into ? into.subarray(0, length) : ioBuffers.acquire(length);
      await readOwn(this.layerByName(name), out, 0, offset, offset + length);
      return out;
    } finally {
      this.gate.leave();
    }
  }

  async readSnapshot(name: string, offset: number, length: number): Promise<Buffer> {
    this.ensureOpen();
    checkName(name);
    checkRange(offset, length, this.meta.size);
    const entering = this.enter();
    if (entering) await entering;
    try {
      const chain: Layer[] = [];
      for (let l: Layer | undefined = this.snapshotLayer(name); l; ) {
        chain.push(l);
        l = l.meta.parent === null ? undefined : this.snaps.get(l.meta.parent);
      }
      const out = ioBuffers.acquire(length); // pooled, as in readLayer
      await readChain(chain, out, 0, offset, offset + length);
      return out;
    } finally {
      this.gate.leave();
    }
  }

  async importLayer(meta: LayerImport): Promise<void> {
    this.ensureOpen();
    checkName(meta.name);
    if (meta.parent !== null) checkName(meta.parent);
    const size = meta.size ?? this.meta.size;
    checkSize(size);
    if (size > this.meta.size) {
      throw new ReplicaError('OUT_OF_RANGE', `layer size ${size} exceeds the replica size ${this.meta.size}`);
    }
    if (meta.name === this.meta.head) {
      throw new ReplicaError('INVALID_LAYER', 'the head cannot be imported', { layer: meta.name });
    }
    if (this.staged.has(meta.name)) {
      throw new ReplicaError('IMPORT_INVALID', `layer ${meta.name} is already being imported`, {
        layer: meta.name,
      });
    }
    const layerMeta: LayerMeta = {
      name: meta.name,
      parent: meta.parent,
      removed: meta.removed ?? false,
      userCreated: meta.userCreated ?? false,
      created: checkCreated(meta.created),
      labels: checkLabels(meta.labels),
      size,
    };
    const file = importFile(layerFile(meta.name, false));
    await fsp.rm(path.join(this.dir, file), { force: true });
    const fd = createLayerFile(this.dir, file, size);
    const direct = DirectFile.open(path.join(this.dir, file));
    this.staged.set(meta.name, { meta: layerMeta, file, fd, extents: new ExtentSet(), direct });
  }

  async writeLayer(name: string, offset: number, data: Buffer): Promise<void> {
    this.ensureOpen();
    checkBuffer(data);
    const layer = this.staged.get(name);
    if (!layer) {
      throw new ReplicaError('IMPORT_INVALID', `layer ${String(name)} is not being imported`, {
        layer: name,
      });
    }
    checkRange(offset, data.length, layer.meta.size, 'layer');
    if (data.length === 0) return;
    const entering = this.enter();
    if (entering) await entering;
    try {
      if (this.staged.get(name) !== layer) {
        throw new ReplicaError('IMPORT_INVALID', `import of ${name} was aborted`, { layer: name });
      }
      if (!(layer.direct && (await layer.direct.write(data, offset)))) {
        await pwrite(layer.fd, data, 0, data.length, offset);
      }
      layer.extents.add(Math.floor(offset / BLOCK_SIZE), Math.ceil((offset + data.length) / BLOCK_SIZE));
      this.writeBack(layer, data.length);
    } finally {
      this.gate.leave();
    }
  }

  /**
   * Starts an fdatasync of a staged layer in the background once WRITEBACK_BYTES were written
   * to it since the last one, so the disk takes an import's data while more arrives instead of
   * all of it in the commit's fdatasync, which holds the replica's I/O gate (0.35-0.7 s per
   * GiB measured). Not awaited here: the commit and an abort wait for it and the commit fails
   * on its error (`settleStagedFlushes`). Called while holding the gate, so never during them.
   */
  private writeBack(layer: Layer, bytes: number): void {
    let f = this.stagedFlush.get(layer);
    if (!f) {
      f = { unflushed: 0, running: null, error: null };
      this.stagedFlush.set(layer, f);
    }
    f.unflushed += bytes;
    if (f.running || f.unflushed < WRITEBACK_BYTES) return;
    f.unflushed = 0;
    const flush = f;
    flush.running = fdatasync(layer.fd).then(
      () => {
        flush.running = null;
      },
      (err: Error) => {
        flush.error ??= err;
        flush.running = null;
      },
    );
  }

  async finishImport(opts: FinishImportOptions = {}): Promise<void> {
    this.ensureOpen();
    const drop = [...new Set(opts.drop ?? [])];
    for (const name of drop) checkName(name);
    await this.chainChange(async () => {
      if (this.staged.size === 0 && drop.length === 0) return;
      for (const name of drop) {
        this.snapshotLayer(name);
        if (this.staged.has(name)) {
          throw new ReplicaError('IMPORT_INVALID', `layer ${name} is both imported and dropped`, {
            layer: name,
          });
        }
      }
      const metas = new Map<string, LayerMeta>();
      for (const [name, l] of this.snaps) if (!drop.includes(name)) metas.set(name, l.meta);
      for (const [name, l] of this.staged) metas.set(name, l.meta);
      try {
        checkTree(this.dir, metas, this.head.meta);
      } catch (err) {
        throw new ReplicaError('IMPORT_INVALID', (err as Error).message, {}, err);
      }
      const staged = [...this.staged.values()];
      const early = await this.settleStagedFlushes(staged, false);
      if (early) throw early;
      for (const l of staged) await fdatasync(l.fd);
      const snapshots = this.meta.snapshots.filter((n) => !drop.includes(n));
      for (const l of staged) if (!snapshots.includes(l.meta.name)) snapshots.push(l.meta.name);
      // Intent first: from here a crash is rolled forward at open (staged data is durable).
      // Dropped layers leave the snapshot list in the same write; their files are orphans
      // from here (swept at open if we crash before removing them below).
      await this.saveMeta({
        ...this.meta,
        snapshots: this.meta.snapshots.filter((n) => !drop.includes(n)),
        pending: { op: 'import', layers: staged.map((l) => l.meta) },
      });
      for (const l of staged) {
        closeDirect(l);
        const file = layerFile(l.meta.name, false);
        await fsp.rename(path.join(this.dir, l.file), path.join(this.dir, file));
        await writeJsonAtomic(this.dir, metaFile(file), l.meta);
        const old = this.snaps.get(l.meta.name);
        if (old) closeLayer(old);
        this.snaps.set(l.meta.name, { ...l, file });
      }
      this.staged.clear();
      await this.settleStagedFlushes(staged, true);
      await this.saveMeta({ ...this.meta, snapshots, pending: null });
      const dropped: Layer[] = [];
      for (const name of drop) {
        const l = this.snaps.get(name);
        if (!l) continue;
        this.snaps.delete(name);
        closeLayer(l);
        dropped.push(l);
      }
      this.rebuildChain();
      await removeFiles(
        this.dir,
        dropped.flatMap((l) => [l.file, metaFile(l.file)]),
      );
    });
  }

  async abortImport(): Promise<void> {
    this.ensureOpen();
    await this.chainChange(() => this.abortStaged());
  }
}
