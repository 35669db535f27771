import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { chooseRegionSize } from './dirty-map.js';
import { ReplicaError } from './errors.js';
import { fsext } from './fsext.js';
import { createLayerFile, probeFilesystem } from './layer.js';
import {
  DIRTY_MAP,
  FORMAT_VERSION,
  headName,
  importFile,
  isOwnedFile,
  type LayerMeta,
  layerFile,
  metaFile,
  parseLayerMeta,
  parseReplicaMeta,
  REPLICA_META,
  type ReplicaMeta,
  readText,
  removeFiles,
  writeJsonAtomic,
} from './metadata.js';
import { BLOCK_SIZE, checkGeneration, checkSize } from './validate.js';

/**
 * Creating a replica directory and recovering one at open: what a crash may have left half
 * done is rolled forward (a committed import) or swept (files volume.meta does not name), and
 * nothing is touched before every metadata file validated. Replica.create/open (replica.ts)
 * build the open replica on top.
 */

export interface CreateOptions {
  size: number;
  /** Sector size the frontend advertises (512 or 4096); defaults to 512. */
  sectorSize?: number;
  generation?: number;
}

/** Writes a new replica's files; volume.meta last, which is what makes the directory a replica. */
export async function createReplicaFiles(dir: string, opts: CreateOptions): Promise<void> {
  checkSize(opts.size);
  const sectorSize = opts.sectorSize ?? 512;
  if (sectorSize !== 512 && sectorSize !== 4096) {
    throw new ReplicaError('INVALID_ARGUMENT', `sector size ${sectorSize} is not 512 or 4096`);
  }
  const generation = opts.generation ?? 0;
  checkGeneration(generation);
  if ((await readText(dir, REPLICA_META).catch(() => null)) !== null) {
    throw new ReplicaError('ALREADY_EXISTS', `${dir} already holds a replica`, { replica: dir });
  }
  await fsp.mkdir(dir, { recursive: true });
  probeFilesystem(dir);
  const head = headName(0);
  const file = layerFile(head, true);
  // Leftovers of an earlier create that died before its commit.
  await fsp.rm(path.join(dir, file), { force: true });
  fs.closeSync(createLayerFile(dir, file, opts.size));
  const headMeta: LayerMeta = {
    name: head,
    parent: null,
    removed: false,
    userCreated: false,
    created: new Date().toISOString(),
    labels: {},
    size: opts.size,
  };
  await writeJsonAtomic(dir, metaFile(file), headMeta);
  await fsp.writeFile(path.join(dir, DIRTY_MAP), Buffer.alloc(0));
  const meta: ReplicaMeta = {
    version: FORMAT_VERSION,
    size: opts.size,
    sectorSize,
    blockSize: BLOCK_SIZE,
    head,
    headSeq: 0,
    snapshots: [],
    generation,
    dirty: false,
    dirtyRegionSize: chooseRegionSize(opts.size),
    pending: null,
  };
  // volume.meta last: it is what makes the directory a replica.
  await writeJsonAtomic(dir, REPLICA_META, meta);
}

/**
 * Reads a replica directory's volume.meta and takes its flock (held by the returned fd until
 * the replica closes it).
 */
export async function lockReplicaDir(dir: string): Promise<{ meta: ReplicaMeta; lockFd: number }> {
  let st: fs.Stats;
  try {
    st = await fsp.stat(dir);
  } catch {
    throw new ReplicaError('NOT_A_REPLICA', `${dir} does not exist`, { replica: dir });
  }
  if (!st.isDirectory())
    throw new ReplicaError('NOT_A_REPLICA', `${dir} is not a directory`, { replica: dir });
  const text = await readText(dir, REPLICA_META);
  if (text === null) {
    throw new ReplicaError('NOT_A_REPLICA', `${dir} has no ${REPLICA_META}`, { replica: dir });
  }
  const meta = parseReplicaMeta(path.join(dir, REPLICA_META), text);
  // One owner per directory: a second open (say, a replica server restarted while the old
  // one still runs) would interleave writes and metadata commits.
  const lockFd = fs.openSync(dir, 'r');
  if (!fsext().tryLock(lockFd)) {
    fs.closeSync(lockFd);
    throw new ReplicaError('BUSY', `${dir} is already open`, { replica: dir });
  }
  return { meta, lockFd };
}

