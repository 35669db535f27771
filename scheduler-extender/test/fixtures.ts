/** Small builders of the objects the rules read. */
import type { V1Node, V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from '@kubernetes/client-node';
import {
  type DataLocality,
  LONGHORN_API_VERSION,
  NAMESPACE,
  type Replica,
  type Volume,
} from '@longhorn-ts/api';

export function node(name: string, zone?: string): V1Node {
  return { metadata: { name, labels: zone ? { 'topology.kubernetes.io/zone': zone } : {} } };
}

export function volume(name: string, dataLocality: DataLocality): Volume {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Volume',
    metadata: { name, namespace: NAMESPACE },
    spec: { dataLocality, numberOfReplicas: 1, size: '1073741824' },
  };
}

export interface ReplicaOptions {
  state?: 'running' | 'stopped' | 'error' | '';
  failedAt?: string;
  healthyAt?: string;
  deleting?: boolean;
}

export function replica(volumeName: string, nodeID: string, options: ReplicaOptions = {}): Replica {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Replica',
    metadata: {
      name: `${volumeName}-r-${nodeID}`,
      namespace: NAMESPACE,
      ...(options.deleting && { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    },
    spec: {
      volumeName,
      nodeID,
      ...(options.failedAt !== undefined && { failedAt: options.failedAt }),
      ...(options.healthyAt !== undefined && { healthyAt: options.healthyAt }),
    },
    status: { currentState: options.state ?? 'running' },
  };
}

/** A PVC bound to a PV of `driver` with volumeHandle `handle` (an unbound PVC when handle is undefined). */
export function claim(
  name: string,
  handle: string | undefined,
  driver = 'driver.longhorn.io',
  namespace = 'default',
): { pvc: V1PersistentVolumeClaim; pv?: V1PersistentVolume } {
  const pvName = `pv-${name}`;
  const pvc: V1PersistentVolumeClaim = {
    metadata: { name, namespace },
    spec: handle === undefined ? {} : { volumeName: pvName },
  };
  if (handle === undefined) return { pvc };
  return {
    pvc,
    pv: { metadata: { name: pvName }, spec: { csi: { driver, volumeHandle: handle } } },
  };
}

export interface PodOptions {
  claims?: string[];
  owner?: string;
  labels?: Record<string, string>;
  nodeName?: string;
  namespace?: string;
  uid?: string;
}

export function pod(name: string, options: PodOptions = {}): V1Pod {
  return {
    metadata: {
      name,
      namespace: options.namespace ?? 'default',
      ...(options.uid && { uid: options.uid }),
      ...(options.labels && { labels: options.labels }),
      ...(options.owner && {
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'StatefulSet',
            name: options.owner,
            uid: `uid-${options.owner}`,
            controller: true,
          },
        ],
      }),
    },
    spec: {
      containers: [{ name: 'c', image: 'busybox' }],
      ...(options.nodeName && { nodeName: options.nodeName }),
      volumes: (options.claims ?? []).map((c) => ({ name: c, persistentVolumeClaim: { claimName: c } })),
    },
    status: { phase: options.nodeName ? 'Running' : 'Pending' },
  };
}
