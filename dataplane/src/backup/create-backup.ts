import { randomBytes } from 'node:crypto';
import { type Logger, rootLogger } from '../logging/logger.js';
import { encodeBackupUrl } from './backup-url.js';
import { blockChecksum, compressBlock, isZeroBlock } from './block-codec.js';
import {
  type BlockKey,
  checkVolumeKey,
  ENCRYPTION_METHOD,
  encryptBlock,
  keyedChecksum,
} from './block-crypto.js';
import { changedBlocks, incrementalBase, mergeBlocks } from './block-plan.js';
import {
  type BackupConfig,
  COMPRESSION_METHODS,
  type CompressionMethod,
  DEFAULT_BLOCK_SIZE,
  PARAM_BLOCK_SIZE,
  PARAM_MODE,
  type VolumeConfig,
} from './config.js';
import { loadBackup, loadVolume, saveBackup, saveVolume } from './config-store.js';
import { BackupError } from './errors.js';
import { backupCfgPath, blockChecksumOf, blockPath, blocksDir, checkName, VOLUMES_DIR } from './layout.js';
import { BackupLock, LOCK_BACKUP, type LockTiming } from './lock.js';
import { chainOf, type SnapshotSource } from './snapshot-source.js';
import type { BackupTarget, RequestCounts } from './target.js';
import { rfc3339 } from './timestamp.js';
import { runPool } from './worker-pool.js';

export interface CreateBackupOptions {
  target: BackupTarget;
  source: SnapshotSource;
  volume: string;
  snapshot: string;
  /** Default `backup-<16 hex>` (Longhorn's form). */
  backupName?: string;
  /** For a new backup volume; an existing one keeps the method its volume.cfg names. */
  compression?: CompressionMethod;
  /** 'full' reads every block and uploads even blocks the target has (repairs a damaged one). */
  mode?: 'incremental' | 'full';
  /** Blocks in flight (read, hash, compress, upload). Default 4. */
  concurrency?: number;
  labels?: Record<string, string>;
  /**
   * More backup.cfg Parameters (an encrypted volume's key record: PARAM_KEY_RECORD); the block
   * size and the mode are always this library's.
   */
  parameters?: Record<string, string>;
  storageClassName?: string;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  lockTiming?: LockTiming;
  log?: Logger;
  /**
   * A volume's first backup looks for its blocks in the target's other volumes (one recursive
   * LIST per 1000 blocks of the store, one GET per volume) and copies them inside the target
   * instead of uploading them. Default true.
   */
  dedupeAcrossVolumes?: boolean;
  /**
   * Encrypts every block (block-crypto.ts). Decided by a volume's first backup: an encrypted
   * backup volume takes only its key, a plain one none.
   */
  encryptionKey?: BlockKey;
}

export interface BackupProgress {
  blocksTotal: number;
  blocksDone: number;
  percent: number;
}

export interface BackupResult {
  url: string;
  backup: BackupConfig;
  stats: BackupStats;
}

export interface BackupStats {
  incremental: boolean;
  /** Blocks read from the replica (changed since the last backed-up snapshot, or all). */
  blocksRead: number;
  blocksZero: number;
  /** Blocks uploaded because the target did not have them. */
  blocksUploaded: number;
  /** Blocks uploaded although the target had them (full mode). */
  blocksReuploaded: number;
  /** Blocks found on the target or already in flight: not uploaded. */
  blocksDeduplicated: number;
  /** Blocks another volume of the target holds: copied inside the target, not uploaded. */
  blocksCopied: number;
  bytesRead: number;
  bytesUploaded: number;
  /** Target requests this backup made. */
  requests: RequestCounts;
  /** Of elapsedMs, the time taking the lock (Longhorn's protocol waits 2 s). */
  lockMs: number;
  elapsedMs: number;
}

