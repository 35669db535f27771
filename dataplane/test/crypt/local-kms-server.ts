import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import { freePort } from '../../src/cli/detached-process.js';
import { waitFor } from '../wait-for.js';

/**
 * A real AWS KMS API server for the key tests: local-kms (github.com/nsmithuk/local-kms, built
 * by test/harness/build-binaries.sh) on its own free port of 127.0.0.1 with its own temp data
 * dir. `stop()` kills it and removes the data, also when start failed half-way.
 */
export class LocalKms {
  readonly region = 'eu-west-2';
  readonly credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  endpoint = '';
  private proc: ChildProcess | null = null;
  private readonly dir = mkdtempSync(join(tmpdir(), 'lh-kms-'));
  private log = '';

  static binary(): string {
    return join(
      process.env.LONGHORN_TS_CACHE || join(homedir(), '.cache', 'longhorn-ts'),
      'bin',
      'local-kms',
    );
  }

  async start(): Promise<void> {
    const port = await freePort('127.0.0.1');
    this.endpoint = `http://127.0.0.1:${port}`;
    this.proc = spawn(LocalKms.binary(), [], {
      env: {
        ...process.env,
        PORT: String(port),
        KMS_REGION: this.region,
        KMS_ACCOUNT_ID: '111122223333',
        KMS_DATA_PATH: join(this.dir, 'data'),
        KMS_SEED_PATH: join(this.dir, 'no-seed.yaml'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      this.log = (this.log + d.toString()).slice(-4000);
    };
    this.proc.stdout!.on('data', keep);
    this.proc.stderr!.on('data', keep);
    let exited = false;
    this.proc.once('exit', () => {
      exited = true;
    });
    const client = this.client();
    try {
      await waitFor(
        'local-kms to answer ListKeys',
        async () => {
          if (exited) throw Object.assign(new Error(`local-kms exited: ${this.log}`), { fatal: true });
          await client.send(new ListKeysCommand({}));
          return true;
        },
        { timeoutMs: 30_000, maxIntervalMs: 200, isFatal: (e) => (e as { fatal?: boolean }).fatal === true },
      );
    } finally {
      client.destroy();
    }
  }

  client(): KMSClient {
    return new KMSClient({
      region: this.region,
      endpoint: this.endpoint,
      credentials: this.credentials,
      maxAttempts: 1,
    });
  }

  /** A new symmetric key; its id. */
  async createKey(description: string): Promise<string> {
    const client = this.client();
    try {
      const out = await client.send(new CreateKeyCommand({ Description: description }));
      return out.KeyMetadata!.KeyId!;
    } finally {
      client.destroy();
    }
  }

  /** The crypto Secret fields (our KMS extension) for `keyId` on this server. */
  secretFields(keyId: string): Record<string, string> {
    return {
      CRYPTO_KEY_PROVIDER: 'kms',
      KMS_KEY_ID: keyId,
      KMS_ENDPOINT: this.endpoint,
      KMS_REGION: this.region,
      AWS_ACCESS_KEY_ID: this.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: this.credentials.secretAccessKey,
    };
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = null;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