export interface RecoveredFiles {
  meta: ReplicaMeta;
  /** Every snapshot layer's metadata, by name. */
  metas: Map<string, LayerMeta>;
  headMeta: LayerMeta;
}

/**
 * Brings a locked replica directory to a consistent state before its layers are opened: rolls
 * a committed import forward, validates every layer's metadata and the tree they form, probes
 * the file system, then deletes the leftovers of interrupted changes.
 */
export async function recoverReplicaFiles(dir: string, first: ReplicaMeta): Promise<RecoveredFiles> {
  let meta = first;
  if (meta.pending) meta = await rollForwardImport(dir, meta);

  // Read and check every layer's metadata before touching anything on disk.
  const metas = new Map<string, LayerMeta>();
  for (const name of meta.snapshots) metas.set(name, await readLayerMeta(dir, name, false));
  const headMeta = await readLayerMeta(dir, meta.head, true);
  headMeta.size = meta.size; // the head always spans the volume (expand may have died mid-way)
  checkTree(dir, metas, headMeta);

  probeFilesystem(dir);
  await sweepOrphans(dir, meta);
  return { meta, metas, headMeta };
}

async function readLayerMeta(dir: string, name: string, isHead: boolean): Promise<LayerMeta> {
  const file = layerFile(name, isHead);
  const where = path.join(dir, metaFile(file));
  const text = await readText(dir, metaFile(file));
  if (text === null) throw new ReplicaError('CORRUPT_METADATA', `${where} is missing`, { file: where });
  const meta = parseLayerMeta(where, text);
  if (meta.name !== name) {
    throw new ReplicaError('CORRUPT_METADATA', `${where} names layer ${meta.name}, expected ${name}`, {
      file: where,
    });
  }
  try {
    await fsp.access(path.join(dir, file));
  } catch {
    throw new ReplicaError('CORRUPT_METADATA', `layer file ${path.join(dir, file)} is missing`, {
      file: path.join(dir, file),
    });
  }
  return meta;
}

/** Every parent exists and no parent chain loops. */
export function checkTree(dir: string, snaps: Map<string, LayerMeta>, head: LayerMeta): void {
  for (const m of [...snaps.values(), head]) {
    let steps = 0;
    for (let p = m.parent; p !== null; p = snaps.get(p)!.parent) {
      if (!snaps.has(p)) {
        throw new ReplicaError('CORRUPT_METADATA', `${dir}: layer ${m.name} has a missing ancestor ${p}`, {
          layer: m.name,
        });
      }
      if (++steps > snaps.size) {
        throw new ReplicaError('CORRUPT_METADATA', `${dir}: layer ${m.name} has a parent cycle`, {
          layer: m.name,
        });
      }
    }
  }
}

/** Deletes our files that volume.meta does not reference (leftovers of interrupted changes). */
async function sweepOrphans(dir: string, meta: ReplicaMeta): Promise<void> {
  const keep = new Set<string>();
  for (const f of [layerFile(meta.head, true), ...meta.snapshots.map((s) => layerFile(s, false))]) {
    keep.add(f);
    keep.add(metaFile(f));
  }
  const gone = (await fsp.readdir(dir)).filter(
    (f) => (isOwnedFile(f) && !keep.has(f)) || f.startsWith('volume.probe.'),
  );
  gone.push(`${REPLICA_META}.tmp`);
  await removeFiles(dir, gone);
}

async function rollForwardImport(dir: string, meta: ReplicaMeta): Promise<ReplicaMeta> {
  const snapshots = [...meta.snapshots];
  for (const l of meta.pending?.layers ?? []) {
    const file = layerFile(l.name, false);
    try {
      await fsp.rename(path.join(dir, importFile(file)), path.join(dir, file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // already renamed
    }
    await writeJsonAtomic(dir, metaFile(file), l);
    if (!snapshots.includes(l.name)) snapshots.push(l.name);
  }
  const next = { ...meta, snapshots, pending: null };
  await writeJsonAtomic(dir, REPLICA_META, next);
  return next;
}