/**
 * Backs up one snapshot of a volume, as Longhorn's delta-block backup does and in its format:
 * take the volume's backup lock; create volume.cfg if the volume is new; decide full or
 * incremental (incremental on top of the last backup's snapshot when that is still an ancestor
 * of this one); write this backup's cfg as in progress; read the changed 2 MiB blocks from the
 * replica, skip zero blocks, name each by its checksum, deduplicate (blocks in flight, blocks the
 * last backup holds, blocks on the target), compress and upload with N workers; write the
 * complete cfg (the last backup's list with the changed blocks merged over it); update
 * volume.cfg last. A failure removes the in-progress cfg and leaves volume.cfg as it was; blocks
 * already uploaded stay (unreferenced ones are collected by the next delete's GC).
 *
 * Fewer requests than Longhorn: blocks of the last backup are known to exist without asking;
 * other blocks are looked up with one HEAD each, or with one recursive LIST per 1000 blocks of
 * the volume when that is cheaper (a LIST priced as ten HEADs). Longhorn HEADs every block and
 * LISTs every folder it walks.
 */
export async function createBackup(opts: CreateBackupOptions): Promise<BackupResult> {
  const started = performance.now();
  const { target, source, volume, snapshot } = opts;
  checkName('volume', volume);
  const backupName = opts.backupName ?? `backup-${randomBytes(8).toString('hex')}`;
  checkName('backup', backupName);
  const mode = opts.mode ?? 'incremental';
  if (mode !== 'incremental' && mode !== 'full')
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup mode ${JSON.stringify(mode)}: expected incremental or full`,
    );
  const compression = opts.compression ?? 'lz4';
  if (!COMPRESSION_METHODS.includes(compression))
    throw new BackupError(
      'INVALID_ARGUMENT',
      `compression ${JSON.stringify(compression)}: expected lz4, gzip or none`,
    );
  const concurrency = opts.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64)
    throw new BackupError('INVALID_ARGUMENT', `concurrency ${concurrency}: expected 1..64`);
  const log = (opts.log ?? rootLogger).child({ component: 'backup', volume, backup: backupName });
  const requestsBefore = { ...target.requests };

  const layers = await source.chain();
  const snap = layers.find((l) => l.name === snapshot);
  if (!snap) throw new BackupError('NOT_FOUND', `volume ${volume} has no snapshot ${snapshot}`, { volume });
  // The chain ends with the head: still written to, so not something to back up.
  if (layers.at(-1)?.name === snapshot)
    throw new BackupError('INVALID_ARGUMENT', `${snapshot} is the head of volume ${volume}, not a snapshot`, {
      volume,
    });
  const size = await source.size();
  const blockSize = DEFAULT_BLOCK_SIZE;

  await target.check();
  const lockStart = performance.now();
  const lock = await BackupLock.acquire(target, volume, LOCK_BACKUP, opts.lockTiming);
  const lockMs = Math.round(performance.now() - lockStart);
  let inProgressWritten = false;
  try {
    let vol: VolumeConfig;
    try {
      vol = await loadVolume(target, volume);
    } catch (err) {
      if ((err as BackupError).code !== 'NOT_FOUND') throw err;
      vol = {
        Name: volume,
        Size: size,
        Labels: opts.labels ?? null,
        CreatedTime: rfc3339(),
        LastBackupName: '',
        LastBackupAt: '',
        BlockCount: 0,
        BackingImageName: '',
        BackingImageChecksum: '',
        CompressionMethod: compression,
        ...(opts.encryptionKey
          ? { EncryptionMethod: ENCRYPTION_METHOD, EncryptionKeyId: opts.encryptionKey.id }
          : {}),
        StorageClassName: opts.storageClassName ?? '',
        DataEngine: 'v1',
      };
      await saveVolume(target, vol);
    }
    const method = vol.CompressionMethod;
    const key = opts.encryptionKey;
    checkVolumeKey(volume, { method: vol.EncryptionMethod ?? '', keyId: vol.EncryptionKeyId ?? '' }, key);

    // The last backup, if an incremental one can build on it.
    let last: BackupConfig | null = null;
    if (vol.LastBackupName && mode === 'incremental') {
      try {
        last = await loadBackup(target, volume, vol.LastBackupName);
      } catch (err) {
        log.info({ err: (err as Error).message }, 'last backup unreadable: full backup');
      }
    }
    const chain = chainOf(layers, snapshot);
    const base = last
      ? incrementalBase(
          chain.map((l) => l.name),
          last.SnapshotName,
        )
      : null;
    if (!base) last = null;
    const newer = base
      ? chain.slice(
          0,
          chain.findIndex((l) => l.name === base),
        )
      : chain;
    const ranges = await Promise.all(newer.map((l) => source.allocatedRanges(l.name)));
    const offsets = changedBlocks(
      newer.map((l, i) => ({ name: l.name, ranges: ranges[i]! })),
      null,
      blockSize,
      size,
    );

    await saveBackup(target, {
      Name: backupName,
      VolumeName: volume,
      SnapshotName: '',
      SnapshotCreatedAt: '',
      CreatedTime: '',
      Size: 0,
      Labels: null,
      Parameters: null,
      IsIncremental: false,
      CompressionMethod: method,
      NewlyUploadedDataSize: 0,
      ReUploadedDataSize: 0,
      Blocks: [],
    });
    inProgressWritten = true;

    // What the target holds: the last backup's blocks for sure; the rest by HEAD or one LIST.
    const known = new Set<string>(last?.Blocks.map((b) => b.BlockChecksum) ?? []);
    // A LIST returns 1000 keys but costs S3 users about ten HEADs: list only when cheaper.
    const listCost = 10 * Math.ceil((vol.BlockCount + 1) / 1000);
    let listed = false;
    // Other volumes' blocks are named and encrypted with other keys (or none): not for us.
    const scanOthers = !last && vol.BlockCount === 0 && !key && opts.dedupeAcrossVolumes !== false;
    if (!scanOthers && (mode === 'full' || offsets.length > listCost)) {
      for (const key of await target.listAll(blocksDir(volume))) {
        const c = blockChecksumOf(key);
        if (c) known.add(c);
      }
      listed = true;
    }
    const elsewhere = scanOthers
      ? await blocksOfOtherVolumes(target, volume, method, known)
      : new Map<string, string>();
    if (scanOthers) listed = true;

    const stats: BackupStats = {
      incremental: last !== null,
      blocksRead: 0,
      blocksZero: 0,
      blocksUploaded: 0,
      blocksReuploaded: 0,
      blocksDeduplicated: 0,
      blocksCopied: 0,
      bytesRead: 0,
      bytesUploaded: 0,
      requests: { list: 0, get: 0, put: 0, head: 0, delete: 0, copy: 0 },
      lockMs,
      elapsedMs: 0,
    };
    const changed = new Map<number, string | null>();
    const inFlight = new Map<string, Promise<void>>();
    let newlyUploaded = 0;
    let reUploaded = 0;
    let done = 0;
    const report = () =>
      opts.onProgress?.({
        blocksTotal: offsets.length,
        blocksDone: done,
        percent: offsets.length ? Math.floor((done * 100) / offsets.length) : 100,
      });
    report();

    // Blocks this backup wrote (full mode re-uploads a block once, not once per offset).
    const written = new Set<string>();
    const upload = async (checksum: string, data: Buffer) => {
      const path = blockPath(volume, checksum);
      const present = known.has(checksum) || (!listed && (await target.exists(path)));
      if (present && (mode !== 'full' || written.has(checksum))) {
        stats.blocksDeduplicated++;
        return;
      }
      const other = present ? undefined : elsewhere.get(checksum);
      if (other) {
        try {
          await target.copy(other, path);
          known.add(checksum);
          written.add(checksum);
          stats.blocksCopied++;
          return;
        } catch (err) {
          // The other volume's GC removed it meanwhile: upload it after all.
          if ((err as BackupError).code !== 'NOT_FOUND') throw err;
        }
      }
      const compressed = await compressBlock(method, data);
      const stored = key ? encryptBlock(key, checksum, compressed) : compressed;
      await target.put(path, stored);
      known.add(checksum);
      written.add(checksum);
      stats.bytesUploaded += stored.length;
      if (present) {
        stats.blocksReuploaded++;
        reUploaded += stored.length;
      } else {
        stats.blocksUploaded++;
        newlyUploaded += stored.length;
      }
    };

    await runPool(offsets, concurrency, opts.signal, async (offset) => {
      const length = Math.min(blockSize, size - offset);
      let data = await source.readSnapshot(snapshot, offset, length);
      stats.blocksRead++;
      stats.bytesRead += length;
      if (isZeroBlock(data)) {
        stats.blocksZero++;
        changed.set(offset, null);
      } else {
        // A volume's last block is whole in the store (Longhorn's sizes are multiples of it).
        if (length < blockSize) data = Buffer.concat([data, Buffer.alloc(blockSize - length)]);
        const checksum = key ? keyedChecksum(key, data) : await blockChecksum(data);
        changed.set(offset, checksum);
        const pending = inFlight.get(checksum);
        if (pending) {
          await pending;
          stats.blocksDeduplicated++;
        } else {
          const p = upload(checksum, data);
          inFlight.set(checksum, p);
          try {
            await p;
          } finally {
            inFlight.delete(checksum);
          }
        }
      }
      done++;
      report();
    });

    const blocks = mergeBlocks(last?.Blocks ?? [], changed, size);
    const backup: BackupConfig = {
      Name: backupName,
      VolumeName: volume,
      SnapshotName: snapshot,
      SnapshotCreatedAt: rfc3339(new Date(snap.created)),
      CreatedTime: rfc3339(),
      Size: blocks.length * blockSize,
      Labels: opts.labels ?? null,
      Parameters: { ...opts.parameters, [PARAM_BLOCK_SIZE]: String(blockSize), [PARAM_MODE]: mode },
      IsIncremental: last !== null,
      CompressionMethod: method,
      NewlyUploadedDataSize: newlyUploaded,
      ReUploadedDataSize: reUploaded,
      Blocks: blocks,
    };
    await saveBackup(target, backup);

    // volume.cfg last: re-read (a deletion may have changed it meanwhile) and point it here.
    const latest = await loadVolume(target, volume);
    await saveVolume(target, {
      ...latest,
      LastBackupName: backupName,
      LastBackupAt: backup.SnapshotCreatedAt,
      BlockCount: latest.BlockCount + stats.blocksUploaded + stats.blocksCopied,
      Size: size,
      Labels: opts.labels ?? latest.Labels,
      StorageClassName: opts.storageClassName ?? latest.StorageClassName,
    });
    for (const k of Object.keys(stats.requests) as (keyof RequestCounts)[])
      stats.requests[k] = target.requests[k] - requestsBefore[k];
    stats.elapsedMs = Math.round(performance.now() - started);
    log.info({ ...stats, requests: stats.requests }, 'backup complete');
    return { url: encodeBackupUrl(target.url, volume, backupName), backup, stats };
  } catch (err) {
    if (inProgressWritten) await target.remove(backupCfgPath(volume, backupName)).catch(() => {});
    if (opts.signal?.aborted) {
      throw new BackupError(
        'CANCELLED',
        `backup ${backupName} of ${volume} cancelled`,
        { volume, backup: backupName },
        err,
      );
    }
    throw err;
  } finally {
    await lock.release().catch(() => {});
  }
}

/**
 * Checksum -> path of the blocks the target's other volumes hold, for those volumes whose
 * compression is `method` (a block is stored compressed: another method's bytes would not
 * decode here). This volume's own blocks (a first backup that was interrupted) go to `own`.
 */
async function blocksOfOtherVolumes(
  target: BackupTarget,
  volume: string,
  method: CompressionMethod,
  own: Set<string>,
): Promise<Map<string, string>> {
  const byVolume = new Map<string, [string, string][]>();
  for (const key of await target.listAll(VOLUMES_DIR)) {
    // <h0>/<h1>/<volume>/blocks/<c0>/<c1>/<c>.blk
    const parts = key.split('/');
    const c = parts.length === 7 && parts[3] === 'blocks' ? blockChecksumOf(key) : undefined;
    if (!c) continue;
    const v = parts[2]!;
    if (v === volume) own.add(c);
    else {
      const list = byVolume.get(v) ?? [];
      if (list.length === 0) byVolume.set(v, list);
      list.push([c, `${VOLUMES_DIR}/${key}`]);
    }
  }
  const out = new Map<string, string>();
  for (const [v, blocks] of byVolume) {
    const cfg = await loadVolume(target, v).catch(() => null);
    if (cfg?.CompressionMethod !== method) continue;
    for (const [c, path] of blocks) out.set(c, path);
  }
  return out;
}
