import { createHash } from 'node:crypto';
import { BlockError } from '../block/block-error.js';
import type {
  DirtyTracking,
  LayerImport,
  LayerStore,
  ReplicaStore,
  SnapshotOptions,
} from '../replica/types.js';
import { MAX_DATA_LENGTH } from './codec.js';

/**
 * The control operations a replica connection serves, as one table: op name -> handler taking
 * the store and the request's JSON args. Results are sent back as JSON. A server adds the tables
 * its entry point gives it (ReplicaServerOptions.controlOps, e.g. the sync agent's).
 */
type Args = Record<string, unknown>;
export type ControlHandler = (store: ReplicaStore, args: Args) => unknown;
export type ControlOps = Readonly<Record<string, ControlHandler>>;

function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== 'string' || v.length === 0)
    throw new BlockError('EINVAL', `${key} must be a non-empty string`);
  return v;
}

function optStr(args: Args, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new BlockError('EINVAL', `${key} must be a string`);
  return v;
}

function int(args: Args, key: string): number {
  const v = args[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new BlockError('EINVAL', `${key} must be a non-negative integer`);
  return v;
}

function snapshotOpts(args: Args): SnapshotOptions | undefined {
  const v = args.opts;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new BlockError('EINVAL', 'opts must be an object');
  return v as SnapshotOptions;
}

function layerStore(store: ReplicaStore): LayerStore {
  const s = store as Partial<LayerStore>;
  if (typeof s.importLayer !== 'function' || typeof s.readLayer !== 'function')
    throw new BlockError('ENOTSUP', 'replica store offers no layer access');
  return s as LayerStore;
}

function dirtyTracking(store: ReplicaStore): DirtyTracking {
  const s = store as Partial<DirtyTracking>;
  if (typeof s.dirtyRanges !== 'function')
    throw new BlockError('ENOTSUP', 'replica store tracks no dirty ranges');
  return s as DirtyTracking;
}

function layerImport(args: Args): LayerImport {
  const v = args.meta;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new BlockError('EINVAL', 'meta must be an object');
  return v as LayerImport;
}

/** Largest range one layerChecksums call may hash (bounds the time one request takes). */
const MAX_CHECKSUM_RANGE = 1024 * 1024 * 1024;

/**
 * SHA-512 (hex) of each `chunkSize` piece of one layer's own bytes in [offset, offset+length),
 * computed next to the data so a rebuild sends only the pieces that differ.
 */
async function layerChecksums(store: ReplicaStore, args: Args): Promise<string[]> {
  const layers = layerStore(store);
  const name = str(args, 'name');
  const offset = int(args, 'offset');
  const length = int(args, 'length');
  const chunkSize = int(args, 'chunkSize');
  if (chunkSize === 0 || chunkSize > MAX_DATA_LENGTH) throw new BlockError('EINVAL', 'bad chunkSize');
  if (length > MAX_CHECKSUM_RANGE) throw new BlockError('EINVAL', `length exceeds ${MAX_CHECKSUM_RANGE}`);
  const out: string[] = [];
  for (let pos = offset; pos < offset + length; pos += chunkSize) {
    const n = Math.min(chunkSize, offset + length - pos);
    const buf = await layers.readLayer(name, pos, n);
    out.push(createHash('sha512').update(buf).digest('hex'));
  }
  return out;
}

export const REPLICA_CONTROL_OPS: ControlOps = {
  info: (s) => s.info(),
  chain: (s) => s.chain(),
  snapshot: (s, a) => s.snapshot(str(a, 'name'), snapshotOpts(a)),
  markRemoved: (s, a) => s.markRemoved(str(a, 'name')),
  purge: (s) => s.purge(),
  revert: (s, a) => s.revert(str(a, 'name'), optStr(a, 'created')),
  expand: (s, a) => s.expand(int(a, 'size')),
  setGeneration: (s, a) => s.setGeneration(int(a, 'generation')),
  setKeyRotation: (s, a) => s.setKeyRotation(a.record === null ? null : str(a, 'record')),
  allocatedRanges: (s, a) => s.allocatedRanges(optStr(a, 'layer')),
  // Rebuild: building a chain from received layers (see LayerStore in replica/types.ts).
  importLayer: (s, a) => layerStore(s).importLayer(layerImport(a)),
  finishImport: (s) => layerStore(s).finishImport(),
  // A server with a sync agent replaces this with one that also cancels a running syncFrom.
  abortImport: (s) => layerStore(s).abortImport(),
  layerChecksums,
  // Write-intent tracking of the generation scheme.
  dirtyRanges: (s) => dirtyTracking(s).dirtyRanges(),
  markClean: (s) => dirtyTracking(s).markClean(),
};

/** The store's own ops with `extra` tables over them (a later table wins for an op name). */
export function controlOpsWith(...extra: readonly ControlOps[]): ControlOps {
  return Object.freeze(Object.assign(Object.create(null), REPLICA_CONTROL_OPS, ...extra));
}

/** Runs one control op from a table; unknown ops (or ops the store lacks) answer ENOTSUP. */
export async function runControlOp(
  ops: ControlOps,
  store: ReplicaStore,
  op: string,
  args: Args,
): Promise<unknown> {
  const handler = Object.hasOwn(ops, op) ? ops[op] : undefined;
  if (!handler) throw new BlockError('ENOTSUP', `unknown control operation ${op}`);
  return await handler(store, args);
}
