import { parseArgs } from 'node:util';
import type { RotationStatus } from '../crypt/data-key-rotation.js';
import { newCryptoSecretEncryption } from './crypto-secret-file.js';
import { rotateDataKey, settleDataKeyRotation } from './data-key-rotation.js';
import { backupLocalVolume, volumeUpFromBackup } from './local-backup.js';
import {
  addReplica,
  DEFAULT_VOLUME_NAME,
  killReplica,
  listReplicas,
  loadState,
  revertVolume,
  setVolumeQos,
  volumeDown,
  volumeUp,
  withEngine,
} from './local-volume.js';
import { applyQosFlags, formatQos, hasQosFlags, QOS_FLAG_OPTIONS, QOS_USAGE } from './qos-flags.js';
import { formatSize, parseVolumeSize } from './size.js';
import { newVolumeEncryption } from './volume-encryption.js';
import { restartEngine, rotateVolumeKey, rotateVolumeKeyFromSecret } from './volume-keys.js';

const USAGE = `usage: longhorn-local volume <command> --dir DIR [options]
  up --replicas N --size SIZE [--name NAME] [QOS FLAGS] [--encrypt --key-file FILE | --encrypt --crypto-secret FILE]
                                               start an engine and N replicas on N simulated nodes;
                                               --encrypt: AES-256-XTS, the data key wrapped by the
                                               key-encryption key in FILE (32 bytes: raw, hex or base64),
                                               or by one from a crypto secret file (KEY=VALUE lines of
                                               Longhorn's crypto Secret: passphrase, or KMS key)
  restart [--key-file FILE | --crypto-secret FILE]   stop the engine and start it again (an encrypted
                                               volume's engine needs its key: FILE, or the last one)
  rotate-key --key-file OLD --new-key-file NEW   re-wrap the data key with a new key-encryption key
  rotate-key --crypto-secret FILE              the same from a crypto secret file (its
                                               CRYPTO_PREVIOUS_KEY_VALUE / KMS_PREVIOUS_KEY_ID open the old wrap)
  rotate-key --data-key [--key-file FILE | --crypto-secret FILE] [--bandwidth BYTES_PER_SEC] [-o json]
                                               re-encrypt the volume to a new data key, online, in the
                                               background (progress in "volume info"); while one runs,
                                               says so; the KEK: FILE, or the one the volume remembers
  up --from-backup BACKUP_URL [--credentials FILE] [--replicas N] [--name NAME] [--key-file FILE | --crypto-secret FILE]
                                  a new volume restored from a backup (of an encrypted volume: give its key-encryption key)
  down                                         stop everything started for DIR
  replicas [-o json]                           list replicas: address, mode (RW/WO/ERR), rebuild progress
  kill-replica --index I                       SIGKILL the process serving replica I
  add-replica [--background] [--bandwidth BYTES_PER_SEC]   add a fresh replica and rebuild it
  snapshot create [--name NAME] | list [-o json] | delete NAME | purge | revert NAME
  expand --size SIZE                           grow the volume online
  info [-o json]                               size, robustness, frontend, replicas, QoS limits, encryption
  qos [QOS FLAGS] [-o json]                    show the QoS limits, or change them online
  backup create --target URL [--credentials FILE] [--snapshot NAME] [--mode incremental|full]
         [--compression lz4|gzip|none] [--concurrency N]   back up a snapshot (a new one if none named);
                                               prints progress to stderr and the backup URL last
QOS FLAGS: ${QOS_USAGE}`;

