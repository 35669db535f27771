/**
 * The server's ClusterView: informer caches of PVCs, PVs, Nodes, bound Pods and Longhorn
 * Volumes and Replicas. Requests read only these caches, never the API.
 */
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, NAMESPACE, type Replica, type Volume } from '@longhorn-ts/api';
import { customObjectInformer, listWatchInformer, ResilientInformer } from '@longhorn-ts/kube-runtime';
import type { Logger } from 'pino';
import { type ClusterView, indexReplicasByVolume, isScheduledPod } from './cluster-view.js';

/** Only pods that hold a node matter (zone spread counts them). */
const SCHEDULED_PODS = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';

export class InformerClusterView implements ClusterView {
  private readonly pvcs: ResilientInformer<V1PersistentVolumeClaim>;
  private readonly pvs: ResilientInformer<V1PersistentVolume>;
  private readonly nodes: ResilientInformer<V1Node>;
  private readonly pods: ResilientInformer<V1Pod>;
  private readonly volumes: ResilientInformer<KubernetesObject>;
  private readonly replicas: ResilientInformer<KubernetesObject>;
  // Rebuilt on the first read after a replica changed: cheap next to a request, and never
  // out of step with the cache (a relist after a restart may change anything).
  private replicaIndex: Map<string, Replica[]> | undefined;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const cache = <T extends KubernetesObject>(
      name: string,
      path: string,
      list: () => Promise<KubernetesListObject<T>>,
      fieldSelector?: string,
    ) =>
      new ResilientInformer<T>({
        name,
        create: () => listWatchInformer(kubeConfig, path, list, fieldSelector),
        logger,
      });
    this.pvcs = cache('persistentvolumeclaims', '/api/v1/persistentvolumeclaims', () =>
      core.listPersistentVolumeClaimForAllNamespaces(),
    );
    this.pvs = cache('persistentvolumes', '/api/v1/persistentvolumes', () => core.listPersistentVolume());
    this.nodes = cache('nodes', '/api/v1/nodes', () => core.listNode());
    this.pods = cache(
      'pods',
      '/api/v1/pods',
      () => core.listPodForAllNamespaces({ fieldSelector: SCHEDULED_PODS }),
      SCHEDULED_PODS,
    );
    const longhorn = (plural: string, onChange?: () => void) =>
      new ResilientInformer<KubernetesObject>({
        name: plural,
        create: () =>
          customObjectInformer(kubeConfig, { group: API_GROUP, version: API_VERSION, plural }, NAMESPACE),
        logger,
        ...(onChange && { enqueue: onChange }),
      });
    this.volumes = longhorn('volumes');
    this.replicas = longhorn('replicas', () => {
      this.replicaIndex = undefined;
    });
  }

  private get caches(): ResilientInformer<never>[] {
    return [
      this.pvcs,
      this.pvs,
      this.nodes,
      this.pods,
      this.volumes,
      this.replicas,
    ] as ResilientInformer<never>[];
  }

  start(): void {
    for (const c of this.caches) void c.start();
  }

  /** Resolves when every cache has listed once and watches. */
  async waitForSync(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.waitForSync()));
  }

  async stop(): Promise<void> {
    await Promise.all(this.caches.map((c) => c.stop()));
  }

  pvc(namespace: string, name: string): V1PersistentVolumeClaim | undefined {
    return this.pvcs.get(name, namespace);
  }
  pv(name: string): V1PersistentVolume | undefined {
    return this.pvs.get(name);
  }
  node(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }
  volume(name: string): Volume | undefined {
    return this.volumes.get(name, NAMESPACE) as Volume | undefined;
  }
  replicasOf(volume: string): readonly Replica[] {
    if (this.replicaIndex === undefined)
      this.replicaIndex = indexReplicasByVolume(this.replicas.list(NAMESPACE) as unknown as Replica[]);
    return this.replicaIndex.get(volume) ?? [];
  }
  scheduledPods(namespace: string): readonly V1Pod[] {
    // The field selector already keeps to bound, unfinished pods; deletion is checked here.
    return this.pods.list(namespace).filter(isScheduledPod);
  }
}
