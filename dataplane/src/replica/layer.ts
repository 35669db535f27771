import fs from 'node:fs';
import path from 'node:path';
import type { DirectFile } from './direct-write.js';
import { ReplicaError } from './errors.js';
import { ExtentSet } from './extent-set.js';
import { fsext } from './fsext.js';
import type { LayerMeta } from './metadata.js';
import { BLOCK_SIZE } from './validate.js';

/** One open layer file: its metadata, its fd and the index of the blocks it holds. */
export interface Layer {
  meta: LayerMeta;
  /** File name inside the replica directory. */
  file: string;
  fd: number;
  extents: ExtentSet;
  /** A layer being imported: the same file opened O_DIRECT for its writes, until the commit. */
  direct?: DirectFile;
}

/** Creates an empty sparse layer file of `size` bytes (fails if it exists). */
export function createLayerFile(dir: string, file: string, size: number): number {
  const fd = fs.openSync(path.join(dir, file), 'wx+', 0o644);
  try {
    fs.ftruncateSync(fd, size);
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
  return fd;
}

/**
 * Rebuilds a layer's extent index from the file system (SEEK_DATA/SEEK_HOLE), so the index
 * itself never needs persisting: whatever reached the file is what the index says.
 */
export function scanExtents(fd: number, size: number): ExtentSet {
  const { seekData, seekHole } = fsext();
  const set = new ExtentSet();
  let pos = 0;
  while (pos < size) {
    const data = seekData(fd, pos);
    if (data < 0 || data >= size) break;
    const hole = Math.min(seekHole(fd, data), size);
    set.add(Math.floor(data / BLOCK_SIZE), Math.ceil(hole / BLOCK_SIZE));
    pos = hole;
  }
  return set;
}

const probed = new Set<number>();

/**
 * Checks once per file system that holes are reported and can be punched. Where SEEK_DATA is
 * unsupported the kernel reports a whole file as data, which would make every layer hide the
 * ones below it: refuse such a file system rather than serve wrong bytes.
 */
export function probeFilesystem(dir: string): void {
  const dev = fs.statSync(dir).dev;
  if (probed.has(dev)) return;
  const file = path.join(dir, `volume.probe.${process.pid}`);
  const fd = fs.openSync(file, 'w+');
  try {
    const { seekData, seekHole, punchHole } = fsext();
    fs.ftruncateSync(fd, 1 << 20);
    fs.writeSync(fd, Buffer.alloc(BLOCK_SIZE, 1), 0, BLOCK_SIZE, 1 << 19);
    const ok1 = seekData(fd, 0) === 1 << 19 && seekHole(fd, 1 << 19) === (1 << 19) + BLOCK_SIZE;
    punchHole(fd, 1 << 19, BLOCK_SIZE);
    const ok2 = seekData(fd, 0) === -1;
    if (!ok1 || !ok2) {
      throw new ReplicaError(
        'UNSUPPORTED_FILESYSTEM',
        `${dir}: the file system does not report or punch holes`,
        {
          replica: dir,
        },
      );
    }
    probed.add(dev);
  } catch (err) {
    if (err instanceof ReplicaError) throw err;
    throw new ReplicaError(
      'UNSUPPORTED_FILESYSTEM',
      `${dir}: ${(err as Error).message}`,
      { replica: dir },
      err,
    );
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
}

export function openLayer(dir: string, file: string, meta: LayerMeta): Layer {
  const fd = fs.openSync(path.join(dir, file), 'r+');
  try {
    return { meta, file, fd, extents: scanExtents(fd, meta.size) };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** Frees the blocks [start, end) of a layer file and drops them from its index. */
export function punchBlocks(layer: Layer, start: number, end: number): void {
  // Index first: a concurrent reader then falls through to older layers, never to a hole.
  layer.extents.remove(start, end);
  fsext().punchHole(layer.fd, start * BLOCK_SIZE, (end - start) * BLOCK_SIZE);
}

export function closeLayer(layer: Layer): void {
  closeDirect(layer);
  try {
    fs.closeSync(layer.fd);
  } catch {
    // Already closed: nothing to release.
  }
}

/** Closes an imported layer's O_DIRECT fd (Layer.direct), if it has one. */
export function closeDirect(layer: Layer): void {
  layer.direct?.close();
  layer.direct = undefined;
}