/** `longhorn-local volume ...`; returns the exit code. */
export async function volumeCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      dir: { type: 'string' },
      replicas: { type: 'string', default: '3' },
      size: { type: 'string' },
      name: { type: 'string' },
      index: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
      background: { type: 'boolean', default: false },
      bandwidth: { type: 'string', default: '0' },
      ...QOS_FLAG_OPTIONS,
      encrypt: { type: 'boolean', default: false },
      'data-key': { type: 'boolean', default: false },
      'key-file': { type: 'string' },
      'new-key-file': { type: 'string' },
      'crypto-secret': { type: 'string' },
      target: { type: 'string' },
      credentials: { type: 'string' },
      snapshot: { type: 'string' },
      'from-backup': { type: 'string' },
      mode: { type: 'string' },
      compression: { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
  if (!sub || sub === 'help' || sub === '--help') {
    console.log(USAGE);
    return sub ? 0 : 2;
  }
  const dir = values.dir;
  if (!dir) throw new Error(`volume ${sub}: --dir DIR is required\n${USAGE}`);
  const json = values.output === 'json';
  switch (sub) {
    case 'up': {
      if (values['from-backup']) {
        const uri = await volumeUpFromBackup({
          dir,
          backupUrl: values['from-backup'],
          replicas: Number(values.replicas),
          ...(values.credentials ? { credentials: values.credentials } : {}),
          ...(values.name ? { name: values.name } : {}),
          ...(values['key-file'] !== undefined ? { keyFile: values['key-file'] } : {}),
          ...(values['crypto-secret'] !== undefined ? { cryptoSecret: values['crypto-secret'] } : {}),
          ...(values.concurrency ? { concurrency: positiveInt('--concurrency', values.concurrency) } : {}),
          onProgress: (p) => console.error(`restore ${p}%`),
        });
        console.log(uri);
        return 0;
      }
      if (!values.size) throw new Error('volume up: --size SIZE is required (e.g. 1GiB)');
      const keySources = [values['key-file'], values['crypto-secret']].filter((v) => v !== undefined).length;
      if (values.encrypt ? keySources !== 1 : keySources !== 0)
        throw new Error(
          'volume up: --encrypt and --key-file FILE go together (or --encrypt and --crypto-secret FILE)',
        );
      const encryption = !values.encrypt
        ? undefined
        : values['crypto-secret'] !== undefined
          ? await newCryptoSecretEncryption(values.name ?? DEFAULT_VOLUME_NAME, values['crypto-secret'])
          : await newVolumeEncryption(values['key-file']!);
      const uri = await volumeUp({
        dir,
        replicas: Number(values.replicas),
        size: parseVolumeSize(values.size),
        ...(values.name ? { volume: values.name } : {}),
        ...(hasQosFlags(values) ? { qos: applyQosFlags({}, values) } : {}),
        ...(encryption ? { encryption } : {}),
      });
      console.log(uri);
      return 0;
    }
    case 'down':
      await volumeDown(dir);
      return 0;
    case 'replicas': {
      const rows = await listReplicas(dir);
      if (json) console.log(JSON.stringify(rows, null, 2));
      else {
        for (const r of rows) {
          const rebuild = r.rebuild ? ` rebuilding ${r.rebuild.percent}%` : '';
          console.log(
            `${r.index}\t${r.id}\t${r.node}\t${r.address}\t${r.mode}${rebuild}${r.error ? `\t${r.error}` : ''}`,
          );
        }
      }
      return 0;
    }
    case 'kill-replica': {
      const index = Number(values.index);
      if (!Number.isInteger(index) || index < 0)
        throw new Error('volume kill-replica: --index I is required');
      const pid = await killReplica(dir, index);
      console.log(`killed replica ${index} (pid ${pid})`);
      return 0;
    }
    case 'add-replica': {
      const view = await addReplica(dir, {
        background: values.background,
        bandwidthLimit: Number(values.bandwidth),
      });
      if (json) console.log(JSON.stringify(view, null, 2));
      else console.log(view.replicas.map((r) => `${r.id}\t${r.address}\t${r.mode}`).join('\n'));
      return 0;
    }
    case 'snapshot':
      return snapshotCommand(dir, positionals, values.name, json);
    case 'expand': {
      if (!values.size) throw new Error('volume expand: --size SIZE is required');
      const state = await loadState(dir);
      const view = await withEngine(state, (e) => e.expand(parseVolumeSize(values.size!)));
      console.log(`expanded ${state.volume} to ${formatSize(view.size)}`);
      return 0;
    }
    case 'info': {
      const state = await loadState(dir);
      const [view, qos, io] = await withEngine(state, (e) => Promise.all([e.volume(), e.qos(), e.ioStats()]));
      // The previous data key leaves the record here once re-encryption is done and unused.
      await settleDataKeyRotation(dir, state, view.dataKeyRotation);
      // Where the KEK comes from: a key file, or a crypto secret file's passphrase or KMS key.
      const keySource = state.encryption?.cryptoSecret
        ? state.encryption.cryptoSecret.kek.provider === 'kms'
          ? `kms (key ${state.encryption.cryptoSecret.kek.wrapped.kmsKeyId})`
          : 'secret (passphrase)'
        : 'key file';
      const encryption = state.encryption
        ? {
            encrypted: true,
            cipher: state.encryption.cipher,
            keyId: state.encryption.keyId,
            keySource,
            ...(state.encryption.dataKeyId ? { dataKeyId: state.encryption.dataKeyId } : {}),
            ...(state.encryption.previous ? { previousDataKeyId: state.encryption.previous.dataKeyId } : {}),
          }
        : { encrypted: false };
      if (json) console.log(JSON.stringify({ ...view, qos, io, ...encryption }, null, 2));
      else {
        console.log(
          `volume ${view.name}: ${formatSize(view.size)}, ${view.robustness}, frontend ${view.frontend || '(down)'}`,
        );
        console.log(
          `  ${formatQos(qos.limits)}; throttled ${qos.throttledRequests} requests, ${qos.throttledMs} ms`,
        );
        console.log(
          `  ${state.encryption ? `encrypted (${state.encryption.cipher}, key ${state.encryption.keyId}, from ${keySource})` : 'not encrypted'}`,
        );
        console.log(
          `  I/O since the engine started: ${io.readOps} reads (${io.zeroCopyReads} sent without a copy), ${io.writeOps} writes`,
        );
        const rot = view.dataKeyRotation;
        if (rot && rot.state !== 'none') console.log(`  ${formatRotation(rot)}`);
        for (const r of view.replicas)
          console.log(`  ${r.id}\t${r.address}\t${r.mode}${r.error ? `\t${r.error}` : ''}`);
      }
      return 0;
    }
    case 'qos': {
      const state = await loadState(dir);
      const stats = hasQosFlags(values)
        ? await setVolumeQos(dir, applyQosFlags(state.qos ?? {}, values))
        : await withEngine(state, (e) => e.qos());
      if (json) console.log(JSON.stringify(stats, null, 2));
      else console.log(`${state.volume}: ${formatQos(stats.limits)}`);
      return 0;
    }
    case 'restart':
      console.log(await restartEngine(dir, values['crypto-secret'] ?? values['key-file']));
      return 0;
    case 'rotate-key': {
      if (values['data-key']) return dataKeyCommand(dir, values, json);
      if (values['crypto-secret'] !== undefined) {
        const enc = await rotateVolumeKeyFromSecret(dir, values['crypto-secret']);
        console.log(`data key re-wrapped: key ${enc.keyId}`);
        return 0;
      }
      if (!values['key-file'] || !values['new-key-file'])
        throw new Error('volume rotate-key: --key-file OLD and --new-key-file NEW are required');
      const enc = await rotateVolumeKey(dir, values['key-file'], values['new-key-file']);
      console.log(`data key re-wrapped: key ${enc.keyId}`);
      return 0;
    }
    case 'backup': {
      if (positionals[0] !== 'create') throw new Error('volume backup create --target URL ...');
      if (!values.target) throw new Error('volume backup create: --target URL is required');
      const mode = values.mode;
      if (mode !== undefined && mode !== 'incremental' && mode !== 'full')
        throw new Error(`--mode ${mode}: expected incremental or full`);
      const res = await backupLocalVolume({
        dir,
        target: values.target,
        ...(values.credentials ? { credentials: values.credentials } : {}),
        ...(values.snapshot ? { snapshot: values.snapshot } : {}),
        ...(mode ? { mode } : {}),
        ...(values.compression ? { compression: values.compression as 'lz4' } : {}),
        ...(values.concurrency ? { concurrency: positiveInt('--concurrency', values.concurrency) } : {}),
        onProgress: (p) => console.error(`backup ${p}%`),
      });
      const s = res.stats;
      console.error(
        `backup ${res.backup.Name} of snapshot ${res.backup.SnapshotName}: ${s.incremental ? 'incremental' : 'full'}, ` +
          `${s.blocksRead} blocks read, ${s.blocksUploaded + s.blocksReuploaded} uploaded (${formatSize(s.bytesUploaded)}), ` +
          `${s.blocksDeduplicated} deduplicated, ${s.blocksZero} zero, ${s.elapsedMs} ms`,
      );
      console.log(res.url);
      return 0;
    }
    default:
      throw new Error(`volume: unknown command ${JSON.stringify(sub)}\n${USAGE}`);
  }
}

