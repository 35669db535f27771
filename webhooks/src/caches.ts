/**
 * The longhorn.io objects the rules read, from list+watch caches (client-node 1.x informers),
 * never per request from the API. A client-node informer that hits an error other than 410
 * stays stopped, so each one here is restarted with back-off (1 s doubling to 30 s). Until a
 * cache has synced, rules see it empty and Settings fall back to Longhorn's defaults.
 */
import type { KubeConfig, KubernetesObject } from '@kubernetes/client-node';
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
import { customObjectInformer, ResilientInformer } from '@longhorn-ts/kube-runtime';
import type { Logger } from 'pino';
import { type AdmissionContext, settingReader } from './admission/context.js';

function longhornCache<T extends KubernetesObject>(
  kubeConfig: KubeConfig,
  plural: string,
  namespace: string,
  logger: Logger,
): ResilientInformer<T> {
  return new ResilientInformer<T>({
    name: plural,
    create: () =>
      customObjectInformer<T>(kubeConfig, { group: API_GROUP, version: API_VERSION, plural }, namespace),
    logger,
  });
}

export class ClusterCaches {
  readonly settings: ResilientInformer<KubernetesObject>;
  readonly volumes: ResilientInformer<KubernetesObject>;
  readonly replicas: ResilientInformer<KubernetesObject>;
  readonly engines: ResilientInformer<KubernetesObject>;
  readonly nodes: ResilientInformer<KubernetesObject>;

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
