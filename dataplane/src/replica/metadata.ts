import fs from 'node:fs/promises';
import path from 'node:path';
import { ReplicaError } from './errors.js';
import { BLOCK_SIZE, MAX_KEY_ROTATION_BYTES, MAX_NAME_BYTES } from './validate.js';

/**
 * On-disk metadata. `volume.meta` is the commit record of every structural change: it names
 * the head and the set of snapshot layers, so files it does not name are leftovers of an
 * interrupted operation and are deleted at open. Each layer also has its own `<file>.meta`
 * holding the layer's own fields (parent, removed, labels...), as Longhorn has it.
 */
export const REPLICA_META = 'volume.meta';
export const DIRTY_MAP = 'volume.dirtymap';
export const FORMAT_VERSION = 1;

export interface LayerMeta {
  name: string;
  parent: string | null;
  removed: boolean;
  userCreated: boolean;
  created: string;
  labels: Record<string, string>;
  size: number;
}

/** A rebuild import that was being committed when the process died; rolled forward at open. */
export interface PendingImport {
  op: 'import';
  layers: LayerMeta[];
}

export interface ReplicaMeta {
  version: number;
  size: number;
  sectorSize: number;
  blockSize: number;
  /** Name (and file stem) of the head layer, `volume-head-NNN`. */
  head: string;
  headSeq: number;
  /** Snapshot layer names in creation order (so parents come before children). */
  snapshots: string[];
  generation: number;
  /** True from the first write of a session until its clean close. */
  dirty: boolean;
  /** Bytes covered by one bit of the write-intent bitmap (volume.dirtymap). */
  dirtyRegionSize: number;
  pending: PendingImport | null;
  /**
   * The volume's data-key rotation record as its engine last saved it (opaque here), so an
   * engine started on any node finds how far re-encryption got. Absent when never saved.
   */
  keyRotation?: string;
}

export function headName(seq: number): string {
  return `volume-head-${String(seq).padStart(3, '0')}`;
}

export function layerFile(name: string, isHead: boolean): string {
  return isHead ? `${name}.img` : `volume-snap-${name}.img`;
}

export const metaFile = (file: string): string => `${file}.meta`;
export const importFile = (file: string): string => `${file}.import`;

/** File names this store owns, so the open-time sweep never touches anything else. */
export function isOwnedFile(file: string): boolean {
  return (
    /^volume-(head-\d+|snap-.+)\.img(\.meta)?(\.import)?(\.tmp)?$/.test(file) || file.endsWith('.meta.tmp')
  );
}

function corrupt(file: string, why: string): ReplicaError {
  return new ReplicaError('CORRUPT_METADATA', `${file}: ${why}`, { file });
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number =>
  typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v % BLOCK_SIZE === 0;
const isName = (v: unknown): v is string =>
  typeof v === 'string' &&
  v.length > 0 &&
  !v.includes('/') &&
  !v.includes('\0') &&
  !v.includes('..') &&
  Buffer.byteLength(v) <= MAX_NAME_BYTES;

export function parseLayerMeta(file: string, text: string): LayerMeta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw corrupt(file, 'not valid JSON (truncated?)');
  }
  if (!isObject(v)) throw corrupt(file, 'not an object');
  const { name, parent, removed, userCreated, created, labels, size } = v;
  if (!isName(name)) throw corrupt(file, 'bad name');
  if (parent !== null && !isName(parent)) throw corrupt(file, 'bad parent');
  if (typeof removed !== 'boolean' || typeof userCreated !== 'boolean') throw corrupt(file, 'bad flags');
  if (typeof created !== 'string') throw corrupt(file, 'bad created time');
  if (!isObject(labels) || !Object.values(labels).every((l) => typeof l === 'string')) {
    throw corrupt(file, 'bad labels');
  }
  if (!isSize(size)) throw corrupt(file, 'bad size');
  return { name, parent, removed, userCreated, created, labels: labels as Record<string, string>, size };
}

