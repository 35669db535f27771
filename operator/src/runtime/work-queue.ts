/**
 * A controller work queue as client-go has it (workqueue + delaying + rate-limited):
 * - keys, not objects: a reconcile always reads the newest state from the cache;
 * - a key already waiting is not queued twice;
 * - a key is handed to one worker at a time; added again while it is being processed, it is
 *   queued once that worker calls `done`;
 * - `addRateLimited` delays a failing key exponentially (5 ms doubling to about a minute),
 *   `forget` resets it after a success; `addAfter` schedules a recheck, keeping the earliest.
 * Time comes from an injectable Clock.
 */

import type { Logger } from 'pino';
import { isConflict } from './api-errors.js';
import { ExponentialBackoff } from './backoff.js';
import { type Clock, systemClock, type Timer } from './clock.js';

export interface WorkQueueOptions {
  clock?: Clock;
  /** First retry delay of a failing key (default 5 ms). */
  baseDelayMs?: number;
  /** Longest retry delay (default 60 s). */
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private readonly queue: string[] = [];
  /** Keys that need processing: queued, or re-added while processing. */
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly waiting = new Map<string, { due: number; timer: Timer }>();
  private readonly getters: Array<() => void> = [];
  private shuttingDown = false;

  constructor(options: WorkQueueOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.backoff = new ExponentialBackoff(options.baseDelayMs ?? 5, options.maxDelayMs ?? 60_000);
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    this.queue.push(key);
    this.getters.shift()?.();
  }

  /** Add after `ms`; if the key is already waiting, the earlier time wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.clock.now() + ms;
    const existing = this.waiting.get(key);
    if (existing !== undefined) {
      if (existing.due <= due) return;
      existing.timer.cancel();
    }
    const timer = this.clock.setTimer(() => {
      this.waiting.delete(key);
      this.add(key);
    }, ms);
    this.waiting.set(key, { due, timer });
  }

  /** Retry a failed key after its next back-off delay; returns that delay. */
  addRateLimited(key: string): number {
    const delay = this.backoff.next(key);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its next failure starts from the base delay again. */
  forget(key: string): void {
    this.backoff.forget(key);
  }

  /** Failures in a row of `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.backoff.count(key);
  }

  /** The next key to process; undefined once the queue shuts down. Call `done` after it. */
  async get(): Promise<string | undefined> {
    for (;;) {
      if (this.shuttingDown) return undefined;
      const key = this.queue.shift();
      if (key !== undefined) {
        this.dirty.delete(key);
        this.processing.add(key);
        return key;
      }
      await new Promise<void>((resolve) => this.getters.push(resolve));
    }
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.queue.push(key);
      this.getters.shift()?.();
    }
  }

  /** Keys ready to be handed out. */
  get length(): number {
    return this.queue.length;
  }

  /** Keys scheduled for later. */
  get delayed(): number {
    return this.waiting.size;
  }

  isProcessing(key: string): boolean {
    return this.processing.has(key);
  }

  /** Stop handing out keys (queued ones are dropped) and cancel scheduled ones. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.waiting.values()) timer.cancel();
    this.waiting.clear();
    this.queue.length = 0;
    for (const wake of this.getters.splice(0)) wake();
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }
}

export interface ReconcileResult {
  /** Look at the key again after this long even if nothing changes. */
  requeueAfterMs?: number;
}

export type Reconcile = (key: string) => Promise<ReconcileResult | undefined> | Promise<void>;

/**
 * Run `workers` loops taking keys from the queue until it shuts down. A reconcile that throws
 * is retried with back-off (a Conflict quietly: it only means the cache was behind); one that
 * succeeds is forgotten and, if it asks, looked at again later.
 */
export async function runWorkers(
  queue: WorkQueue,
  reconcile: Reconcile,
  options: { workers?: number; logger?: Logger } = {},
): Promise<void> {
  const { workers = 1, logger } = options;
  const loop = async () => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await reconcile(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const delay = queue.addRateLimited(key);
        if (isConflict(err)) logger?.debug({ key, delay }, 'conflict, requeued');
        else logger?.warn({ key, delay, err }, 'reconcile failed, requeued');
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}
