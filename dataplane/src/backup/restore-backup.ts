import { type Logger, rootLogger } from '../logging/logger.js';
import { decodeBlock } from './block-codec.js';
import { type BlockKey, checkVolumeKey } from './block-crypto.js';
import { incrementalRestorePlan } from './block-plan.js';
import { type BackupConfig, blockSizeOf, isInProgress, type VolumeConfig } from './config.js';
import { loadBackup, loadVolume } from './config-store.js';
import { BackupError } from './errors.js';
import { blockPath } from './layout.js';
import { BackupLock, LOCK_RESTORE, type LockTiming } from './lock.js';
import type { BackupTarget } from './target.js';
import { runPool } from './worker-pool.js';

/** Where restored blocks go (a new volume's replicas, a file). Only non-zero blocks come. */
export interface RestoreSink {
  write(offset: number, data: Buffer): Promise<void>;
  /** Makes [offset, offset + length) zeros (an incremental restore's removed blocks). */
  zero?(offset: number, length: number): Promise<void>;
}

export interface RestoreOptions {
  target: BackupTarget;
  volume: string;
  backup: string;
  sink: RestoreSink;
  /** Blocks in flight (download, decode, verify, write). Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (p: { blocksTotal: number; blocksDone: number; percent: number }) => void;
  lockTiming?: LockTiming;
  log?: Logger;
  /** The key of an encrypted backup volume (block-crypto.ts). */
  encryptionKey?: BlockKey;
  /**
   * Incremental restore (standby volumes): the sink already holds this backup of the same
   * volume; only the blocks that differ are written, and removed ones zeroed (`sink.zero`).
   */
  fromBackup?: string;
}

export interface RestoreResult {
  volume: VolumeConfig;
  backup: BackupConfig;
  blocks: number;
  bytesDownloaded: number;
  /** Of elapsedMs, the time taking the lock (Longhorn's protocol waits 2 s). */
  lockMs: number;
  elapsedMs: number;
}

/** The two cfgs a restore needs, checked: the backup complete, its block size usable. */
export async function inspectBackup(target: BackupTarget, volume: string, backup: string, key?: BlockKey) {
  const vol = await loadVolume(target, volume);
  checkVolumeKey(volume, { method: vol.EncryptionMethod ?? '', keyId: vol.EncryptionKeyId ?? '' }, key);
  const b = await loadBackup(target, volume, backup);
  if (isInProgress(b)) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup ${backup} of ${volume} is not complete (in progress or interrupted)`,
      {
        volume,
        backup,
      },
    );
  }
  if (vol.Size <= 0)
    throw new BackupError('CORRUPT_CONFIG', `backup volume ${volume} has size ${vol.Size}`, { volume });
  return { vol, b, blockSize: blockSizeOf(b.Parameters) };
}

/**
 * Restores a backup into a sink, in parallel, under the volume's restore lock: every block is
 * downloaded, decoded and checked against its checksum before it is written; a block that does
 * not match fails the restore with CORRUPT_BLOCK naming it. The sink starts empty (a new volume):
 * blocks absent from the backup are zeros and are not written.
 */
export async function restoreBackup(opts: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const { target, volume, backup, sink } = opts;
  const log = (opts.log ?? rootLogger).child({ component: 'restore', volume, backup });
  await target.check();
  const lockStart = performance.now();
  const lock = await BackupLock.acquire(target, volume, LOCK_RESTORE, opts.lockTiming);
  const lockMs = Math.round(performance.now() - lockStart);
  try {
    const { vol, b, blockSize } = await inspectBackup(target, volume, backup, opts.encryptionKey);
    let blocks = b.Blocks;
    let zero: number[] = [];
    if (opts.fromBackup) {
      const from = await inspectBackup(target, volume, opts.fromBackup, opts.encryptionKey);
      if (from.blockSize !== blockSize)
        throw new BackupError(
          'INVALID_ARGUMENT',
          `backup block size changed from ${from.blockSize} to ${blockSize}`,
          {
            volume,
            backup,
          },
        );
      if (!sink.zero)
        throw new BackupError('INVALID_ARGUMENT', 'an incremental restore needs a sink that can zero blocks');
      ({ write: blocks, zero } = incrementalRestorePlan(from.b.Blocks, b.Blocks));
    }
    let done = 0;
    let downloaded = 0;
    const total = blocks.length + zero.length;
    const report = () =>
      opts.onProgress?.({
        blocksTotal: total,
        blocksDone: done,
        percent: total ? Math.floor((done * 100) / total) : 100,
      });
    report();
    await runPool(zero, opts.concurrency ?? 4, opts.signal, async (offset) => {
      await sink.zero!(offset, Math.min(blockSize, vol.Size - offset));
      done++;
      report();
    });
    await runPool(blocks, opts.concurrency ?? 4, opts.signal, async (m) => {
      if (m.Offset >= vol.Size) return;
      const path = blockPath(volume, m.BlockChecksum);
      let stored: Buffer;
      try {
        stored = await target.get(path);
      } catch (err) {
        if ((err as BackupError).code === 'NOT_FOUND') {
          throw new BackupError(
            'CORRUPT_BLOCK',
            `missing block ${m.BlockChecksum} (${path}) at offset ${m.Offset}`,
            {
              volume,
              backup,
              block: m.BlockChecksum,
              path,
              offset: m.Offset,
            },
          );
        }
        throw err;
      }
      downloaded += stored.length;
      const data = await decodeBlock(
        b.CompressionMethod,
        stored,
        m.BlockChecksum,
        blockSize,
        { volume, path },
        opts.encryptionKey,
      );
      const length = Math.min(data.length, vol.Size - m.Offset);
      await sink.write(m.Offset, length === data.length ? data : data.subarray(0, length));
      done++;
      report();
    });
    const elapsedMs = Math.round(performance.now() - started);
    log.info({ blocks: total, bytesDownloaded: downloaded, elapsedMs }, 'restore complete');
    return { volume: vol, backup: b, blocks: total, bytesDownloaded: downloaded, lockMs, elapsedMs };
  } catch (err) {
    if (opts.signal?.aborted)
      throw new BackupError('CANCELLED', `restore of ${backup} cancelled`, { volume, backup }, err);
    throw err;
  } finally {
    await lock.release().catch(() => {});
  }
}
