import { EventEmitter } from 'node:events';
import type { BlockDevice } from '../block/block-device.js';
import { BlockError } from '../block/block-error.js';
import { ioBuffers } from '../block/buffer-pool.js';
import { componentLogger, type Logger } from '../logging/logger.js';
import type { LayerInfo, SnapshotOptions } from '../replica/types.js';
import type { Rebuilder } from '../sync/rebuild.js';
import { isAligned, widenToBlocks } from './block-widening.js';
import { reconcileAfterCrash } from './crash-reconcile.js';
import { checkRange, checkSnapshotName } from './engine-errors.js';
import { chooseUpToDate, type StartupCandidate } from './generation-choice.js';
import { IoBarrier } from './io-barrier.js';
import { RangeLock } from './range-lock.js';
import type { ReplicaBackend } from './replica-backend.js';
import { type ReplicaMode, type Robustness, robustness } from './replica-mode.js';
import { isRequestError } from './request-errors.js';

export interface ReplicaEndpoint {
  id: string;
  address: string;
  backend: ReplicaBackend;
}

export interface RebuildProgress {
  bytesDone: number;
  bytesTotal: number;
}

export interface ReplicaStatus {
  id: string;
  address: string;
  mode: ReplicaMode;
  /** Why the replica is ERR, or the last rebuild failure. */
  error?: string;
  rebuild?: RebuildProgress & { percent: number };
}

export interface EngineOptions {
  volume: string;
  /** Engine-replica timeout (Longhorn default 8 s); the last waiting replica gets twice this. */
  timeoutMs?: number;
  /** Replica count the volume wants; only used to derive robustness. */
  wantedReplicas?: number;
  /** How often replicas are declared equal (write-intent maps cleared) while writes happen. */
  cleanIntervalMs?: number;
  logger?: Logger;
}

export type { Rebuilder } from '../sync/rebuild.js';

interface Member extends ReplicaEndpoint {
  mode: ReplicaMode;
  error?: string;
  rebuild?: RebuildProgress;
  /** Rejects once the member is ejected, so calls stuck on it settle at once. */
  ejected: Promise<never>;
  reject: (err: Error) => void;
}

/** One fan-out in flight, watched by the timeout sweeper. */
interface Pending {
  started: number;
  waiting: Set<Member>;
  answered: number;
}

/**
 * One volume: fans writes out to every replica in RW or WO mode, reads from RW replicas, ejects
 * replicas that fail or time out, takes snapshots at one consistent point, and rebuilds replicas
 * online. Generation marks are odd while an engine serves and even after a clean stop, and are
 * bumped on every membership change, so the next start can tell current replicas from stale ones.
 */
export class Engine extends EventEmitter implements BlockDevice {
  readonly canMultiConn = true;
  readonly volume: string;
  private volumeSize: number;
  private members: Member[] = [];
  private generation = 0;
  private generationChain: Promise<void> = Promise.resolve();
  private readCursor = 0;
  private writeOnly = 0;
  private readonly barrier = new IoBarrier();
  private readonly rangeLock = new RangeLock();
  private readonly pending = new Set<Pending>();
  private readonly timeoutMs: number;
  private readonly wanted: number;
  private readonly sweeper: NodeJS.Timeout;
  private readonly pinger: NodeJS.Timeout;
  private readonly cleaner: NodeJS.Timeout;
  private writtenSinceClean = false;
  private readonly log: Logger;
  private rebuilding = false;
  private closed = false;

  private constructor(opts: EngineOptions, size: number) {
    super();
    this.volume = opts.volume;
    this.volumeSize = size;
    this.timeoutMs = opts.timeoutMs ?? 8000;
    this.wanted = opts.wantedReplicas ?? 0;
    this.log = opts.logger ?? componentLogger('engine', { volume: opts.volume });
    this.sweeper = setInterval(() => this.sweepTimeouts(), Math.max(50, this.timeoutMs / 8));
    this.sweeper.unref();
    this.pinger = setInterval(() => this.pingReplicas(), PING_INTERVAL_MS);
    this.pinger.unref();
    this.cleaner = setInterval(() => {
      this.cleanPoint().catch((err) => this.log.warn({ err: errorText(err) }, 'clean point failed'));
    }, opts.cleanIntervalMs ?? CLEAN_INTERVAL_MS);
    this.cleaner.unref();
  }

