import { rm, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve as resolvePath } from 'node:path';
import type { Logger } from 'pino';
import { BlockError } from '../block/block-error.js';
import type { ReplicaInfo, ReplicaStore } from '../replica/types.js';
import type { CreateReplicaOptions, ReplicaStoreFactory } from './store-factory.js';

export interface ReplicaEntryInfo {
  id: string;
  dir: string;
  info: ReplicaInfo;
  /** Connections currently bound to this replica. */
  connections: number;
}

/** A connection bound to a replica: dropped before the replica closes. */
export interface BoundConnection {
  destroy(): void;
}

export interface ReplicaEntry {
  id: string;
  dir: string;
  store: ReplicaStore;
  conns: Set<BoundConnection>;
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function checkId(id: unknown): string {
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    throw new BlockError('EINVAL', `bad replica id ${String(id)}`);
  return id;
}

/**
 * Which replicas one replica server hosts: open stores by id, each in its own directory
 * (`<dataDir>/<id>` unless told otherwise), and the management calls that change the set.
 * Calls for one id run one at a time; a second one meanwhile is refused, not queued.
 */
export class ReplicaRegistry {
  private readonly replicas = new Map<string, ReplicaEntry>();
  /** Replica ids with a create/open/close/delete in progress, so two cannot race. */
  private readonly busy = new Set<string>();
  readonly dataDir: string;

  constructor(
    dataDir: string,
    private readonly factory: ReplicaStoreFactory,
    private readonly log: Logger,
  ) {
    this.dataDir = resolvePath(dataDir);
  }

  /** Registers an already open store (tests, embedding). */
  add(id: string, store: ReplicaStore, dir = join(this.dataDir, id)): void {
    checkId(id);
    if (this.replicas.has(id)) throw new BlockError('EINVAL', `replica ${id} is already open`);
    this.replicas.set(id, { id, dir, store, conns: new Set() });
  }

  async create(id: string, opts: CreateReplicaOptions & { dir?: string }): Promise<ReplicaInfo> {
    return this.exclusive(id, async () => {
      if (this.replicas.has(id)) throw new BlockError('EINVAL', `replica ${id} is already open`);
      if (!Number.isSafeInteger(opts.size) || opts.size <= 0) throw new BlockError('EINVAL', 'bad size');
      const dir = this.dirFor(id, opts.dir);
      const { dir: _dir, ...createOpts } = opts;
      const store = await this.factory.create(dir, createOpts);
      this.replicas.set(id, { id, dir, store, conns: new Set() });
      this.log.info({ replica: id, dir, size: opts.size }, 'replica created');
      return store.info();
    });
  }

  /** Opens an existing replica; opening one that is already open returns its info (idempotent). */
  async open(id: string, opts: { dir?: string } = {}): Promise<ReplicaInfo> {
    return this.exclusive(id, async () => {
      const existing = this.replicas.get(id);
      if (existing) return existing.store.info();
      const dir = this.dirFor(id, opts.dir);
      const store = await this.factory.open(dir);
      this.replicas.set(id, { id, dir, store, conns: new Set() });
      this.log.info({ replica: id, dir }, 'replica opened');
      return store.info();
    });
  }

  /** Closes a replica: its connections are dropped first, then the store closes. Idempotent. */
  async close(id: string): Promise<void> {
    await this.exclusive(id, () => this.closeEntry(id));
  }

  /**
   * Closes the replica if open and removes its directory; idempotent. A directory outside the
   * data directory that is not open here is removed only if it opens as a replica, so a
   * management call cannot wipe an arbitrary path.
   */
  async delete(id: string, opts: { dir?: string } = {}): Promise<void> {
    await this.exclusive(id, async () => {
      const open = this.replicas.get(id);
      const dir = open?.dir ?? this.dirFor(id, opts.dir);
      if (open) {
        await this.closeEntry(id);
      } else if (!isInside(this.dataDir, dir) && (await exists(dir))) {
        const store = await this.factory.open(dir);
        await store.close();
      }
      await rm(dir, { recursive: true, force: true });
      this.log.info({ replica: id, dir }, 'replica deleted');
    });
  }

  list(): ReplicaEntryInfo[] {
    return [...this.replicas.values()].map((e) => ({
      id: e.id,
      dir: e.dir,
      info: e.store.info(),
      connections: e.conns.size,
    }));
  }

  get(id: string): ReplicaEntry | undefined {
    return this.replicas.get(id);
  }

  /** Closes every replica (a server stopping); failures are logged, the others still close. */
  async closeAll(): Promise<void> {
    const results = await Promise.allSettled([...this.replicas.keys()].map((id) => this.closeEntry(id)));
    for (const r of results)
      if (r.status === 'rejected') this.log.error({ err: r.reason }, 'closing replica failed');
  }

  private async closeEntry(id: string): Promise<void> {
    const entry = this.replicas.get(id);
    if (!entry) return;
    this.replicas.delete(id);
    for (const c of entry.conns) c.destroy();
    entry.conns.clear();
    await entry.store.close();
    this.log.info({ replica: id }, 'replica closed');
  }

  private dirFor(id: string, dir: string | undefined): string {
    checkId(id);
    return dir ? resolvePath(dir) : join(this.dataDir, id);
  }

  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    checkId(id);
    if (this.busy.has(id))
      throw new BlockError('EINVAL', `replica ${id} is busy with another management call`);
    this.busy.add(id);
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
    }
  }
}

function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel.length > 0 && !rel.startsWith('..') && !isAbsolute(rel);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}
