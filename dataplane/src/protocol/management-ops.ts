import { BlockError } from '../block/block-error.js';
import type { ReplicaRegistry } from './replica-registry.js';

/**
 * What a management connection (a Hello without a replica id) can ask of a server, as one
 * table: op name -> handler taking the server's registry and the request's JSON args. Results
 * are sent back as JSON. The instance manager and tests reach these through ReplicaServerAdmin.
 */
type Args = Record<string, unknown>;
export type ManagementHandler = (registry: ReplicaRegistry, args: Args) => Promise<unknown>;

function dir(args: Args): string | undefined {
  return typeof args.dir === 'string' ? args.dir : undefined;
}

export const MANAGEMENT_OPS: Readonly<Record<string, ManagementHandler>> = {
  create: (r, a) =>
    r.create(String(a.id), {
      size: Number(a.size),
      dir: dir(a),
      ...(typeof a.sectorSize === 'number' ? { sectorSize: a.sectorSize } : {}),
      ...(typeof a.generation === 'number' ? { generation: a.generation } : {}),
    }),
  open: (r, a) => r.open(String(a.id), { dir: dir(a) }),
  close: (r, a) => r.close(String(a.id)),
  delete: (r, a) => r.delete(String(a.id), { dir: dir(a) }),
  list: async (r) => r.list(),
};

/** The handler of a management op; unknown ops answer ENOTSUP. */
export function managementOp(op: string): ManagementHandler {
  const handler = Object.hasOwn(MANAGEMENT_OPS, op) ? MANAGEMENT_OPS[op] : undefined;
  if (!handler) throw new BlockError('ENOTSUP', `unknown management operation ${op}`);
  return handler;
}
