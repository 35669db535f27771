import { BlockError } from '../block/block-error.js';
import type { TokenBucket } from '../net/token-bucket.js';
import type { ReplicaRegistry } from './replica-registry.js';

/**
 * What a management connection (a Hello without a replica id) can ask of a server, as one
 * table: op name -> handler taking the server (its registry and bulk-transfer budget) and the
 * request's JSON args. Results are sent back as JSON. The instance manager and tests reach these
 * through ReplicaServerAdmin.
 */
type Args = Record<string, unknown>;
export interface ManagedServer {
  readonly registry: ReplicaRegistry;
  readonly bulk: TokenBucket;
}
export type ManagementHandler = (server: ManagedServer, args: Args) => Promise<unknown>;

function dir(args: Args): string | undefined {
  return typeof args.dir === 'string' ? args.dir : undefined;
}

/** The bulk budget's answer: bytes per second, 0 for no limit. */
export interface BulkBandwidth {
  bytesPerSecond: number;
}

async function bulkBandwidth(server: ManagedServer, args: Args): Promise<BulkBandwidth> {
  const v = args.bytesPerSecond;
  if (v !== undefined) {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
      throw new BlockError(
        'EINVAL',
        `bytesPerSecond must be a non-negative integer (0: no limit), got ${String(v)}`,
      );
    server.bulk.setRate(v);
  }
  return { bytesPerSecond: server.bulk.rate };
}

export const MANAGEMENT_OPS: Readonly<Record<string, ManagementHandler>> = {
  create: ({ registry: r }, a) =>
    r.create(String(a.id), {
      size: Number(a.size),
      dir: dir(a),
      ...(typeof a.sectorSize === 'number' ? { sectorSize: a.sectorSize } : {}),
      ...(typeof a.generation === 'number' ? { generation: a.generation } : {}),
    }),
  open: ({ registry: r }, a) => r.open(String(a.id), { dir: dir(a) }),
  close: ({ registry: r }, a) => r.close(String(a.id)),
  delete: ({ registry: r }, a) => r.delete(String(a.id), { dir: dir(a) }),
  list: async ({ registry: r }) => r.list(),
  // Reads (no args) or sets ({bytesPerSecond}) the server's bulk-transfer budget.
  bulkBandwidth,
};

/** The handler of a management op; unknown ops answer ENOTSUP. */
export function managementOp(op: string): ManagementHandler {
  const handler = Object.hasOwn(MANAGEMENT_OPS, op) ? MANAGEMENT_OPS[op] : undefined;
  if (!handler) throw new BlockError('ENOTSUP', `unknown management operation ${op}`);
  return handler;
}
