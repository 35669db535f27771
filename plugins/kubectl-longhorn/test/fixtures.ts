/** Small Longhorn objects for the render and doctor tests. */
import type { Engine, Node, Replica, Snapshot, Volume, VolumeAttachment } from '@longhorn-ts/api';

export const NOW = Date.parse('2026-01-02T00:00:00Z');
export const T0 = '2026-01-01T23:00:00Z';

export function volume(
  name: string,
  over: Partial<Volume['status']> = {},
  spec: Partial<Volume['spec']> = {},
): Volume {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name, namespace: 'longhorn-system', creationTimestamp: T0 },
    spec: {
      size: String(1 << 30),
      numberOfReplicas: 3,
      dataLocality: 'disabled',
      accessMode: 'rwo',
      frontend: 'blockdev',
      ...spec,
    },
    status: {
      state: 'attached',
      robustness: 'healthy',
      currentNodeID: 'node-1',
      ownerID: 'node-1',
      conditions: [{ type: 'Scheduled', status: 'True' }],
      ...over,
    },
  };
}

export function replica(name: string, node: string, over: Partial<Replica['spec']> = {}): Replica {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Replica',
    metadata: { name, namespace: 'longhorn-system' },
    spec: { volumeName: 'vol', nodeID: node, diskPath: `/data/${node}`, healthyAt: T0, ...over },
    status: { currentState: 'running' },
  };
}

export function engine(
  modes: Record<string, 'RW' | 'WO' | 'ERR'>,
  extra: Partial<Engine['status']> = {},
): Engine {
  const addresses = Object.fromEntries(Object.keys(modes).map((r, i) => [r, `127.0.0.1${i + 1}:700${i}`]));
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Engine',
    metadata: { name: 'vol-e-0', namespace: 'longhorn-system' },
    spec: { volumeName: 'vol', nodeID: 'node-1', volumeSize: String(1 << 30) },
    status: {
      currentState: 'running',
      endpoint: 'nbd://127.0.0.11:10000',
      replicaModeMap: modes,
      currentReplicaAddressMap: addresses,
      ...extra,
    },
  };
}

export function node(
  name: string,
  zone: string,
  over: Partial<Node['status']> = {},
  spec: Partial<Node['spec']> = {},
): Node {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Node',
    metadata: { name, namespace: 'longhorn-system', creationTimestamp: T0 },
    spec: {
      allowScheduling: true,
      disks: {
        [`disk-${name}`]: {
          path: `/data/${name}`,
          allowScheduling: true,
          storageReserved: 1 << 30,
          tags: ['ssd'],
        },
      },
      ...spec,
    },
    status: {
      zone,
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Schedulable', status: 'True' },
      ],
      diskStatus: {
        [`disk-${name}`]: {
          storageMaximum: 10 * 2 ** 30,
          storageAvailable: 6 * 2 ** 30,
          storageScheduled: 2 * 2 ** 30,
          scheduledReplica: { 'vol-r-1': 2 ** 30 },
          conditions: [{ type: 'Ready', status: 'True' }],
        },
      },
      ...over,
    },
  };
}

export function snapshot(
  name: string,
  parent: string,
  children: string[],
  created: string,
  size = 4096,
): Snapshot {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Snapshot',
    metadata: { name, namespace: 'longhorn-system' },
    spec: { volume: 'vol', createSnapshot: true },
    status: {
      parent,
      children: Object.fromEntries(children.map((c) => [c, true])),
      size,
      creationTime: created,
      readyToUse: true,
      userCreated: true,
    },
  };
}

export function attachment(
  tickets: VolumeAttachment['spec']['attachmentTickets'],
  satisfied: Record<string, boolean>,
): VolumeAttachment {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'VolumeAttachment',
    metadata: { name: 'vol', namespace: 'longhorn-system' },
    spec: { volume: 'vol', attachmentTickets: tickets },
    status: {
      attachmentTicketStatuses: Object.fromEntries(
        Object.entries(satisfied).map(([id, s]) => [id, { id, satisfied: s }]),
      ),
    },
  };
}