/** `rotate-key --data-key`: starts re-encryption to a new data key, or says it runs. */
async function dataKeyCommand(
  dir: string,
  values: { 'key-file'?: string; 'crypto-secret'?: string; bandwidth?: string },
  json: boolean,
): Promise<number> {
  const bandwidth = Number(values.bandwidth ?? '0');
  if (!Number.isSafeInteger(bandwidth) || bandwidth < 0)
    throw new Error(`--bandwidth ${values.bandwidth}: expected bytes per second (0 for no limit)`);
  const res = await rotateDataKey(dir, {
    ...(values['key-file'] ? { keyFile: values['key-file'] } : {}),
    ...(values['crypto-secret'] ? { cryptoSecret: values['crypto-secret'] } : {}),
    bandwidthLimit: bandwidth,
  });
  if (json) console.log(JSON.stringify(res, null, 2));
  else if (res.started) console.log(`${formatRotation(res.status)}; progress: volume info`);
  else console.log(`already running: ${formatRotation(res.status)}`);
  return 0;
}

function formatRotation(r: RotationStatus): string {
  const bytes = `${r.percent}% (${formatSize(r.bytesDone)} of ${formatSize(r.bytesTotal)})`;
  switch (r.state) {
    case 'running':
      return `re-encrypting from data key ${r.from} to ${r.to}: ${bytes}`;
    case 'failed':
      return `re-encryption from data key ${r.from} to ${r.to} stopped at ${bytes}: ${r.error} (rotate-key --data-key again resumes it)`;
    case 'done':
      return `re-encrypted to data key ${r.to}${r.snapshotsUsingPrevious.length ? `; data key ${r.from} kept for snapshots ${r.snapshotsUsingPrevious.join(', ')}` : ''}`;
    default:
      return 'no data-key rotation';
  }
}

