import { randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { BackupError } from './errors.js';
import { type BackupTarget, newRequestCounts } from './target.js';

/**
 * A directory as a backupstore (Longhorn's `vfs:///path`): tests, the local mode, and NFS once
 * it is mounted. Writes go to a temporary name, are fsynced, then renamed over the final name,
 * so a crash mid-write never leaves a partial block or cfg under its real name.
 */
export class FsTarget implements BackupTarget {
  readonly kind = 'vfs';
  readonly requests = newRequestCounts();

  constructor(
    readonly root: string,
    readonly url: string,
  ) {}

  private abs(path: string): string {
    if (path.split('/').includes('..')) {
      throw new BackupError('INVALID_ARGUMENT', `path ${JSON.stringify(path)} leaves the target`, { path });
    }
    return join(this.root, path);
  }

  async check(): Promise<void> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT')
        throw new BackupError(
          'NOT_FOUND',
          `backup target ${this.url}: directory ${this.root} does not exist`,
          {
            target: this.url,
          },
        );
      throw this.mapError(err, '');
    }
    if (!st.isDirectory())
      throw new BackupError('INVALID_ARGUMENT', `backup target ${this.url}: ${this.root} is not a directory`);
  }

  async get(path: string): Promise<Buffer> {
    this.requests.get++;
    try {
      return await readFile(this.abs(path));
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async put(path: string, data: Buffer): Promise<void> {
    this.requests.put++;
    const file = this.abs(path);
    const tmp = `${file}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(file), { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(data);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.mapError(err, path);
    }
  }

  async exists(path: string): Promise<boolean> {
    this.requests.head++;
    try {
      await stat(this.abs(path));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.mapError(err, path);
    }
  }

  async modified(path: string): Promise<Date> {
    this.requests.head++;
    try {
      return (await stat(this.abs(path))).mtime;
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async list(dir: string): Promise<string[]> {
    this.requests.list++;
    try {
      return (await readdir(this.abs(dir))).filter((n) => !n.includes('.tmp-'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.mapError(err, dir);
    }
  }

  async listAll(dir: string): Promise<string[]> {
    this.requests.list++;
    const base = this.abs(dir);
    try {
      const entries = await readdir(base, { recursive: true, withFileTypes: true });
      // Folders come back too; objects are what a LIST on S3 would show.
      return entries
        .filter((e) => e.isFile() && !e.name.includes('.tmp-'))
        .map((e) => relative(base, join(e.parentPath ?? (e as { path?: string }).path ?? base, e.name)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.mapError(err, dir);
    }
  }

  async copy(from: string, to: string): Promise<void> {
    this.requests.copy++;
    const dst = this.abs(to);
    const tmp = `${dst}.tmp-${randomBytes(6).toString('hex')}`;
    try {
      await mkdir(dirname(dst), { recursive: true });
      try {
        await link(this.abs(from), tmp);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw err;
        await copyFile(this.abs(from), tmp);
      }
      await rename(tmp, dst);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      throw this.mapError(err, to);
    }
  }

  async remove(path: string): Promise<void> {
    this.requests.delete++;
    try {
      await rm(this.abs(path), { force: true });
    } catch (err) {
      throw this.mapError(err, path);
    }
  }

  async close(): Promise<void> {}

  private mapError(err: unknown, path: string): BackupError {
    const code = (err as NodeJS.ErrnoException).code;
    const where = `${this.url}${path ? ` ${path}` : ''}`;
    if (code === 'ENOENT')
      return new BackupError('NOT_FOUND', `${where}: no such file`, { target: this.url, path }, err);
    if (code === 'EACCES' || code === 'EPERM')
      return new BackupError('ACCESS_DENIED', `${where}: permission denied`, { target: this.url, path }, err);
    return new BackupError('EIO', `${where}: ${(err as Error).message}`, { target: this.url, path }, err);
  }
}
