import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LONGHORN_API_VERSION, NAMESPACE } from '@longhorn-ts/api';
import { binaryPath, hasBinary } from './binaries.js';
import { probeOk } from './http-probe.js';
import type { Kubectl } from './kubectl.js';
import { ManagedProcess } from './managed-process.js';
import { waitForReady } from './readiness.js';

/**
 * The local cluster's backup store: a MinIO server (data under DIR/minio, stopped with the
 * cluster) with the bucket `backupbucket`, the Secret `minio-secret` in longhorn-system with
 * Longhorn's keys, and the Settings backup-target / backup-target-credential-secret pointing at
 * it (s3://backupbucket@us-east-1/), so a cluster can back up right after `cluster up`.
 */

export const LOCAL_BACKUP_BUCKET = 'backupbucket';
export const LOCAL_BACKUP_SECRET = 'minio-secret';
export const LOCAL_BACKUP_TARGET_URL = `s3://${LOCAL_BACKUP_BUCKET}@us-east-1/`;
const USER = 'longhorn-local';
const PASSWORD = 'longhorn-local-secret';

export interface LocalBackupstoreOptions {
  dir: string;
  logDir: string;
  port: number;
  consolePort: number;
  outliveParent?: boolean;
  timeoutMs?: number;
  onSpawn?: (proc: ManagedProcess) => unknown;
}

export interface LocalBackupstore {
  process: ManagedProcess;
  endpoint: string;
  /** Longhorn's Secret keys for this server. */
  credentials: Record<string, string>;
}

/** Where the store of a cluster whose MinIO listens on `port` answers, and its keys. */
export function localBackupstoreInfo(port: number): Omit<LocalBackupstore, 'process'> & {
  bucket: string;
  secret: string;
  targetUrl: string;
} {
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    credentials: { AWS_ACCESS_KEY_ID: USER, AWS_SECRET_ACCESS_KEY: PASSWORD, AWS_ENDPOINTS: endpoint },
    bucket: LOCAL_BACKUP_BUCKET,
    secret: LOCAL_BACKUP_SECRET,
    targetUrl: LOCAL_BACKUP_TARGET_URL,
  };
}

/** True when the MinIO binary is built (test/harness/build-binaries.sh). */
export function localBackupstoreAvailable(): boolean {
  return hasBinary('minio');
}

/** Starts MinIO, waits until it is ready and makes the bucket. */
export async function startLocalBackupstore(options: LocalBackupstoreOptions): Promise<LocalBackupstore> {
  const endpoint = `http://127.0.0.1:${options.port}`;
  const dataDir = join(options.dir, 'minio');
  await mkdir(dataDir, { recursive: true });
  const proc = ManagedProcess.start({
    name: 'minio',
    command: binaryPath('minio'),
    args: [
      'server',
      dataDir,
      '--address',
      `127.0.0.1:${options.port}`,
      '--console-address',
      `127.0.0.1:${options.consolePort}`,
      '--quiet',
    ],
    env: {
      ...process.env,
      MINIO_ROOT_USER: USER,
      MINIO_ROOT_PASSWORD: PASSWORD,
      MINIO_BROWSER: 'off',
      // No phoning home from a test machine.
      MINIO_UPDATE: 'off',
    },
    logFile: join(options.logDir, 'minio.log'),
    outliveParent: options.outliveParent ?? false,
  });
  await options.onSpawn?.(proc);
  await waitForReady('minio', proc, () => probeOk(`${endpoint}/minio/health/ready`), options.timeoutMs);
  const { credentials } = localBackupstoreInfo(options.port);
  await createBucket(endpoint, credentials);
  return { process: proc, endpoint, credentials };
}

async function createBucket(endpoint: string, creds: Record<string, string>): Promise<void> {
  // Loaded here: the S3 SDK is only needed when a backup store is started.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: creds.AWS_ACCESS_KEY_ID!, secretAccessKey: creds.AWS_SECRET_ACCESS_KEY! },
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: LOCAL_BACKUP_BUCKET }));
  } catch (err) {
    const name = (err as { name?: string }).name;
    // A cluster started again on the same directory finds its bucket.
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
  } finally {
    s3.destroy();
  }
}

/**
 * The Secret and the Settings that make the store the default backup target. Applied before the
 * operators start, so they keep these values (they only add missing Settings).
 */
export async function configureLocalBackupTarget(kubectl: Kubectl, store: LocalBackupstore): Promise<void> {
  await kubectl.apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: LOCAL_BACKUP_SECRET, namespace: NAMESPACE },
      type: 'Opaque',
      stringData: store.credentials,
    },
    setting('backup-target', LOCAL_BACKUP_TARGET_URL),
    setting('backup-target-credential-secret', LOCAL_BACKUP_SECRET),
  ]);
}

function setting(name: string, value: string): object {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Setting',
    metadata: { name, namespace: NAMESPACE },
    value,
  };
}
