import { EventEmitter } from 'node:events';
import type { FileSpan } from '../block/block-device.js';
import { BlockError } from '../block/block-error.js';
import type { Logger } from '../logging/logger.js';
import type { ReplicaBackend } from '../replica/replica-backend.js';
import type { GenerationRecord } from './generation-choice.js';
import type { ReplicaMode } from './replica-mode.js';
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

export interface Member extends ReplicaEndpoint {
  mode: ReplicaMode;
  error?: string;
  rebuild?: RebuildProgress;
  /** Rejects once the member is ejected, so calls stuck on it settle at once. */
  ejected: Promise<never>;
  /** Ejects: rejects `ejected` and every call in flight (through `settle`) with `err`. */
  reject: (err: Error) => void;
  /** `p`, or its ejection error as soon as the member is ejected, whichever comes first. */
  settle<T>(p: Promise<T>): Promise<T>;
}

/** One request in flight, watched by the timeout sweeper. */
interface Pending {
  started: number;
  waiting: Set<Member>;
  answered: number;
}

export interface ReplicaSetOptions {
  volume: string;
  timeoutMs: number;
  log: Logger;
  /** Durably records the generation marks before writes are acknowledged under them. */
  saveGeneration?: (record: GenerationRecord) => Promise<void>;
}

/**
 * The replicas of one volume with their modes (RW, WO, ERR), as Longhorn's controller keeps
 * them: fans requests out, ejects replicas that fail or time out (shared timeouts), pings idle
 * ones, and keeps the generation marks. Only RW replicas carry the current generation: a WO
 * replica is still being filled, and must read as behind if the engine stops before it is.
 *
 * Events: 'members' (membership changed), 'mode' (id, mode).
 */
export class ReplicaSet extends EventEmitter {
  members: Member[] = [];
  /** The generation served under; odd while serving, bumped by 2 on every ejection. */
  generation = 0;
  /** Number of WO members. */
  writeOnly = 0;
  /** Set once the engine stops: ejections then no longer bump the generation. */
  stopping = false;
  /** The data-key rotation record last kept on the replicas (Engine.saveKeyRotation). */
  keyRotation: string | undefined;
  private committed = 0;
  private issued = 0;
  private generationChain: Promise<void> = Promise.resolve();
  private generationFailure: Error | null = null;
  private readCursor = 0;
  private readonly pending = new Set<Pending>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly pinger: NodeJS.Timeout;
  private readonly volume: string;
  private readonly timeoutMs: number;
  private readonly log: Logger;
  private readonly saveGeneration: ((record: GenerationRecord) => Promise<void>) | undefined;

  constructor(opts: ReplicaSetOptions, record?: GenerationRecord) {
    super();
    this.volume = opts.volume;
    this.timeoutMs = opts.timeoutMs;
    this.log = opts.log;
    this.saveGeneration = opts.saveGeneration;
    this.committed = record?.committed ?? 0;
    this.issued = record?.issued ?? 0;
    this.sweeper = setInterval(() => this.sweepTimeouts(), Math.max(50, this.timeoutMs / 8));
    this.sweeper.unref();
    this.pinger = setInterval(() => this.pingReplicas(), PING_INTERVAL_MS);
    this.pinger.unref();
  }

  /** Stops the sweeper and the pinger; call only once no request can be in flight. */
  stopTimers(): void {
    clearInterval(this.sweeper);
    clearInterval(this.pinger);
  }

