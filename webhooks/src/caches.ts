/**
 * The longhorn.io objects the rules read, from list+watch caches (client-node 1.x informers),
 * never per request from the API. A client-node informer that hits an error other than 410
 * stays stopped, so each one here is restarted with back-off (1 s doubling to 30 s). Until a
 * cache has synced, rules see it empty and Settings fall back to Longhorn's defaults.
 */
import {
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
  type ObjectCache,
} from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  type Engine,
  isSettingName,
  type Node,
  type Replica,
  type Setting,
  type Volume,
} from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { type AdmissionContext, settingReader } from './admission/context.js';

type CachingInformer<T extends KubernetesObject> = Informer<T> & ObjectCache<T>;

class RestartingCache<T extends KubernetesObject> {
  private readonly informer: CachingInformer<T>;
  private stopped = true;
  private delayMs = 1000;
  private timer: NodeJS.Timeout | undefined;
  synced = false;

  constructor(
    private readonly name: string,
    create: () => CachingInformer<T>,
    private readonly log: Logger,
  ) {
    this.informer = create();
    this.informer.on('error', (err) => this.restartLater(err));
    this.informer.on('connect', () => {
      this.synced = true;
      this.delayMs = 1000;
    });
  }

  async start(): Promise<void> {
    this.stopped = false;
    try {
      await this.informer.start();
    } catch (err) {
      this.restartLater(err);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.informer.stop();
  }

  list(): readonly T[] {
    return this.informer.list();
  }

  get(name: string, namespace?: string): T | undefined {
    return this.informer.get(name, namespace);
  }

  private restartLater(err: unknown): void {
    if (this.stopped || this.timer) return;
    this.log.warn({ cache: this.name, err: String(err), delayMs: this.delayMs }, 'cache stopped; restarting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) void this.start();
    }, this.delayMs);
    this.timer.unref();
    this.delayMs = Math.min(this.delayMs * 2, 30_000);
  }
}

function longhornCache<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  plural: string,
  namespace: string,
  log: Logger,
): RestartingCache<T> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const path = `/apis/${API_GROUP}/${API_VERSION}/namespaces/${namespace}/${plural}`;
  const list = async () =>
    (await api.listNamespacedCustomObject({
      group: API_GROUP,
      version: API_VERSION,
      namespace,
      plural,
    })) as KubernetesListObject<T>;
  return new RestartingCache(plural, () => makeInformer<T>(kubeConfig, path, list), log);
}

export class ClusterCaches {
  readonly settings: RestartingCache<KubernetesObject>;
  readonly volumes: RestartingCache<KubernetesObject>;
  readonly replicas: RestartingCache<KubernetesObject>;
  readonly engines: RestartingCache<KubernetesObject>;
  readonly nodes: RestartingCache<KubernetesObject>;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    log: Logger,
  ) {
    this.settings = longhornCache(kubeConfig, 'settings', namespace, log);
    this.volumes = longhornCache(kubeConfig, 'volumes', namespace, log);
    this.replicas = longhornCache(kubeConfig, 'replicas', namespace, log);
    this.engines = longhornCache(kubeConfig, 'engines', namespace, log);
    this.nodes = longhornCache(kubeConfig, 'nodes', namespace, log);
  }

  private all() {
    return [this.settings, this.volumes, this.replicas, this.engines, this.nodes];
  }

  /** Starts every cache; resolves once each first attempt returned (synced or retrying). */
  async start(): Promise<void> {
    await Promise.all(this.all().map((c) => c.start()));
  }

  async stop(): Promise<void> {
    await Promise.allSettled(this.all().map((c) => c.stop()));
  }

  /** A context that reads the caches as they are at call time. */
  context(): AdmissionContext {
    const settings = this.settings;
    const replicas = () => this.replicas.list() as unknown as Replica[];
    const engines = () => this.engines.list() as unknown as Engine[];
    return {
      setting: settingReader((name) =>
        isSettingName(name)
          ? (settings.get(name, this.namespace) as unknown as Setting | undefined)?.value
          : undefined,
      ),
      volume: (name) => this.volumes.get(name, this.namespace) as unknown as Volume | undefined,
      replicasOf: (volumeName) => replicas().filter((r) => r.spec?.volumeName === volumeName),
      enginesOf: (volumeName) => engines().filter((e) => e.spec?.volumeName === volumeName),
      node: (name) => this.nodes.get(name, this.namespace) as unknown as Node | undefined,
    };
  }
}
