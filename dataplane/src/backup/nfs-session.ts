import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { encodeNfsRequest, type NfsOp, type NfsResponse, NfsResponseParser } from './nfs-frames.js';

/**
 * Where lh-nfs (dataplane/native, built by scripts/setup.sh) is: `LH_NFS` when set, else the
 * binary cache (`$LONGHORN_TS_CACHE/bin`) when it is there, else `lh-nfs` on PATH.
 */
export function nfsHelperPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LH_NFS) return env.LH_NFS;
  const cached = join(env.LONGHORN_TS_CACHE || join(homedir(), '.cache', 'longhorn-ts'), 'bin', 'lh-nfs');
  try {
    accessSync(cached, constants.X_OK);
    return cached;
  } catch {
    return 'lh-nfs';
  }
}

/** The helper could not run or its session broke: the call's outcome is unknown. */
export class NfsSessionError extends Error {}

/**
 * One lh-nfs process: one NFS mount, one call at a time (the target queues callers). The first
 * frame answers the mount; a process that exits fails the call in flight and every later one.
 */
export class NfsSession {
  private readonly child: ChildProcess;
  private readonly parser = new NfsResponseParser();
  private waiting: { resolve: (r: NfsResponse) => void; reject: (e: Error) => void } | undefined;
  private broken: Error | undefined;
  private stderr = '';

  private constructor(libnfsUrl: string, helper: string) {
    this.child = spawn(helper, [libnfsUrl], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      for (const r of this.parser.push(chunk)) {
        const w = this.waiting;
        this.waiting = undefined;
        w?.resolve(r);
      }
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    this.child.stdin!.on('error', () => {});
    const fail = (err: Error): void => {
      this.broken ??= err;
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(this.broken);
    };
    this.child.once('error', (err) =>
      fail(
        new NfsSessionError(
          `cannot run ${helper} (${err.message}): build it with scripts/setup.sh or set LH_NFS`,
        ),
      ),
    );
    this.child.once('exit', (code, signal) =>
      fail(
        new NfsSessionError(
          `lh-nfs exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ''}`,
        ),
      ),
    );
  }

  /** Starts a helper and waits for its mount's answer (status 0, or -errno and a message). */
  static async open(
    libnfsUrl: string,
    helper = nfsHelperPath(),
  ): Promise<{ session: NfsSession } | NfsResponse> {
    const s = new NfsSession(libnfsUrl, helper);
    const mounted = await s.next();
    if (mounted.status !== 0) {
      s.kill();
      return mounted;
    }
    return { session: s };
  }

  get alive(): boolean {
    return this.broken === undefined;
  }

  call(op: NfsOp, a = '', b = '', data?: Buffer): Promise<NfsResponse> {
    if (this.waiting) throw new Error('lh-nfs session: one call at a time');
    const answer = this.next();
    this.child.stdin!.write(encodeNfsRequest(op, a, b, data));
    return answer;
  }

  private next(): Promise<NfsResponse> {
    if (this.broken) return Promise.reject(this.broken);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async close(): Promise<void> {
    if (!this.alive) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.stdin!.end(encodeNfsRequest('q'));
    const timer = setTimeout(() => this.kill(), 2000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}
