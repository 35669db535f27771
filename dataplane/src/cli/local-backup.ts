import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decodeBackupUrl } from '../backup/backup-url.js';
import { type BlockKey, deriveBlockKey } from '../backup/block-crypto.js';
import type { CompressionMethod } from '../backup/config.js';
import { createBackup } from '../backup/create-backup.js';
import { readCredentials } from '../backup/credentials.js';
import { BackupError } from '../backup/errors.js';
import { inspectBackup, restoreBackup } from '../backup/restore-backup.js';
import { ReplicaSnapshotSource } from '../backup/snapshot-source.js';
import type { BackupTarget } from '../backup/target.js';
import { openTarget } from '../backup/target-url.js';
import { rootLogger } from '../logging/logger.js';
import { parseReplicaAddress } from '../net/replica-address.js';
import { ReplicaClient } from '../protocol/index.js';
import { checkBackupKeys, keyRecordParameters, type RestoreKeys, restoredEncryption } from './backup-keys.js';
import { loadState, revertVolume, volumeDown, volumeUp, withEngine } from './local-volume.js';

/**
 * Backups of a local volume (`longhorn-local volume backup create`, `volume up --from-backup`):
 * the snapshot is read from one RW replica through the replica protocol (not through the
 * engine), and a restore writes every block into a staged layer on every replica, commits it,
 * and reverts the new volume onto it, as Longhorn restores into a fresh snapshot.
 */

// The project runs on Node 20 on purpose (DESIGN.md); the S3 SDK's notice about its future
// Node 22 requirement would otherwise end up in every command's stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** The CLI prints its own summary: the library's info lines would repeat it on stderr. */
const quiet = rootLogger.child({}, { level: 'warn' });

export interface TargetArgs {
  target: string;
  credentials?: string;
}

export async function openTargetFrom(args: TargetArgs): Promise<BackupTarget> {
  return (await openWithKey(args)).target;
}

/** The target, and the encryption key when the credentials file has CRYPTO_KEY_VALUE. */
async function openWithKey(args: TargetArgs): Promise<{ target: BackupTarget; key?: BlockKey }> {
  const creds = args.credentials ? await readCredentials(args.credentials) : {};
  const passphrase = creds.CRYPTO_KEY_VALUE;
  const key = passphrase ? deriveBlockKey(passphrase) : undefined;
  return { target: openTarget(args.target, creds), ...(key ? { key } : {}) };
}

export interface LocalBackupOptions extends TargetArgs {
  dir: string;
  /** An existing snapshot; without one a new snapshot is taken for the backup. */
  snapshot?: string;
  mode?: 'incremental' | 'full';
  compression?: CompressionMethod;
  concurrency?: number;
  onProgress?: (percent: number) => void;
}

