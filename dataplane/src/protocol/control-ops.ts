import { BlockError } from '../block/block-error.js';
import type { ReplicaStore, SnapshotOptions } from '../replica/types.js';

/**
 * The control operations a replica connection serves, as one table: op name -> handler taking
 * the store and the request's JSON args. Results are sent back as JSON.
 */
type Args = Record<string, unknown>;
type ControlHandler = (store: ReplicaStore, args: Args) => unknown;

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

export const REPLICA_CONTROL_OPS: Readonly<Record<string, ControlHandler>> = {
  info: (s) => s.info(),
  chain: (s) => s.chain(),
  snapshot: (s, a) => s.snapshot(str(a, 'name'), snapshotOpts(a)),
  markRemoved: (s, a) => s.markRemoved(str(a, 'name')),
  purge: (s) => s.purge(),
  revert: (s, a) => s.revert(str(a, 'name'), optStr(a, 'created')),
  expand: (s, a) => s.expand(int(a, 'size')),
  setGeneration: (s, a) => s.setGeneration(int(a, 'generation')),
  allocatedRanges: (s, a) => s.allocatedRanges(optStr(a, 'layer')),
};

/** Store methods never reachable through the generic pass-through. */
const NOT_CALLABLE = new Set([
  'constructor',
  'close',
  'read',
  'write',
  'flush',
  'unmap',
  'writeZeroes',
  'readLayer',
  'writeLayer',
]);

/**
 * Runs one control op: from the table, or else a public method of the store called with
 * `args.params` as positional arguments (for store calls added after this table, such as layer
 * import steps). Unknown ops answer ENOTSUP.
 */
export async function runControlOp(store: ReplicaStore, op: string, args: Args): Promise<unknown> {
  const handler = REPLICA_CONTROL_OPS[op];
  if (handler) return await handler(store, args);
  const method = (store as unknown as Record<string, unknown>)[op];
  if (op.startsWith('_') || NOT_CALLABLE.has(op) || typeof method !== 'function') {
    throw new BlockError('ENOTSUP', `unknown control operation ${op}`);
  }
  const params = args.params ?? [];
  if (!Array.isArray(params)) throw new BlockError('EINVAL', 'params must be an array');
  return await (method as (...p: unknown[]) => unknown).apply(store, params);
}
