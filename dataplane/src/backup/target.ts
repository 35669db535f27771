/**
 * One backupstore target (a directory, an S3 bucket path, an NFS export through libnfs). Paths are relative to the target's root and
 * use '/'. Everything above this interface (layout, locks, backup, restore, GC) is the same for
 * every kind; a target knows its storage's calls and how its errors map to BackupError codes.
 */
export interface BackupTarget {
  /** 'vfs' (a directory), 's3' or 'nfs'. */
  readonly kind: string;
  /** The target's URL as the user gave it, without credentials (backup URLs are built on it). */
  readonly url: string;
  /** Requests made so far, by kind (the benchmark and the tests count LISTs). */
  readonly requests: RequestCounts;
  /** Proves the target answers and the credentials work (one cheap request). */
  check(): Promise<void>;
  /** The whole object; NOT_FOUND when there is none. */
  get(path: string): Promise<Buffer>;
  /** Writes the whole object at once: readers see the old one or the new one, never a part. */
  put(path: string, data: Buffer): Promise<void>;
  exists(path: string): Promise<boolean>;
  /** Last modification time (a lock's age is judged by it, as Longhorn does). */
  modified(path: string): Promise<Date>;
  /** Names directly under `dir` (objects and sub-folders), without the `dir/` prefix. */
  list(dir: string): Promise<string[]>;
  /**
   * Every object under `dir`, at any depth, relative to `dir`. One LIST per 1000 objects on S3
   * where a walk folder by folder (Longhorn's way) costs one per folder: up to 65k per volume.
   */
  listAll(dir: string): Promise<string[]>;
  /**
   * Copies an object inside the target without moving its bytes through us: a hard link on a
   * directory (a copy where links are refused), a server-side copy on S3.
   */
  copy(from: string, to: string): Promise<void>;
  /** Removes one object; a missing one is not an error. */
  remove(path: string): Promise<void>;
  close(): Promise<void>;
}

export interface RequestCounts {
  list: number;
  get: number;
  put: number;
  head: number;
  delete: number;
  copy: number;
}

export function newRequestCounts(): RequestCounts {
  return { list: 0, get: 0, put: 0, head: 0, delete: 0, copy: 0 };
}