async function snapshotCommand(dir: string, positionals: string[], name: string | undefined, json: boolean) {
  const [action, arg] = positionals;
  const state = await loadState(dir);
  switch (action) {
    case 'create': {
      const snap = await withEngine(state, (e) => e.snapshotCreate(name ?? arg ?? ''));
      console.log(snap.name);
      return 0;
    }
    case 'list': {
      const list = await withEngine(state, (e) => e.snapshotList());
      if (json) console.log(JSON.stringify(list, null, 2));
      else {
        for (const s of list) {
          const flags = [
            s.head ? 'head' : '',
            s.removed ? 'removed' : '',
            s.userCreated ? 'user' : 'system',
          ].filter(Boolean);
          console.log(
            `${s.name}\tparent=${s.parent || '-'}\t${formatSize(s.allocatedBytes)}\t${flags.join(',')}`,
          );
        }
      }
      return 0;
    }
    case 'delete': {
      const target = arg ?? name;
      if (!target) throw new Error('volume snapshot delete NAME');
      await withEngine(state, (e) => e.snapshotDelete(target));
      return 0;
    }
    case 'purge': {
      const purged = await withEngine(state, (e) => e.snapshotPurge());
      console.log(purged.length ? `purged ${purged.join(', ')}` : 'nothing to purge');
      return 0;
    }
    case 'revert': {
      const target = arg ?? name;
      if (!target) throw new Error('volume snapshot revert NAME');
      const view = await revertVolume(dir, target);
      console.log(`reverted ${state.volume} to ${target}; serving ${view.frontend}`);
      return 0;
    }
    default:
      throw new Error('volume snapshot create|list|delete|purge|revert');
  }
}

function positiveInt(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} ${v}: expected a positive integer`);
  return n;
}