  add(endpoint: ReplicaEndpoint, mode: ReplicaMode, error?: string): Member {
    let rejectEjected!: (err: Error) => void;
    const ejected = new Promise<never>((_, rej) => {
      rejectEjected = rej;
    });
    ejected.catch(() => {});
    // Calls in flight, each by its reject. Not Promise.race(p, ejected): every race leaves a
    // reaction on `ejected`, which never settles while the member is healthy, so the engine
    // kept one per request it ever sent (~40 MB more RSS per 5 s of 4 KiB writes).
    const inflight = new Set<(err: Error) => void>();
    let ejectError: Error | null = null;
    const reject = (err: Error): void => {
      if (ejectError) return;
      ejectError = err;
      rejectEjected(err);
      for (const r of inflight) r(err);
      inflight.clear();
    };
    const settle = <T>(p: Promise<T>): Promise<T> => {
      if (ejectError) {
        p.catch(() => {});
        return Promise.reject(ejectError);
      }
      return new Promise<T>((resolve, rej) => {
        inflight.add(rej);
        p.then(
          (v) => {
            inflight.delete(rej);
            resolve(v);
          },
          (e: unknown) => {
            inflight.delete(rej);
            rej(e);
          },
        );
      });
    };
    const member: Member = { ...endpoint, mode: 'RW', ejected, reject, settle };
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

  /** Takes a member out of the set (it must be ERR or about to be ejected). */
  drop(m: Member): void {
    this.members = this.members.filter((x) => x !== m);
    this.emit('members');
  }

  setMode(m: Member, mode: ReplicaMode): void {
    if (m.mode === 'WO') this.writeOnly--;
    if (mode === 'WO') this.writeOnly++;
    const changed = m.mode !== mode;
    m.mode = mode;
    if (changed) this.emit('mode', m.id, mode);
  }

  eject(m: Member, err: unknown): void {
    if (m.mode === 'ERR') return;
    const wasRW = m.mode === 'RW';
    this.setMode(m, 'ERR');
    m.error = errorText(err);
    m.reject(new BlockError('EIO', `replica ${m.id} (${m.address}) ejected: ${m.error}`));
    this.log.warn({ replica: m.id, address: m.address, err: m.error }, 'replica ejected');
    m.backend.close().catch(() => {});
    // A WO replica never held the current generation, so losing it makes no one stale.
    if (wasRW && !this.stopping) {
      this.generation += 2;
      this.persistGeneration().catch(() => {});
    }
  }

  hasRW(): boolean {
    return this.members.some((m) => m.mode === 'RW');
  }

  /**
   * Writes the current generation to every RW replica, in order of bumps: recorded as issued
   * first (so no replica ever holds a generation the record does not cover), then on the
   * replicas, then recorded as committed. Writes are acknowledged only once it is committed.
   */
  persistGeneration(): Promise<void> {
    const step = async () => {
      const g = this.generation;
      if (g === this.committed) return;
      await this.record({ committed: this.committed, issued: Math.max(g, this.issued) });
      const targets = this.members.filter((m) => m.mode === 'RW');
      await Promise.all(
        targets.map((m) => this.call(m, m.backend.setGeneration(g)).catch((err) => this.eject(m, err))),
      );
      // Committed only if some replica holds it: when the last RW replicas fail (every replica
      // server stopped at once), the record keeps the generation they hold, so the next start
      // finds them current rather than refusing every one. Nothing was acknowledged meanwhile:
      // with no RW replica left every request fails.
      if (!targets.some((m) => m.mode === 'RW')) return;
      await this.record({ committed: g, issued: Math.max(g, this.issued) });
    };
    this.generationChain = this.generationChain.then(step, step);
    return this.generationChain;
  }

  private async record(rec: GenerationRecord): Promise<void> {
    try {
      await this.saveGeneration?.(rec);
      this.issued = rec.issued;
      this.committed = rec.committed;
      this.generationFailure = null;
    } catch (err) {
      this.generationFailure = new BlockError(
        'EIO',
        `volume ${this.volume}: cannot record generation ${rec.issued}: ${errorText(err)}`,
      );
      throw this.generationFailure;
    }
  }

  /**
   * Resolves once every bump so far is committed; rejects when it cannot be recorded. Returns
   * without a commit when no RW replica is left (the caller fails the request) or on a stop.
   */
  async generationCommitted(): Promise<void> {
    for (;;) {
      if (this.committed === this.generation) return;
      if (this.generationFailure) throw this.generationFailure;
      if (this.stopping || !this.hasRW()) return;
      const chain = this.generationChain;
      await chain.catch(() => {});
      if (chain === this.generationChain && this.committed !== this.generation && !this.generationFailure) {
        // Nothing more is queued, yet the bump is not committed: never acknowledge under it.
        if (!this.hasRW()) return;
        throw new BlockError('EIO', `volume ${this.volume}: generation ${this.generation} was not committed`);
      }
    }
  }

  call<T>(m: Member, p: Promise<T>): Promise<T> {
    return m.settle(p);
  }

  /**
   * Runs `op` on every non-ERR replica. Resolves when every one answered or was ejected, at
   * least one RW replica remains, and the generation is committed: after any ejection, even one
   * caused by another request, nothing is acknowledged before the remaining replicas hold the
   * bumped generation, so an ejected replica always reads as stale after a crash. A request error
   * (bad name, missing snapshot) answered by every replica rejects without ejecting anyone; a
   * replica that refuses what the others accepted has diverged and is ejected.
   */
  async fanOut(op: (m: Member) => Promise<unknown>): Promise<void> {
    const targets = this.members.filter((m) => m.mode !== 'ERR');
    if (!targets.some((m) => m.mode === 'RW')) {
      throw new BlockError('EIO', `volume ${this.volume}: no RW replica left`);
    }
    const pending: Pending = { started: performance.now(), waiting: new Set(targets), answered: 0 };
    this.pending.add(pending);
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
            this.eject(m, err);
          },
        ),
      ),
    );
    this.pending.delete(pending);
    if (refused.length > 0) {
      if (pending.answered === 0) throw refused[0]!.err;
      for (const { m, err } of refused) {
        this.eject(m, new Error(`diverged from the other replicas: ${errorText(err)}`));
      }
    }
    if (this.committed !== this.generation) await this.generationCommitted();
    if (!this.hasRW()) {
      throw new BlockError('EIO', `volume ${this.volume}: every replica failed`);
    }
  }

  pickReader(): Member | undefined {
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

  /**
   * A span of the local replica's file (the replica in the engine's own process), when it is RW
   * and holds the range whole in its page cache: see BlockDevice.readSpan.
   */
  localSpan(offset: number, length: number): FileSpan | null {
    for (const m of this.members) {
      if (m.mode === 'RW' && m.backend.readSpan) return m.backend.readSpan(offset, length);
    }
    return null;
  }

  async readFromRW(offset: number, length: number): Promise<Buffer> {
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

  /** Closes every connection; calls still waiting on a member (a rebuild's copy) settle at once. */
  async closeAll(): Promise<void> {
    const stopped = new BlockError('ESHUTDOWN', `volume ${this.volume}: the engine stopped`);
    for (const m of this.members) m.reject(stopped);
    await Promise.all(this.members.map((m) => m.backend.close().catch(() => {})));
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
}

/** Longhorn pings every replica every 2 s. */
const PING_INTERVAL_MS = 2000;

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
