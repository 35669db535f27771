/**
 * A list+watch cache that stays up. @kubernetes/client-node 1.x informers relist by themselves
 * after a 410 (resource version too old) but stop for good on any other error (a refused
 * connection, a 500, a list that fails): this wrapper restarts them with back-off (1 s doubling
 * to 30 s, reset after a clean start).
 *
 * Informers only turn events into work-queue keys; controllers read the objects from the cache
 * when they reconcile the key.
 */

import {
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  makeInformer,
  type ObjectCache,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ExponentialBackoff } from './backoff.js';
import { type Clock, systemClock, type Timer } from './clock.js';
import { objectKey } from './object-key.js';

export type CachingInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

export interface ResilientInformerOptions<T extends KubernetesObject> {
  /** For logs: e.g. "volumes". */
  name: string;
  /** Makes the underlying informer (once). */
  create: () => CachingInformer<T>;
  /** Where keys go; usually a WorkQueue's add (a plain cache leaves it out, or only notes a change). */
  enqueue?: (key: string) => void;
  /** The keys an object's event concerns (default: its own `namespace/name`). */
  keysOf?: (obj: T) => readonly string[];
  clock?: Clock;
  minRestartDelayMs?: number;
  maxRestartDelayMs?: number;
  logger?: Logger;
}

const RESTART_KEY = 'restart';

export class ResilientInformer<T extends KubernetesObject> implements ObjectCache<T> {
  private readonly informer: CachingInformer<T>;
  private readonly options: ResilientInformerOptions<T>;
  private readonly clock: Clock;
  private readonly backoff: ExponentialBackoff;
  private restartTimer: Timer | undefined;
  private stopped = true;
  private attempt = 0;
  private failedAttempt = -1;
  private synced = false;
  private readonly syncWaiters: Array<() => void> = [];
  /** Times the informer was started again after an error. */
  restarts = 0;

  constructor(options: ResilientInformerOptions<T>) {
    this.options = options;
    this.clock = options.clock ?? systemClock;
    this.backoff = new ExponentialBackoff(
      options.minRestartDelayMs ?? 1000,
      options.maxRestartDelayMs ?? 30_000,
    );
    this.informer = options.create();
    const keysOf = options.keysOf ?? ((obj: T) => [objectKey(obj)]);
    const enqueue = options.enqueue ?? (() => {});
    const onEvent = (obj: T) => {
      for (const key of keysOf(obj)) if (key !== '') enqueue(key);
    };
    this.informer.on('add', onEvent);
    this.informer.on('update', onEvent);
    this.informer.on('delete', onEvent);
    this.informer.on('error', (err) => this.onError(err));
  }

  /** Start listing and watching; resolves once the first start attempt has returned. */
  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    await this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.restartTimer?.cancel();
    this.restartTimer = undefined;
    await this.informer.stop();
    for (const wake of this.syncWaiters.splice(0)) wake();
  }

  /** True once a list has completed and the watch was established. */
  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when the cache has synced (or the informer was stopped). */
  waitForSync(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
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
    // An error reported while starting (the list or the watch request failed) marks the
    // attempt failed; otherwise the cache is current and the back-off starts over.
    if (this.stopped || this.failedAttempt === attempt) return;
    this.backoff.forget(RESTART_KEY);
    if (!this.synced) {
      this.synced = true;
      for (const wake of this.syncWaiters.splice(0)) wake();
    }
  }

  private onError(err: unknown): void {
    this.failedAttempt = this.attempt;
    if (this.stopped || this.restartTimer !== undefined) return;
    const delay = this.backoff.next(RESTART_KEY);
    this.options.logger?.warn({ informer: this.options.name, err, delay }, 'informer stopped, restarting');
    this.restartTimer = this.clock.setTimer(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.restarts++;
      void this.run();
    }, delay);
  }
}

export interface CustomResourceType {
  group: string;
  version: string;
  plural: string;
}

/** The underlying client-node informer over one namespace's custom objects of a kind. */
export function customObjectInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  type: CustomResourceType,
  namespace: string,
  labelSelector?: string,
): CachingInformer<T> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const path = `/apis/${type.group}/${type.version}/namespaces/${namespace}/${type.plural}`;
  const list = async () =>
    (await api.listNamespacedCustomObject({
      group: type.group,
      version: type.version,
      namespace,
      plural: type.plural,
      ...(labelSelector !== undefined && { labelSelector }),
    })) as KubernetesListObject<T>;
  return makeInformer<T>(kubeConfig, path, list, labelSelector);
}

/** The underlying client-node informer over any list+watch path, optionally with a field selector. */
export function listWatchInformer<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  fieldSelector?: string,
): CachingInformer<T> {
  return new ListWatch<T>(path, new Watch(kubeConfig), list, false, undefined, fieldSelector);
}
