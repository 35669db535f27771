import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { BackupError } from './errors.js';
import { LOCK_SUFFIX, lockPath, locksDir } from './layout.js';
import type { BackupTarget } from './target.js';

/**
 * Longhorn's backupstore lock, so that our tools and Longhorn's can share a store. Backups and
 * restores take type 1 (they coexist), deletions type 2; two operations of different types
 * exclude each other. A lock is a file `locks/lock-<16 hex>.lck` holding {Name, Type, Acquired}.
 * Acquiring: write it unacquired, wait 2 s (clocks and the store's one-second file times), list
 * every lock of the volume; a lock of the other type that is ahead of ours (acquired first, then
 * older, then by name) and not expired (150 s since its file time) refuses ours: ours is removed
 * and BUSY thrown (no waiting: the caller retries). Otherwise rewrite it acquired and refresh it
 * every 60 s until released.
 */
export const LOCK_BACKUP = 1;
export const LOCK_RESTORE = 1;
export const LOCK_DELETE = 2;
export type LockType = typeof LOCK_BACKUP | typeof LOCK_DELETE;

export interface LockTiming {
  settleMs: number;
  refreshMs: number;
  expiryMs: number;
}

export const LONGHORN_LOCK_TIMING: LockTiming = { settleMs: 2000, refreshMs: 60_000, expiryMs: 150_000 };

interface LockFile {
  Name: string;
  Type: number;
  Acquired: boolean;
}

interface SeenLock extends LockFile {
  time: number;
}

/** Orders locks as Longhorn does: acquired ones first, then the older file, then the name. */
export function compareLocks(a: SeenLock, b: SeenLock): number {
  if (a.Acquired !== b.Acquired) return a.Acquired ? -1 : 1;
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  return a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0;
}

/** The lock that keeps `mine` out, if any (pure: the tests table it). */
export function blockingLock(mine: SeenLock, others: readonly SeenLock[], now: number, expiryMs: number) {
  return others.find(
    (o) =>
      o.Name !== mine.Name && o.Type !== mine.Type && compareLocks(o, mine) < 0 && now - o.time <= expiryMs,
  );
}

export class BackupLock {
  private timer: NodeJS.Timeout | null = null;
  private released = false;

  private constructor(
    private readonly target: BackupTarget,
    readonly volume: string,
    readonly name: string,
    readonly type: LockType,
  ) {}

  static async acquire(
    target: BackupTarget,
    volume: string,
    type: LockType,
    timing: LockTiming = LONGHORN_LOCK_TIMING,
  ): Promise<BackupLock> {
    const name = `lock-${randomBytes(8).toString('hex')}`;
    const lock = new BackupLock(target, volume, name, type);
    const path = lockPath(volume, name);
    await lock.save(false);
    try {
      await delay(timing.settleMs);
      const mine: SeenLock = {
        Name: name,
        Type: type,
        Acquired: false,
        time: (await target.modified(path)).getTime(),
      };
      const others = await readLocks(target, volume);
      const blocker = blockingLock(mine, others, Date.now(), timing.expiryMs);
      if (blocker) {
        const what = type === LOCK_DELETE ? 'delete' : 'create/restore';
        throw new BackupError(
          'BUSY',
          `backup volume ${volume} is locked by ${blocker.Name} (${blocker.Type === LOCK_DELETE ? 'a deletion' : 'a backup or restore'}): cannot ${what} now, try again later`,
          { volume, target: target.url },
        );
      }
      await lock.save(true);
    } catch (err) {
      await target.remove(path).catch(() => {});
      throw err;
    }
    lock.timer = setInterval(() => {
      lock.save(true).catch(() => {
        // Nothing to do but try again at the next tick: the lock expires only after 2.5 refreshes.
      });
    }, timing.refreshMs);
    lock.timer.unref();
    return lock;
  }

  private save(acquired: boolean): Promise<void> {
    const body: LockFile = { Name: this.name, Type: this.type, Acquired: acquired };
    return this.target.put(lockPath(this.volume, this.name), Buffer.from(JSON.stringify(body)));
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.target.remove(lockPath(this.volume, this.name));
  }
}

async function readLocks(target: BackupTarget, volume: string): Promise<SeenLock[]> {
  const names = (await target.list(locksDir(volume))).filter((n) => n.endsWith(LOCK_SUFFIX));
  const out: SeenLock[] = [];
  await Promise.all(
    names.map(async (file) => {
      const path = `${locksDir(volume)}/${file}`;
      try {
        const [data, time] = await Promise.all([target.get(path), target.modified(path)]);
        const raw = JSON.parse(data.toString()) as Partial<LockFile>;
        if (typeof raw.Name !== 'string' || typeof raw.Type !== 'number') return;
        out.push({ Name: raw.Name, Type: raw.Type, Acquired: raw.Acquired === true, time: time.getTime() });
      } catch {
        // A lock released while we listed, or unreadable: Longhorn skips those too.
      }
    }),
  );
  return out;
}