export async function backupLocalVolume(opts: LocalBackupOptions) {
  const state = await loadState(opts.dir);
  const { target, key } = await openWithKey(opts);
  try {
    const { snapshot, replica } = await withEngine(state, async (e) => {
      const view = await e.volume();
      const rw = view.replicas.find((r) => r.mode === 'RW');
      if (!rw)
        throw new BackupError('EIO', `volume ${state.volume} has no RW replica to read a snapshot from`);
      let name = opts.snapshot;
      // An encrypted volume's backup holds its ciphertext: every block under one data key.
      const rotation = state.encryption ? await e.dataKeyRotationStatus() : undefined;
      if (name) {
        const snaps = await e.snapshotList();
        if (!snaps.some((s) => s.name === name && !s.head && !s.removed))
          throw new BackupError('NOT_FOUND', `volume ${state.volume} has no snapshot ${name}`);
        if (rotation) checkBackupKeys(state.volume, name, rotation);
      } else {
        if (rotation) checkBackupKeys(state.volume, '', rotation);
        name = (await e.snapshotCreate('', { 'longhorn.io/backup': 'true' })).name;
      }
      return { snapshot: name, replica: rw };
    });
    const client = await ReplicaClient.connect(parseReplicaAddress(replica.address), replica.id, {
      connections: 2,
    });
    // Ctrl-C or SIGTERM cancels: the in-progress cfg is removed and the lock released.
    const cancel = new AbortController();
    const onSignal = () => cancel.abort(new BackupError('CANCELLED', 'cancelled by a signal'));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      let last = -1;
      return await createBackup({
        log: quiet,
        ...(key ? { encryptionKey: key } : {}),
        signal: cancel.signal,
        target,
        source: new ReplicaSnapshotSource(client),
        volume: state.volume,
        snapshot,
        ...(state.encryption ? { parameters: keyRecordParameters(state.encryption) } : {}),
        ...(opts.mode ? { mode: opts.mode } : {}),
        ...(opts.compression ? { compression: opts.compression } : {}),
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
        onProgress: (p) => {
          if (p.percent !== last) opts.onProgress?.(p.percent);
          last = p.percent;
        },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await client.close();
    }
  } finally {
    await target.close();
  }
}

export interface RestoreUpOptions extends RestoreKeys {
  dir: string;
  backupUrl: string;
  credentials?: string;
  replicas: number;
  /** Volume name; default the backup's volume name. */
  name?: string;
  concurrency?: number;
  onProgress?: (percent: number) => void;
}

/**
 * Brings up a new volume holding the backup's data and returns its NBD URI. Refused where a
 * volume exists already; a failed restore takes the new volume down again.
 */
export async function volumeUpFromBackup(opts: RestoreUpOptions): Promise<string> {
  const dir = resolve(opts.dir);
  if (existsSync(join(dir, 'volume.json')))
    throw new BackupError(
      'INVALID_ARGUMENT',
      `a volume exists under ${opts.dir}: restore into a new directory`,
    );
  const { targetUrl, volume, backup } = decodeBackupUrl(opts.backupUrl);
  if (!backup) throw new BackupError('INVALID_ARGUMENT', `${opts.backupUrl} names no backup (?backup=NAME)`);
  const { target, key } = await openWithKey({
    target: targetUrl,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
  });
  try {
    await target.check();
    const { vol, b } = await inspectBackup(target, volume, backup, key);
    // A backup of an encrypted volume holds its ciphertext: the new volume takes its key record.
    const name = opts.name ?? volume;
    const encryption = await restoredEncryption(name, backup, b.Parameters, {
      ...(opts.keyFile !== undefined ? { keyFile: opts.keyFile } : {}),
      ...(opts.cryptoSecret !== undefined ? { cryptoSecret: opts.cryptoSecret } : {}),
    });
    await volumeUp({
      dir,
      replicas: opts.replicas,
      size: vol.Size,
      volume: name,
      ...(encryption ? { encryption } : {}),
    });
    try {
      const state = await loadState(dir);
      const view = await withEngine(state, (e) => e.volume());
      const layer =
        b.SnapshotName && /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(b.SnapshotName)
          ? b.SnapshotName
          : `restore-${backup}`;
      const clients = await Promise.all(
        view.replicas.map((r) =>
          ReplicaClient.connect(parseReplicaAddress(r.address), r.id, { connections: 2 }),
        ),
      );
      try {
        const created = b.SnapshotCreatedAt || undefined;
        await Promise.all(
          clients.map((c) =>
            c.importLayer({
              name: layer,
              parent: null,
              size: vol.Size,
              userCreated: true,
              ...(created ? { created } : {}),
            }),
          ),
        );
        let last = -1;
        try {
          await restoreBackup({
            log: quiet,
            ...(key ? { encryptionKey: key } : {}),
            target,
            volume,
            backup,
            ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
            sink: {
              write: async (offset, data) =>
                void (await Promise.all(clients.map((c) => c.writeLayer(layer, offset, data)))),
            },
            onProgress: (p) => {
              if (p.percent !== last) opts.onProgress?.(p.percent);
              last = p.percent;
            },
          });
        } catch (err) {
          await Promise.all(clients.map((c) => c.abortImport().catch(() => {})));
          throw err;
        }
        await Promise.all(clients.map((c) => c.finishImport()));
      } finally {
        await Promise.all(clients.map((c) => c.close().catch(() => {})));
      }
      const after = await revertVolume(dir, layer);
      return after.frontend;
    } catch (err) {
      await volumeDown(dir).catch(() => {});
      throw err;
    }
  } finally {
    await target.close();
  }
}
