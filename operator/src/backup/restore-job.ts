/**
 * One restore into a volume's replicas, the replica side of volume-restore.ts: every replica the
 * engine has in RW receives one staged layer over the replica protocol (importLayer), the
 * backup's blocks are downloaded, checked and written into it on all of them at once (the
 * backupstore library's restoreBackup, its RestoreSink fanned out), the layer is committed on
 * each (finishImport) and the engine puts the head on top of it (revert). A failure anywhere
 * drops the staged layer (abortImport): the replicas show nothing of a half-done restore.
 * An incremental restore (standby volumes) stages a delta layer above the previous restore's
 * layer: the blocks that changed between the two backups, and zeros where blocks went away.
 */

import type { BlockKey } from '@longhorn-ts/dataplane/backup/block-crypto';
import { BackupError, type BackupErrorCode } from '@longhorn-ts/dataplane/backup/errors';
import { type RestoreResult, restoreBackup } from '@longhorn-ts/dataplane/backup/restore-backup';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { parseReplicaAddress } from '@longhorn-ts/dataplane/net/replica-address';
import { ReplicaClient } from '@longhorn-ts/dataplane/protocol/client';
import type { Logger } from 'pino';

export interface RestoreReplica {
  id: string;
  address: string;
}

export interface RestoreJobRequest {
  target: BackupTarget;
  encryptionKey?: BlockKey;
  backupVolume: string;
  backup: string;
  /** The backup the replicas hold now (incremental restore); '' for a full restore. */
  from: string;
  layer: string;
  parent: string | null;
  /** The layer's creation time (the backup's snapshot's), RFC 3339; default now. */
  created?: string;
  replicas: readonly RestoreReplica[];
  /** Puts the head on top of the committed layer (the engine's snapshot revert). */
  revert(layer: string): Promise<void>;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (percent: number) => void;
  log: Logger;
}

/** Failures that trying again will not cure: the backup or its blocks are not there or not ours. */
const PERMANENT: ReadonlySet<BackupErrorCode> = new Set([
  'NOT_FOUND',
  'INVALID_ARGUMENT',
  'ACCESS_DENIED',
  'CORRUPT_BLOCK',
  'CORRUPT_CONFIG',
]);

export function isPermanentRestoreError(err: unknown): boolean {
  return err instanceof BackupError && PERMANENT.has(err.code);
}

export async function runRestoreJob(req: RestoreJobRequest): Promise<RestoreResult> {
  if (req.replicas.length === 0)
    throw new BackupError('EIO', `no healthy replica to restore backup ${req.backup} into`);
  const clients: ReplicaClient[] = [];
  // Replica calls have no timeout of their own: a cancel closes the connections, which fails
  // whatever call is waiting on them (a replica that stopped answering cannot hold the job).
  const closeAll = () => {
    for (const c of clients) void c.close().catch(() => {});
  };
  req.signal?.addEventListener('abort', closeAll, { once: true });
  try {
    for (const r of req.replicas) {
      clients.push(await ReplicaClient.connect(parseReplicaAddress(r.address), r.id, { connections: 2 }));
      if (req.signal?.aborted) closeAll();
    }
    const each = (op: (c: ReplicaClient) => Promise<unknown>) => Promise.all(clients.map(op));
    // A stage left behind by an operator that stopped mid-restore would refuse this one.
    await each((c) => c.abortImport());
    await each((c) =>
      c.importLayer({
        name: req.layer,
        parent: req.parent,
        userCreated: true,
        created: req.created ?? new Date().toISOString(),
        labels: { 'longhorn.io/restored-from-backup': req.backup },
      }),
    );
    let result: RestoreResult;
    let zeros: Buffer | undefined;
    try {
      let last = -1;
      result = await restoreBackup({
        target: req.target,
        volume: req.backupVolume,
        backup: req.backup,
        ...(req.from ? { fromBackup: req.from } : {}),
        ...(req.encryptionKey ? { encryptionKey: req.encryptionKey } : {}),
        ...(req.concurrency ? { concurrency: req.concurrency } : {}),
        ...(req.signal ? { signal: req.signal } : {}),
        log: req.log,
        sink: {
          write: async (offset, data) => void (await each((c) => c.writeLayer(req.layer, offset, data))),
          // Written zeros, not a hole: in a delta layer a hole would show the older layer's block.
          zero: async (offset, length) => {
            if (zeros === undefined || zeros.length < length) zeros = Buffer.alloc(length);
            const z = zeros.subarray(0, length);
            await each((c) => c.writeLayer(req.layer, offset, z));
          },
        },
        onProgress: (p) => {
          if (p.percent !== last) req.onProgress?.(p.percent);
          last = p.percent;
        },
      });
    } catch (err) {
      await each((c) => c.abortImport().catch(() => {}));
      throw err;
    }
    await each((c) => c.finishImport());
    await req.revert(req.layer);
    return result;
  } finally {
    req.signal?.removeEventListener('abort', closeAll);
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  }
}