  /**
   * Every replica acknowledged a flush with I/O paused: they are equal, so their write-intent
   * maps can be cleared. Keeps the ranges a crash leaves to reconcile small. Skipped while a
   * replica rebuilds (it does not hold every write yet) and when nothing was written.
   */
  private async cleanPoint(): Promise<void> {
    if (!this.writtenSinceClean || this.writeOnly > 0 || this.rebuilding || this.closed) return;
    await this.barrier.exclusive(async () => {
      if (this.writeOnly > 0 || this.rebuilding || this.closed) return;
      this.writtenSinceClean = false;
      await this.fanOut((m) => m.backend.flush());
      await this.fanOut((m) => m.backend.markClean());
    });
  }

  /**
   * Starts serving from a set of replicas. Replicas behind the newest generation are stale and
   * become ERR; after an unclean stop only one replica of the newest generation serves until the
   * others are rebuilt, since writes in flight at the crash may have reached only some of them.
   */
  static async start(opts: EngineOptions, replicas: ReplicaEndpoint[]): Promise<Engine> {
    const infos = await Promise.allSettled(replicas.map((r) => r.backend.info()));
    const candidates: StartupCandidate[] = [];
    infos.forEach((res, i) => {
      if (res.status === 'fulfilled') candidates.push({ id: replicas[i]!.id, info: res.value });
    });
    if (candidates.length === 0) {
      throw new BlockError('EIO', `volume ${opts.volume}: no replica answered at start`);
    }
    const choice = chooseUpToDate(candidates);
    const source = candidates.find((c) => c.id === choice.current[0])!;
    const engine = new Engine(opts, source.info.size);
    const unclean = choice.unclean
      ? await engine.reconcile(
          replicas.find((r) => r.id === source.id)!,
          replicas.filter((r, i) => {
            const res = infos[i]!;
            return (
              r.id !== source.id &&
              choice.current.includes(r.id) &&
              res.status === 'fulfilled' &&
              res.value.size === source.info.size
            );
          }),
        )
      : new Map<string, string | null>();
    for (const [i, r] of replicas.entries()) {
      const res = infos[i]!;
      let mode: ReplicaMode = 'ERR';
      let error: string | undefined;
      if (res.status === 'rejected') error = `unreachable at start: ${errorText(res.reason)}`;
      else if (choice.stale.includes(r.id)) error = `stale: generation ${res.value.generation} is behind`;
      else if (res.value.size !== source.info.size)
        error = `size ${res.value.size} differs from ${source.info.size}`;
      else if (choice.unclean && r.id !== source.id && unclean.get(r.id) !== null) {
        error = unclean.get(r.id) ?? 'needs rebuild after an unclean stop';
      } else mode = 'RW';
      engine.addMember(r, mode, error);
    }
    // Odd while serving: a later start that finds an odd newest generation knows we crashed.
    const base = Math.max(...candidates.map((c) => c.info.generation));
    engine.generation = base % 2 === 0 ? base + 1 : base + 2;
    await engine.persistGeneration();
    if (!engine.members.some((m) => m.mode === 'RW')) {
      await engine.shutdownMembers();
      throw new BlockError('EIO', `volume ${opts.volume}: no usable replica at start`);
    }
    engine.log.info({ replicas: engine.status(), generation: engine.generation }, 'engine started');
    return engine;
  }

  /** Makes current replicas equal again after an unclean stop (see crash-reconcile.ts). */
  private async reconcile(
    source: ReplicaEndpoint,
    others: ReplicaEndpoint[],
  ): Promise<Map<string, string | null>> {
    if (others.length === 0) return new Map();
    try {
      return await reconcileAfterCrash(source, others, this.log);
    } catch (err) {
      this.log.warn(
        { err: errorText(err) },
        'reconcile after an unclean stop failed; the others need a rebuild',
      );
      return new Map(others.map((o) => [o.id, `needs rebuild after an unclean stop: ${errorText(err)}`]));
    }
  }

