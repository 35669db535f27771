import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { NAMESPACE } from '@longhorn-ts/api';
import { binaryPath } from './binaries.js';
import { ManagedProcess } from './managed-process.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/**
 * A real MinIO server for e2e suites that need an S3 backup target (the binary
 * test/harness/build-binaries.sh builds): its own free port on 127.0.0.1, its own data dir, one
 * bucket, its own process group (stopped with the suite, also when the test process dies).
 * `secretYaml()` and `backupTargetYaml()` give the Longhorn objects that point a cluster at it.
 */
export class MinioServer {
  readonly user = 'longhorn-e2e';
  readonly password = 'longhorn-e2e-secret';
  readonly bucket = 'backups';
  endpoint = '';
  private proc: ManagedProcess | undefined;
  private dir = '';

  /** Starts MinIO under `parent` (default the temp dir) and creates the bucket. */
  static async start(parent = tmpdir()): Promise<MinioServer> {
    const m = new MinioServer();
    try {
      await m.run(parent);
    } catch (err) {
      await m.stop();
      throw err;
    }
    return m;
  }

  private async run(parent: string): Promise<void> {
    this.dir = await mkdtemp(join(parent, 'lh-minio-'));
    const port = await freePort();
    const consolePort = await freePort();
    this.endpoint = `http://127.0.0.1:${port}`;
    this.proc = ManagedProcess.start({
      name: 'minio',
      command: binaryPath('minio'),
      args: [
        'server',
        join(this.dir, 'data'),
        '--address',
        `127.0.0.1:${port}`,
        '--console-address',
        `127.0.0.1:${consolePort}`,
        '--quiet',
      ],
      env: {
        ...process.env,
        MINIO_ROOT_USER: this.user,
        MINIO_ROOT_PASSWORD: this.password,
        MINIO_BROWSER: 'off',
      },
      logFile: join(this.dir, 'minio.log'),
    });
    const proc = this.proc;
    await waitFor(
      'MinIO to answer /minio/health/ready',
      async () => {
        if (!proc.running) throw new Error(`minio exited; see ${proc.logFile}`);
        return (await fetch(`${this.endpoint}/minio/health/ready`).catch(() => undefined))?.ok === true;
      },
      { timeoutMs: 60_000, maxIntervalMs: 250 },
    );
    const s3 = new S3Client({
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: this.user, secretAccessKey: this.password },
    });
    try {
      await s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } finally {
      s3.destroy();
    }
  }

  /** The backup target URL of a path in the bucket, Longhorn's form (`s3://bucket@region/path`). */
  targetUrl(path = 'store'): string {
    return `s3://${this.bucket}@us-east-1/${path}`;
  }

  /** Longhorn's credential keys for this server. */
  credentials(): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: this.user,
      AWS_SECRET_ACCESS_KEY: this.password,
      AWS_ENDPOINTS: this.endpoint,
    };
  }

  /** A Secret in longhorn-system holding `credentials()` (plus `extra`, e.g. CRYPTO_KEY_VALUE). */
  secretYaml(name: string, extra: Record<string, string> = {}): string {
    const data = { ...this.credentials(), ...extra };
    return [
      'apiVersion: v1',
      'kind: Secret',
      'metadata:',
      `  name: ${name}`,
      `  namespace: ${NAMESPACE}`,
      'type: Opaque',
      'stringData:',
      ...Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
      '',
    ].join('\n');
  }

  /** A BackupTarget CR pointing at `path` in the bucket with the Secret `secret`. */
  backupTargetYaml(
    name: string,
    secret: string,
    opts: { path?: string; pollInterval?: string } = {},
  ): string {
    return [
      'apiVersion: longhorn.io/v1beta2',
      'kind: BackupTarget',
      'metadata:',
      `  name: ${name}`,
      `  namespace: ${NAMESPACE}`,
      'spec:',
      `  backupTargetURL: ${JSON.stringify(this.targetUrl(opts.path))}`,
      `  credentialSecret: ${secret}`,
      `  pollInterval: ${JSON.stringify(opts.pollInterval ?? '5m0s')}`,
      '',
    ].join('\n');
  }

  async stop(): Promise<void> {
    await this.proc?.stop(5_000);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
