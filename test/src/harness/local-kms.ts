import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NAMESPACE } from '@longhorn-ts/api';
import { binaryPath, hasBinary } from './binaries.js';
import { ManagedProcess } from './managed-process.js';
import { freePort } from './ports.js';
import { waitFor } from './wait.js';

/**
 * A real AWS KMS API server for e2e suites (local-kms, github.com/nsmithuk/local-kms, built by
 * test/harness/build-binaries.sh): its own free port on 127.0.0.1, its own data dir, and
 * `keyCount` symmetric keys seeded at start (random ids and key material), in its own process
 * group. `secretYaml()` gives a crypto Secret (CRYPTO_KEY_PROVIDER=kms) pointing at it.
 */
export class LocalKmsServer {
  readonly region = 'eu-west-2';
  endpoint = '';
  readonly keyIds: string[] = [];
  private proc: ManagedProcess | undefined;
  private dir = '';

  static available(): boolean {
    return hasBinary('local-kms');
  }

  static async start(keyCount = 2, parent = tmpdir()): Promise<LocalKmsServer> {
    const k = new LocalKmsServer();
    try {
      await k.run(keyCount, parent);
    } catch (err) {
      await k.stop();
      throw err;
    }
    return k;
  }

  private async run(keyCount: number, parent: string): Promise<void> {
    this.dir = await mkdtemp(join(parent, 'lh-kms-'));
    for (let i = 0; i < keyCount; i++) this.keyIds.push(randomUUID());
    const seed = join(this.dir, 'seed.yaml');
    await writeFile(
      seed,
      `Keys:\n  Symmetric:\n    Aes:\n${this.keyIds
        .map(
          (id) =>
            `      - Metadata:\n          KeyId: ${id}\n        BackingKeys:\n          - ${randomBytes(32).toString('hex')}\n`,
        )
        .join('')}`,
    );
    const port = await freePort();
    this.endpoint = `http://127.0.0.1:${port}`;
    this.proc = ManagedProcess.start({
      name: 'local-kms',
      command: binaryPath('local-kms'),
      args: [],
      env: {
        ...process.env,
        PORT: String(port),
        KMS_REGION: this.region,
        KMS_ACCOUNT_ID: '111122223333',
        KMS_DATA_PATH: join(this.dir, 'data'),
        KMS_SEED_PATH: seed,
      },
      logFile: join(this.dir, 'local-kms.log'),
    });
    const proc = this.proc;
    await waitFor(
      'local-kms to answer HTTP',
      async () => {
        if (!proc.running) throw new Error(`local-kms exited; see ${proc.logFile}`);
        return (await fetch(this.endpoint, { method: 'POST' }).catch(() => undefined)) !== undefined;
      },
      { timeoutMs: 60_000, maxIntervalMs: 250 },
    );
  }

  /** A crypto Secret in longhorn-system for key `keyId` of this server (longhorn-ts's KMS fields). */
  secretYaml(name: string, keyId: string, extra: Record<string, string> = {}): string {
    const data: Record<string, string> = {
      CRYPTO_KEY_PROVIDER: 'kms',
      KMS_KEY_ID: keyId,
      KMS_ENDPOINT: this.endpoint,
      KMS_REGION: this.region,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      ...extra,
    };
    return `apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${NAMESPACE}}
stringData:
${Object.entries(data)
  .map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`)
  .join('\n')}
`;
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
    this.proc = undefined;
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