  size(): number {
    return this.volumeSize;
  }

  status(): ReplicaStatus[] {
    return this.members.map((m) => ({
      id: m.id,
      address: m.address,
      mode: m.mode,
      ...(m.error ? { error: m.error } : {}),
      ...(m.rebuild
        ? {
            rebuild: {
              ...m.rebuild,
              percent:
                m.rebuild.bytesTotal === 0
                  ? 100
                  : Math.floor((100 * m.rebuild.bytesDone) / m.rebuild.bytesTotal),
            },
          }
        : {}),
    }));
  }

  robustness(): Robustness {
    return robustness(
      this.members.map((m) => m.mode),
      this.wanted || this.members.length,
    );
  }

  currentGeneration(): number {
    return this.generation;
  }

  // ---- block device -------------------------------------------------------------------------

  async read(offset: number, length: number): Promise<Buffer> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    try {
      return await this.readFromRW(offset, length);
    } finally {
      this.barrier.leave();
    }
  }

  async write(offset: number, data: Buffer, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, data.length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      if (this.writeOnly === 0) await this.fanOut((m) => m.backend.write(offset, data));
      else await this.writeWidened(offset, data.length, data);
      // Every replica answered or was ejected (its socket destroyed): nothing reads `data` now.
      ioBuffers.release(data);
      if (fua) await this.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async writeZeroes(offset: number, length: number, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      for (const [off, len] of rangePieces(offset, length)) {
        if (this.writeOnly === 0) await this.fanOut((m) => m.backend.writeZeroes(off, len));
        else await this.writeWidened(off, len, null);
      }
      if (fua) await this.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async trim(offset: number, length: number, fua: boolean): Promise<void> {
    checkRange(this.volume, this.volumeSize, offset, length);
    const gate = this.barrier.enter();
    if (gate) await gate;
    this.writtenSinceClean = true;
    try {
      // Trim is advisory; while a replica rebuilds it would race the layer copy (Longhorn #7103).
      if (this.writeOnly === 0) {
        for (const [off, len] of rangePieces(offset, length))
          await this.fanOut((m) => m.backend.unmap(off, len));
      }
      if (fua) await this.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  async flush(): Promise<void> {
    const gate = this.barrier.enter();
    if (gate) await gate;
    try {
      await this.fanOut((m) => m.backend.flush());
    } finally {
      this.barrier.leave();
    }
  }

  // ---- snapshots and resizing -------------------------------------------------------------

  async snapshot(name: string, opts: SnapshotOptions = {}): Promise<string> {
    checkSnapshotName(this.volume, name);
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; snapshot later`);
    const created = opts.created ?? new Date().toISOString();
    await this.barrier.exclusive(() =>
      this.fanOut((m) => m.backend.snapshot(name, { userCreated: true, ...opts, created })),
    );
    this.log.info({ snapshot: name }, 'snapshot created');
    return name;
  }

  async listSnapshots(): Promise<LayerInfo[]> {
    const reader = this.pickReader();
    if (!reader) throw new BlockError('EIO', `volume ${this.volume}: no RW replica`);
    return this.call(reader, reader.backend.chain());
  }

  async deleteSnapshot(name: string): Promise<void> {
    checkSnapshotName(this.volume, name);
    await this.fanOut((m) => m.backend.markRemoved(name));
  }

  async purgeSnapshots(): Promise<string[]> {
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; purge later`);
    const purged = new Set<string>();
    await this.fanOut(async (m) => {
      for (const name of await m.backend.purge()) purged.add(name);
    });
    return [...purged];
  }

  /** Reverts every replica to `name`. The caller keeps the frontend down while this runs. */
  async revert(name: string): Promise<void> {
    checkSnapshotName(this.volume, name);
    if (this.writeOnly > 0 || this.rebuilding) {
      throw new BlockError('EPERM', `volume ${this.volume}: cannot revert while a replica rebuilds`);
    }
    const created = new Date().toISOString();
    await this.barrier.exclusive(() => this.fanOut((m) => m.backend.revert(name, created)));
  }

  async expand(size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size % 4096 !== 0) {
      throw new BlockError('EINVAL', `volume ${this.volume}: new size ${size} is not a multiple of 4096`);
    }
    if (size < this.volumeSize) {
      throw new BlockError(
        'EINVAL',
        `volume ${this.volume}: cannot shrink from ${this.volumeSize} to ${size}`,
      );
    }
    if (size === this.volumeSize) return;
    if (this.rebuilding)
      throw new BlockError('EPERM', `volume ${this.volume}: a rebuild is running; expand later`);
    await this.barrier.exclusive(async () => {
      await this.fanOut((m) => m.backend.expand(size));
      this.volumeSize = size;
    });
    this.log.info({ size }, 'volume expanded');
  }

  // ---- membership and rebuild ---------------------------------------------------------------

  /**
   * Adds a replica and rebuilds it online: it joins write-only at a consistent point marked by
   * a system snapshot on every replica, receives every write from then on while `rebuild`
   * copies the snapshot layers from a healthy replica, then turns RW.
   */
  async addReplica(endpoint: ReplicaEndpoint, rebuilder: Rebuilder): Promise<void> {
    if (this.rebuilding) throw new BlockError('EPERM', `volume ${this.volume}: one rebuild at a time`);
    if (this.members.some((m) => m.id === endpoint.id && m.mode !== 'ERR')) {
      throw new BlockError('EINVAL', `volume ${this.volume}: replica ${endpoint.id} is already a member`);
    }
    this.rebuilding = true;
    const snapshotName = `rebuild-${Date.now().toString(36)}`;
    let member: Member | undefined;
    try {
      const first = this.pickReader();
      if (!first) throw new BlockError('EIO', `volume ${this.volume}: no RW replica to rebuild from`);
      await rebuilder.prepare(first.backend, endpoint.backend);
      await this.barrier.exclusive(async () => {
        this.members = this.members.filter((m) => m.id !== endpoint.id);
        member = this.addMember(endpoint, 'WO');
        member.rebuild = { bytesDone: 0, bytesTotal: 0 };
        const created = new Date().toISOString();
        await this.fanOut((m) => m.backend.snapshot(snapshotName, { userCreated: false, created }));
        if (member.mode === 'ERR') throw new BlockError('EIO', `replica ${endpoint.id}: ${member.error}`);
      });
      const joined = member!;
      const source = this.pickReader();
      if (!source) throw new BlockError('EIO', `volume ${this.volume}: no RW replica to rebuild from`);
      this.log.info({ replica: endpoint.id, source: source.id }, 'rebuild started');
      await Promise.race([
        rebuilder.copy(source.backend, joined.backend, snapshotName, (p) => {
          joined.rebuild = { ...p };
        }),
        joined.ejected,
      ]);
      await this.barrier.exclusive(async () => {
        if (joined.mode !== 'WO') throw new BlockError('EIO', `replica ${endpoint.id} failed during rebuild`);
        this.setMode(joined, 'RW');
        joined.rebuild = undefined;
        await this.persistGeneration();
      });
      this.log.info({ replica: endpoint.id }, 'rebuild done');
    } catch (err) {
      if (member && member.mode !== 'ERR') this.eject(member, err);
      throw err;
    } finally {
      this.rebuilding = false;
    }
  }

  /** Ejects a replica on request (e.g. before deleting it). */
  removeReplica(id: string): void {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new BlockError('EINVAL', `volume ${this.volume}: no replica ${id}`);
    this.eject(m, new Error('removed on request'));
    this.members = this.members.filter((x) => x !== m);
    this.emit('members');
  }

  /** Every member's id and address, for the engine process to remember across restarts. */
  endpoints(): { id: string; address: string }[] {
    return this.members.map((m) => ({ id: m.id, address: m.address }));
  }

  /** Flushes every replica, marks the generation clean (even) and closes the connections. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    clearInterval(this.pinger);
    clearInterval(this.cleaner);
    try {
      await this.barrier.pause();
      await this.fanOut((m) => m.backend.flush());
      this.generation += 1;
      await this.persistGeneration();
      if (this.writeOnly === 0) await this.fanOut((m) => m.backend.markClean());
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'clean stop failed; the next start will treat it as unclean');
    }
    await this.shutdownMembers();
  }

  // ---- internals ------------------------------------------------------------------------------

  private addMember(endpoint: ReplicaEndpoint, mode: ReplicaMode, error?: string): Member {
    let reject!: (err: Error) => void;
    const ejected = new Promise<never>((_, rej) => {
      reject = rej;
    });
    ejected.catch(() => {});
    const member: Member = { ...endpoint, mode: 'RW', ejected, reject };
    endpoint.backend.on?.('disconnect', (err) => this.eject(member, err));
    this.members.push(member);
    this.setMode(member, mode);
    this.emit('members');
    if (mode === 'ERR') {
      member.error = error ?? 'failed';
      reject(new BlockError('EIO', `replica ${endpoint.id}: ${member.error}`));
      endpoint.backend.close().catch(() => {});
    }
    return member;
  }

  private setMode(m: Member, mode: ReplicaMode): void {
    if (m.mode === 'WO') this.writeOnly--;
    if (mode === 'WO') this.writeOnly++;
    const changed = m.mode !== mode;
    m.mode = mode;
    if (changed) this.emit('mode', m.id, mode);
  }

  private eject(m: Member, err: unknown): void {
    if (m.mode === 'ERR') return;
    this.setMode(m, 'ERR');
    m.error = errorText(err);
    m.reject(new BlockError('EIO', `replica ${m.id} (${m.address}) ejected: ${m.error}`));
    this.log.warn({ replica: m.id, address: m.address, err: m.error }, 'replica ejected');
    m.backend.close().catch(() => {});
    if (!this.closed) {
      this.generation += 2;
      this.persistGeneration().catch(() => {});
    }
  }

  /** Writes the current generation to every non-ERR replica, in order of bumps. */
  private persistGeneration(): Promise<void> {
    this.generationChain = this.generationChain.then(async () => {
      const g = this.generation;
      const targets = this.members.filter((m) => m.mode !== 'ERR');
      await Promise.all(
        targets.map((m) => this.call(m, m.backend.setGeneration(g)).catch((err) => this.eject(m, err))),
      );
    });
    return this.generationChain;
  }

  private call<T>(m: Member, p: Promise<T>): Promise<T> {
    return Promise.race([p, m.ejected]);
  }

  /**
   * Runs `op` on every non-ERR replica. Resolves when every one answered or was ejected, and
   * at least one RW replica remains. If one was ejected, the bumped generation is persisted on
   * the others before the caller is answered, so the ejected one reads as stale after a crash.
   * A request error (bad name, missing snapshot) answered by every replica rejects without
   * ejecting anyone; a replica that refuses what the others accepted has diverged and is ejected.
   */
  private async fanOut(op: (m: Member) => Promise<unknown>): Promise<void> {
    const targets = this.members.filter((m) => m.mode !== 'ERR');
    if (!targets.some((m) => m.mode === 'RW')) {
      throw new BlockError('EIO', `volume ${this.volume}: no RW replica left`);
    }
    const pending: Pending = { started: performance.now(), waiting: new Set(targets), answered: 0 };
    this.pending.add(pending);
    let failed = false;
    const refused: { m: Member; err: unknown }[] = [];
    await Promise.all(
      targets.map((m) =>
        this.call(m, op(m)).then(
          () => {
            pending.waiting.delete(m);
            pending.answered++;
          },
          (err) => {
            pending.waiting.delete(m);
            if (isRequestError(err) && m.mode !== 'ERR') {
              refused.push({ m, err });
              return;
            }
            failed = true;
            this.eject(m, err);
          },
        ),
      ),
    );
    this.pending.delete(pending);
    if (refused.length > 0) {
      if (pending.answered === 0) throw refused[0]!.err;
      failed = true;
      for (const { m, err } of refused) {
        this.eject(m, new Error(`diverged from the other replicas: ${errorText(err)}`));
      }
    }
    if (failed) await this.generationChain;
    if (!this.members.some((m) => m.mode === 'RW')) {
      throw new BlockError('EIO', `volume ${this.volume}: every replica failed`);
    }
  }

  private pickReader(): Member | undefined {
    const n = this.members.length;
    for (let i = 0; i < n; i++) {
      const m = this.members[(this.readCursor + i) % n]!;
      if (m.mode === 'RW') {
        this.readCursor = (this.readCursor + i + 1) % n;
        return m;
      }
    }
    return undefined;
  }

  private async readFromRW(offset: number, length: number): Promise<Buffer> {
    for (;;) {
      const m = this.pickReader();
      if (!m) throw new BlockError('EIO', `volume ${this.volume}: no RW replica to read from`);
      const pending: Pending = { started: performance.now(), waiting: new Set([m]), answered: 0 };
      this.pending.add(pending);
      try {
        return await this.call(m, m.backend.read(offset, length));
      } catch (err) {
        if (isRequestError(err) && m.mode !== 'ERR') throw err;
        this.eject(m, err);
      } finally {
        this.pending.delete(pending);
      }
    }
  }

  /**
   * A write (or zeroing when `data` is null) while a WO replica exists: RW replicas get the
   * request as is; WO replicas get it widened to whole blocks with bytes read from an RW
   * replica, under a range lock so no other write to those blocks lands in between.
   */
  private async writeWidened(offset: number, length: number, data: Buffer | null): Promise<void> {
    const wide = widenToBlocks(offset, length, this.volumeSize);
    const release = await this.rangeLock.acquire(wide.offset, wide.length);
    try {
      const aligned = isAligned(offset, length, this.volumeSize);
      let woData: Buffer | null = null;
      if (!aligned) {
        woData = await this.readFromRW(wide.offset, wide.length);
        if (data) data.copy(woData, offset - wide.offset);
        else woData.fill(0, offset - wide.offset, offset - wide.offset + length);
      }
      await this.fanOut((m) => {
        if (m.mode === 'WO' && woData) return m.backend.write(wide.offset, woData);
        return data ? m.backend.write(offset, data) : m.backend.writeZeroes(offset, length);
      });
    } finally {
      release();
    }
  }

  /** Pings idle replicas so a hung one is found (and timed out) even without I/O. */
  private pingReplicas(): void {
    for (const m of this.members) {
      if (m.mode === 'ERR' || !m.backend.ping) continue;
      const pending: Pending = { started: performance.now(), waiting: new Set([m]), answered: 0 };
      this.pending.add(pending);
      this.call(m, m.backend.ping()).then(
        () => this.pending.delete(pending),
        (err) => {
          this.pending.delete(pending);
          this.eject(m, err);
        },
      );
    }
  }

  /**
   * Shared timeouts (as Longhorn has them): a replica still waiting after the timeout is ejected
   * only if another replica already answered the same request; if none answered, they all get
   * twice the timeout, so one network blip does not fail every replica at once.
   */
  private sweepTimeouts(): void {
    const now = performance.now();
    for (const p of this.pending) {
      const age = now - p.started;
      if (age < this.timeoutMs || p.waiting.size === 0) continue;
      if (p.answered > 0 || age >= 2 * this.timeoutMs) {
        for (const m of [...p.waiting]) this.eject(m, new Error(`timed out after ${Math.round(age)} ms`));
        p.waiting.clear();
      }
    }
  }

  private async shutdownMembers(): Promise<void> {
    await Promise.all(this.members.map((m) => m.backend.close().catch(() => {})));
  }
}

const CLEAN_INTERVAL_MS = 30_000;

/** Longhorn pings every replica every 2 s. */
const PING_INTERVAL_MS = 2000;

/** The replica protocol carries a range length in 32 bits: split longer zeroing and trims. */
const MAX_RANGE_PIECE = 1024 * 1024 * 1024;

function* rangePieces(offset: number, length: number): Generator<[number, number]> {
  for (let off = offset; off < offset + length; off += MAX_RANGE_PIECE) {
    yield [off, Math.min(MAX_RANGE_PIECE, offset + length - off)];
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
