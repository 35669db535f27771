/**
 * The server's ClusterView: informer caches of PVCs, PVs, Nodes, bound Pods and Longhorn
 * Volumes and Replicas. Requests read only these caches, never the API.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
  type V1Pod,
} from '@kubernetes/client-node';
import { API_GROUP, API_VERSION, NAMESPACE, type Replica, type Volume } from '@longhorn-ts/api';
import type { Logger } from 'pino';
import { type ClusterView, indexReplicasByVolume, isScheduledPod } from './cluster-view.js';
import { ResilientCache } from './resilient-cache.js';

/** Only pods that hold a node matter (zone spread counts them). */
const SCHEDULED_PODS = 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed';

export class InformerClusterView implements ClusterView {
  private readonly pvcs: ResilientCache<V1PersistentVolumeClaim>;
  private readonly pvs: ResilientCache<V1PersistentVolume>;
  private readonly nodes: ResilientCache<V1Node>;
  private readonly pods: ResilientCache<V1Pod>;
  private readonly volumes: ResilientCache<KubernetesObject>;
  private readonly replicas: ResilientCache<KubernetesObject>;
  // Rebuilt on the first read after a replica changed: cheap next to a request, and never
  // out of step with the cache (a relist after a restart may change anything).
  private replicaIndex: Map<string, Replica[]> | undefined;

  constructor(kubeConfig: KubeConfig, logger: Logger) {
    const core = kubeConfig.makeApiClient(CoreV1Api);
    const custom = kubeConfig.makeApiClient(CustomObjectsApi);
    const common = { kubeConfig, logger };
    this.pvcs = new ResilientCache({
      ...common,
      name: 'persistentvolumeclaims',
      path: '/api/v1/persistentvolumeclaims',
      list: () => core.listPersistentVolumeClaimForAllNamespaces(),
    });
    this.pvs = new ResilientCache({
      ...common,
      name: 'persistentvolumes',
      path: '/api/v1/persistentvolumes',
      list: () => core.listPersistentVolume(),
    });
    this.nodes = new ResilientCache({
      ...common,
      name: 'nodes',
      path: '/api/v1/nodes',
      list: () => core.listNode(),
    });
    this.pods = new ResilientCache({
      ...common,
      name: 'pods',
      path: '/api/v1/pods',
      fieldSelector: SCHEDULED_PODS,
      list: () => core.listPodForAllNamespaces({ fieldSelector: SCHEDULED_PODS }),
    });
    const longhorn = (plural: string, onChange?: () => void) =>
      new ResilientCache<KubernetesObject>({
        ...common,
        name: plural,
        path: `/apis/${API_GROUP}/${API_VERSION}/namespaces/${NAMESPACE}/${plural}`,
        list: async () =>
          (await custom.listNamespacedCustomObject({
            group: API_GROUP,
            version: API_VERSION,
            namespace: NAMESPACE,
            plural,
          })) as KubernetesListObject<KubernetesObject>,
        ...(onChange && { onChange }),
      });
    this.volumes = longhorn('volumes');
    this.replicas = longhorn('replicas', () => {
      this.replicaIndex = undefined;
    });
  }

  private get caches(): ResilientCache<never>[] {
    return [
      this.pvcs,
      this.pvs,
      this.nodes,
      this.pods,
      this.volumes,
      this.replicas,
    ] as ResilientCache<never>[];
  }

  start(): void {
    for (const c of this.caches) c.start();
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
