/**
 * A list+watch cache that stays up. client-node 1.x informers relist by themselves after a 410
 * but stop for good on any other error (refused connection, 500, a failed list): this restarts
 * them with back-off, 1 s doubling to 30 s, back to 1 s after a clean start.
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface ResilientCacheOptions<T extends KubernetesObject> {
  /** For logs: "pods", "replicas"... */
  name: string;
  kubeConfig: KubeConfig;
  /** The watch path, e.g. `/api/v1/pods`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  /** Called on every add/update/delete (e.g. to invalidate an index). */
  onChange?: () => void;
  logger: Logger;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export class ResilientCache<T extends KubernetesObject> {
  private readonly informer: ListWatch<T>;
  private readonly minDelayMs: number;
  private readonly maxDelayMs: number;
  private delayMs: number;
  private stopped = true;
  private attempt = 0;
  private failedAttempt = -1;
  private timer: NodeJS.Timeout | undefined;
  private synced = false;
  private readonly waiters: Array<() => void> = [];
  /** Restarts after an error, for logs and tests. */
  restarts = 0;

  constructor(private readonly options: ResilientCacheOptions<T>) {
    this.minDelayMs = options.minDelayMs ?? 1_000;
    this.maxDelayMs = options.maxDelayMs ?? 30_000;
    this.delayMs = this.minDelayMs;
    this.informer = new ListWatch<T>(
      options.path,
      new Watch(options.kubeConfig),
      options.list,
      false,
      undefined,
      options.fieldSelector,
    );
    const changed = options.onChange;
    if (changed)
      for (const verb of ['add', 'update', 'delete'] as const) this.informer.on(verb, () => changed());
    this.informer.on('error', (err) => this.onError(err));
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  /** Resolves once a list has completed and the watch is up (or the cache was stopped). */
  waitForSync(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.informer.stop();
    for (const wake of this.waiters.splice(0)) wake();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  list(namespace?: string): ReadonlyArray<T> {
    return this.informer.list(namespace);
  }

  private async run(): Promise<void> {
    const attempt = ++this.attempt;
    try {
      await this.informer.start();
    } catch (err) {
      this.onError(err);
      return;
    }
    // An error while starting (list or watch refused) marks this attempt failed.
    if (this.stopped || this.failedAttempt === attempt) return;
    this.delayMs = this.minDelayMs;
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.waiters.splice(0)) wake();
    }
  }

  private onError(err: unknown): void {
    this.failedAttempt = this.attempt;
    if (this.stopped || this.timer !== undefined) return;
    const delay = this.delayMs;
    this.delayMs = Math.min(this.maxDelayMs, this.delayMs * 2);
    this.options.logger.warn(
      { informer: this.options.name, err: err instanceof Error ? err.message : String(err), delayMs: delay },
      'informer stopped; restarting',
    );
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.restarts++;
      void this.run();
    }, delay);
  }
}
