/**
 * What the rules read about the cluster: synchronous lookups answered from informer caches in the
 * server (`informer-view.ts`) and from plain lists in tests and the benchmark (`StaticClusterView`).
 */
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import type { Replica, Volume } from '@longhorn-ts/api';

export interface ClusterView {
  pvc(namespace: string, name: string): V1PersistentVolumeClaim | undefined;
  pv(name: string): V1PersistentVolume | undefined;
  node(name: string): V1Node | undefined;
  /** A Longhorn Volume CR (namespace longhorn-system) by name. */
  volume(name: string): Volume | undefined;
  /** Replica CRs whose spec.volumeName is `volume`. */
  replicasOf(volume: string): readonly Replica[];
  /** Pods of a namespace that are bound to a node and not finished. */
  scheduledPods(namespace: string): readonly V1Pod[];
}

/** Replicas grouped by spec.volumeName. */
export function indexReplicasByVolume(replicas: Iterable<Replica>): Map<string, Replica[]> {
  const index = new Map<string, Replica[]>();
  for (const r of replicas) {
    const volume = r.spec?.volumeName;
    if (!volume) continue;
    const list = index.get(volume);
    if (list) list.push(r);
    else index.set(volume, [r]);
  }
  return index;
}

/** A pod that holds a node: bound, not finished, not being deleted. */
export function isScheduledPod(pod: V1Pod): boolean {
  if (!pod.spec?.nodeName) return false;
  if (pod.metadata?.deletionTimestamp) return false;
  const phase = pod.status?.phase;
  return phase !== 'Succeeded' && phase !== 'Failed';
}

export interface StaticObjects {
  pvcs?: V1PersistentVolumeClaim[];
  pvs?: V1PersistentVolume[];
  nodes?: V1Node[];
  volumes?: Volume[];
  replicas?: Replica[];
  pods?: V1Pod[];
}

const EMPTY: readonly never[] = [];

/** A ClusterView over fixed lists (tests, benchmark). */
export class StaticClusterView implements ClusterView {
  private readonly pvcs = new Map<string, V1PersistentVolumeClaim>();
  private readonly pvs = new Map<string, V1PersistentVolume>();
  private readonly nodes = new Map<string, V1Node>();
  private readonly volumes = new Map<string, Volume>();
  private readonly replicas: Map<string, Replica[]>;
  private readonly pods = new Map<string, V1Pod[]>();

  constructor(objects: StaticObjects) {
    for (const c of objects.pvcs ?? [])
      this.pvcs.set(`${c.metadata?.namespace ?? 'default'}/${c.metadata?.name}`, c);
    for (const v of objects.pvs ?? []) this.pvs.set(v.metadata?.name ?? '', v);
    for (const n of objects.nodes ?? []) this.nodes.set(n.metadata?.name ?? '', n);
    for (const v of objects.volumes ?? []) this.volumes.set(v.metadata.name, v);
    this.replicas = indexReplicasByVolume(objects.replicas ?? []);
    for (const p of (objects.pods ?? []).filter(isScheduledPod)) {
      const ns = p.metadata?.namespace ?? 'default';
      const list = this.pods.get(ns);
      if (list) list.push(p);
      else this.pods.set(ns, [p]);
    }
  }

  pvc(namespace: string, name: string): V1PersistentVolumeClaim | undefined {
    return this.pvcs.get(`${namespace}/${name}`);
  }
  pv(name: string): V1PersistentVolume | undefined {
    return this.pvs.get(name);
  }
  node(name: string): V1Node | undefined {
    return this.nodes.get(name);
  }
  volume(name: string): Volume | undefined {
    return this.volumes.get(name);
  }
  replicasOf(volume: string): readonly Replica[] {
    return this.replicas.get(volume) ?? EMPTY;
  }
  scheduledPods(namespace: string): readonly V1Pod[] {
    return this.pods.get(namespace) ?? EMPTY;
  }
}
