import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ReplicaRow } from '../../src/cli/local-volume.js';
import type { SnapshotView } from '../../src/engine/engine-client.js';
import { parseReplicaAddress } from '../../src/net/replica-address.js';
import { ReplicaClient } from '../../src/protocol/index.js';
import { waitFor } from '../wait-for.js';

const run = promisify(execFile);
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(REPO, 'bin', 'longhorn-local.js');

/** Runs the real `longhorn-local` tool (compiled; `npm run build` first) and returns stdout. */
export async function longhornLocal(...args: string[]): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [BIN, ...args], { cwd: REPO, maxBuffer: 64 << 20 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`longhorn-local ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** The rows of `volume replicas -o json`, as the CLI prints them. */
export type { ReplicaRow } from '../../src/cli/local-volume.js';

/** A volume brought up through the CLI in its own temp dir; `down()` always cleans up. */
export class LocalVolume {
  readonly dir = mkdtempSync(join(tmpdir(), 'lh-vol-'));
  uri = '';

  /** `volume up` with `extra` flags (e.g. `--encrypt --key-file F`); the volume's NBD URI. */
  async up(replicas: number, size: string, ...extra: string[]): Promise<string> {
    const out = await longhornLocal(
      'volume',
      'up',
      '--dir',
      this.dir,
      '--replicas',
      String(replicas),
      '--size',
      size,
      ...extra,
    );
    this.uri = out.trim().split('\n').at(-1)!;
    return this.uri;
  }

  cli(...args: string[]): Promise<string> {
    return longhornLocal('volume', args[0]!, '--dir', this.dir, ...args.slice(1));
  }

  async replicas(): Promise<ReplicaRow[]> {
    return JSON.parse(await this.cli('replicas', '-o', 'json')) as ReplicaRow[];
  }

  /** The shared waitFor (../wait-for.ts) with the CLI's pace: a probe costs a process start. */
  async waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
    await waitFor(what, check, { timeoutMs, intervalMs: 100, maxIntervalMs: 500 });
  }

  /**
   * Bytes allocated in the volume's head layer (as one RW replica reports it): grows while a
   * client writes to fresh blocks, so tests can wait for I/O to have happened.
   */
  async headAllocated(): Promise<number> {
    const chain = JSON.parse(await this.cli('snapshot', 'list', '-o', 'json')) as SnapshotView[];
    return chain.find((l) => l.head)?.allocatedBytes ?? 0;
  }

  /** SHA-256 of a replica's merged view, read straight from its replica server. */
  async replicaHash(row: ReplicaRow, size: number): Promise<string> {
    const client = await ReplicaClient.connect(parseReplicaAddress(row.address), row.id, { connections: 1 });
    try {
      const hash = createHash('sha256');
      const chunk = 4 << 20;
      for (let off = 0; off < size; off += chunk)
        hash.update(await client.read(off, Math.min(chunk, size - off)));
      return hash.digest('hex');
    } finally {
      await client.close();
    }
  }

  async down(): Promise<void> {
    try {
      await longhornLocal('volume', 'down', '--dir', this.dir);
    } finally {
      // LH_KEEP_TEST_DIRS=1 keeps the directory (logs under node-*/logs) for a post-mortem.
      if (!process.env.LH_KEEP_TEST_DIRS) rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** Runs a command to completion; resolves with its output, rejects with it on a non-zero exit. */
export function sh(
  cmd: string,
  args: string[],
  opts: { input?: Buffer } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0
        ? resolve({ stdout, stderr })
        : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}${stdout}`)),
    );
    child.stdin.end(opts.input);
  });
}

export function sha256File(buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex');
}
