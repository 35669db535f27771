import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort } from '../../src/cli/detached-process.js';
import { waitFor } from '../wait-for.js';

/**
 * A real MinIO server for the backup tests (the binary test/harness/build-binaries.sh builds):
 * own free port on 127.0.0.1, own temp data dir, one bucket. `stop()` kills it and removes the
 * data, also when start failed half-way.
 */
export class MinioServer {
  readonly user = 'longhorn-test';
  readonly password = 'longhorn-test-secret';
  readonly bucket = 'backups';
  endpoint = '';
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'lh-minio-'));
  private log = '';

  static binary(): string {
    return join(process.env.LONGHORN_TS_CACHE || join(homedir(), '.cache', 'longhorn-ts'), 'bin', 'minio');
  }

  async start(): Promise<void> {
    const port = await freePort('127.0.0.1');
    const console = await freePort('127.0.0.1');
    this.endpoint = `http://127.0.0.1:${port}`;
    this.proc = spawn(
      MinioServer.binary(),
      [
        'server',
        join(this.dir, 'data'),
        '--address',
        `127.0.0.1:${port}`,
        '--console-address',
        `127.0.0.1:${console}`,
        '--quiet',
      ],
      {
        env: {
          ...process.env,
          MINIO_ROOT_USER: this.user,
          MINIO_ROOT_PASSWORD: this.password,
          MINIO_BROWSER: 'off',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    let exited = false;
    this.proc.once('exit', () => {
      exited = true;
    });
    await waitFor(
      'MinIO to answer /minio/health/ready',
      async () => {
        if (exited) throw Object.assign(new Error(`minio exited: ${this.log}`), { fatal: true });
        const res = await fetch(`${this.endpoint}/minio/health/ready`);
        return res.ok;
      },
      { timeoutMs: 30_000, maxIntervalMs: 200, isFatal: (e) => (e as { fatal?: boolean }).fatal === true },
    );
    const s3 = this.client();
    try {
      await s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    } finally {
      s3.destroy();
    }
  }

  /** Longhorn's Secret keys for this server, as a credentials file holds them. */
  credentials(): Record<string, string> {
    return {
      AWS_ACCESS_KEY_ID: this.user,
      AWS_SECRET_ACCESS_KEY: this.password,
      AWS_ENDPOINTS: this.endpoint,
    };
  }

  credentialsFile(): string {
    return Object.entries(this.credentials())
      .map(([k, v]) => `${k}=${v}\n`)
      .join('');
  }

  client(): S3Client {
    return new S3Client({
      region: 'us-east-1',
      endpoint: this.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: this.user, secretAccessKey: this.password },
    });
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const gone = new Promise((r) => p.once('exit', r));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