export function parseReplicaMeta(file: string, text: string): ReplicaMeta {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw corrupt(file, 'not valid JSON (truncated?)');
  }
  if (!isObject(v)) throw corrupt(file, 'not an object');
  if (v.version !== FORMAT_VERSION) throw corrupt(file, `unknown format version ${String(v.version)}`);
  if (!isSize(v.size)) throw corrupt(file, 'bad size');
  if (v.blockSize !== BLOCK_SIZE) throw corrupt(file, 'bad block size');
  if (typeof v.sectorSize !== 'number' || ![512, 4096].includes(v.sectorSize)) {
    throw corrupt(file, 'bad sector size');
  }
  if (typeof v.head !== 'string' || !/^volume-head-\d+$/.test(v.head)) throw corrupt(file, 'bad head');
  if (!Number.isSafeInteger(v.headSeq) || (v.headSeq as number) < 0) throw corrupt(file, 'bad headSeq');
  if (!Array.isArray(v.snapshots) || !v.snapshots.every(isName)) throw corrupt(file, 'bad snapshot list');
  if (new Set(v.snapshots).size !== v.snapshots.length) throw corrupt(file, 'duplicate snapshot');
  if (!Number.isSafeInteger(v.generation) || (v.generation as number) < 0)
    throw corrupt(file, 'bad generation');
  if (typeof v.dirty !== 'boolean') throw corrupt(file, 'bad dirty flag');
  if (!isSize(v.dirtyRegionSize)) throw corrupt(file, 'bad dirty region size');
  let pending: PendingImport | null = null;
  if (v.pending !== null && v.pending !== undefined) {
    const p = v.pending;
    if (!isObject(p) || p.op !== 'import' || !Array.isArray(p.layers)) throw corrupt(file, 'bad pending op');
    pending = { op: 'import', layers: p.layers.map((l) => parseLayerMeta(file, JSON.stringify(l))) };
  }
  const { keyRotation } = v;
  if (
    keyRotation !== undefined &&
    (typeof keyRotation !== 'string' || Buffer.byteLength(keyRotation) > MAX_KEY_ROTATION_BYTES)
  )
    throw corrupt(file, 'bad key rotation record');
  return {
    version: FORMAT_VERSION,
    size: v.size,
    sectorSize: v.sectorSize,
    blockSize: BLOCK_SIZE,
    head: v.head,
    headSeq: v.headSeq as number,
    snapshots: v.snapshots as string[],
    generation: v.generation as number,
    dirty: v.dirty,
    dirtyRegionSize: v.dirtyRegionSize,
    pending,
    ...(keyRotation !== undefined ? { keyRotation } : {}),
  };
}

export async function fsyncDir(dir: string): Promise<void> {
  const h = await fs.open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** tmp file, fsync, rename over the target, fsync the directory: readers see old or new, never half. */
export async function writeJsonAtomic(dir: string, file: string, value: unknown): Promise<void> {
  const target = path.join(dir, file);
  const tmp = `${target}.tmp`;
  const h = await fs.open(tmp, 'w');
  try {
    await h.writeFile(`${JSON.stringify(value, null, 1)}\n`);
    await h.datasync();
  } finally {
    await h.close();
  }
  await fs.rename(tmp, target);
  try {
    await fsyncDir(dir);
  } catch (err) {
    // The new content is already in place: callers must not roll back as if it were not.
    throw Object.assign(err as Error, { renamed: true });
  }
}

/** True when writeJsonAtomic failed after its rename, i.e. the new content is visible. */
export const wasRenamed = (err: unknown): boolean => (err as { renamed?: boolean })?.renamed === true;

export async function readText(dir: string, file: string): Promise<string | null> {
  try {
    return await fs.readFile(path.join(dir, file), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

export function emptyHeadMeta(name: string, parent: string | null, size: number): LayerMeta {
  return {
    name,
    parent,
    removed: false,
    userCreated: false,
    created: new Date().toISOString(),
    labels: {},
    size,
  };
}

/** Removes files of a replica directory (missing ones are fine) and makes that durable. */
export async function removeFiles(dir: string, files: string[]): Promise<void> {
  if (files.length === 0) return;
  for (const f of files) await fs.rm(path.join(dir, f), { force: true });
  await fsyncDir(dir);
}
