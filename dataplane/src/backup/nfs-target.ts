import { BackupError } from './errors.js';
import {
  decodeNfsNames,
  decodeNfsStat,
  NFS_EACCES,
  NFS_ENOENT,
  NFS_EPERM,
  type NfsOp,
  type NfsResponse,
} from './nfs-frames.js';
import { NfsSession, nfsHelperPath } from './nfs-session.js';
import { parseNfsUrl } from './nfs-url.js';
import { type BackupTarget, newRequestCounts } from './target.js';

/** lh-nfs processes (NFS sessions) a target runs at most: the calls it makes at once. */
const DEFAULT_SESSIONS = 4;

/**
 * An NFS export as a backupstore (Longhorn's `nfs://server:/path`), through libnfs in user space
 * (native/lh-nfs.c): no kernel NFS client and no mount, so it works in an unprivileged
 * container and on hosts without the nfs module. Same layout and guarantees as a directory
 * target: writes go to a temporary name, are fsynced and renamed over the real name; a copy is a
 * hard link. Calls run on up to `sessions` helper processes at once, started as needed.
 */
export class NfsTarget implements BackupTarget {
  readonly kind = 'nfs';
  readonly requests = newRequestCounts();
  private readonly libnfsUrl: string;
  private readonly idle: NfsSession[] = [];
  private readonly queue: Array<{ resolve: (s: NfsSession) => void; reject: (e: Error) => void }> = [];
  private readonly all = new Set<NfsSession>();
  private starting = 0;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly opts: { sessions?: number; helper?: string } = {},
  ) {
    this.libnfsUrl = parseNfsUrl(url).libnfsUrl;
  }

  async check(): Promise<void> {
    const st = decodeNfsStat(await this.run('s', ''));
    if (!st.isDir) throw new BackupError('INVALID_ARGUMENT', `backup target ${this.url}: not a directory`);
  }

  async get(path: string): Promise<Buffer> {
    this.requests.get++;
    return this.run('g', this.checked(path));
  }

  async put(path: string, data: Buffer): Promise<void> {
    this.requests.put++;
    await this.run('p', this.checked(path), '', data);
  }

  async exists(path: string): Promise<boolean> {
    this.requests.head++;
    try {
      await this.run('s', this.checked(path));
      return true;
    } catch (err) {
      if (err instanceof BackupError && err.code === 'NOT_FOUND') return false;
      throw err;
    }
  }

  async modified(path: string): Promise<Date> {
    this.requests.head++;
    return decodeNfsStat(await this.run('s', this.checked(path))).mtime;
  }

  async list(dir: string): Promise<string[]> {
    this.requests.list++;
    return this.names('l', dir);
  }

  async listAll(dir: string): Promise<string[]> {
    this.requests.list++;
    return this.names('a', dir);
  }

  async copy(from: string, to: string): Promise<void> {
    this.requests.copy++;
    await this.run('c', this.checked(from), this.checked(to));
  }

  async remove(path: string): Promise<void> {
    this.requests.delete++;
    await this.run('r', this.checked(path));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.all].map((s) => s.close()));
    this.all.clear();
    this.idle.length = 0;
  }

  private async names(op: 'l' | 'a', dir: string): Promise<string[]> {
    try {
      return decodeNfsNames(await this.run(op, this.checked(dir)));
    } catch (err) {
      if (err instanceof BackupError && err.code === 'NOT_FOUND') return [];
      throw err;
    }
  }

  private checked(path: string): string {
    if (path.split('/').includes('..'))
      throw new BackupError('INVALID_ARGUMENT', `path ${JSON.stringify(path)} leaves the target`, { path });
    return path;
  }

  /** One call on a free session; an error status becomes a BackupError naming the path. */
  private async run(op: NfsOp, a: string, b = '', data?: Buffer): Promise<Buffer> {
    const session = await this.acquire();
    let r: NfsResponse;
    try {
      r = await session.call(op, a, b, data);
    } catch (err) {
      this.all.delete(session);
      this.wake();
      throw new BackupError('UNREACHABLE', `backup target ${this.url}: ${(err as Error).message}`, {
        target: this.url,
      });
    }
    this.release(session);
    if (r.status === 0) return r.payload;
    throw this.mapError(r, op === 'c' ? b : a);
  }

  private acquire(): Promise<NfsSession> {
    if (this.closed)
      return Promise.reject(new BackupError('UNREACHABLE', `backup target ${this.url} is closed`));
    const s = this.idle.pop();
    if (s) return Promise.resolve(s);
    const p = new Promise<NfsSession>((resolve, reject) => this.queue.push({ resolve, reject }));
    this.wake();
    return p;
  }

  private release(s: NfsSession): void {
    if (!s.alive) {
      this.all.delete(s);
      this.wake();
      return;
    }
    const next = this.queue.shift();
    if (next) next.resolve(s);
    else this.idle.push(s);
  }

  /** Starts a session when callers wait and the limit allows; a failed start fails one waiter. */
  private wake(): void {
    const limit = this.opts.sessions ?? DEFAULT_SESSIONS;
    if (this.queue.length === 0 || this.all.size + this.starting >= limit) return;
    this.starting++;
    NfsSession.open(this.libnfsUrl, this.opts.helper ?? nfsHelperPath()).then(
      (opened) => {
        this.starting--;
        if ('session' in opened) {
          this.all.add(opened.session);
          this.release(opened.session);
          this.wake();
          return;
        }
        this.failWaiter(this.mapError(opened, '', 'mount'));
      },
      (err: Error) => {
        this.starting--;
        this.failWaiter(
          new BackupError('UNREACHABLE', `backup target ${this.url}: ${err.message}`, { target: this.url }),
        );
      },
    );
  }

  private failWaiter(err: BackupError): void {
    this.queue.shift()?.reject(err);
  }

  private mapError(r: NfsResponse, path: string, what = ''): BackupError {
    const message = r.payload.toString('utf8') || `errno ${-r.status}`;
    const where = `backup target ${this.url}${what ? ` ${what}` : ''}`;
    const details = { target: this.url, path };
    if (r.status === NFS_ENOENT || (what === 'mount' && /NOENT|no such/i.test(message)))
      return new BackupError('NOT_FOUND', `${where}: ${message}`, details);
    if (
      r.status === NFS_EACCES ||
      r.status === NFS_EPERM ||
      (what === 'mount' && /ACCES|permission/i.test(message))
    )
      return new BackupError('ACCESS_DENIED', `${where}: permission denied (${message})`, details);
    return new BackupError(what === 'mount' ? 'UNREACHABLE' : 'EIO', `${where}: ${message}`, details);
  }
}
