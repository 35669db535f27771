/** Objects and requests for the table tests. */
import type { Node, Replica, Volume } from '@longhorn-ts/api';
import type { AdmissionRequest, KubeObject, Operation } from '../src/admission/review.js';

export const GiB = 1024 ** 3;

export function volume(spec: Volume['spec'] = {}, status?: Volume['status'], name = 'vol-1'): Volume {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name, namespace: 'longhorn-system' },
    spec: {
      size: String(2 * GiB),
      numberOfReplicas: 3,
      dataLocality: 'disabled',
      accessMode: 'rwo',
      frontend: 'blockdev',
      dataEngine: 'v1',
      ...spec,
    },
    ...(status && { status }),
  };
}

export function replica(name: string, volumeName: string, nodeID: string, diskID: string): Replica {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Replica',
    metadata: { name, namespace: 'longhorn-system' },
    spec: { volumeName, nodeID, diskID },
  };
}

export function node(
  name: string,
  disks: Node['spec']['disks'] = {},
  diskStatus: NonNullable<Node['status']>['diskStatus'] = {},
): Node {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Node',
    metadata: { name, namespace: 'longhorn-system' },
    spec: { name, disks, allowScheduling: true },
    status: { diskStatus },
  };
}

export function request(
  kind: string,
  operation: Operation,
  object: unknown,
  oldObject?: unknown,
  group = 'longhorn.io',
): AdmissionRequest {
  return {
    uid: 'uid-1',
    kind: { group, version: group === '' ? 'v1' : 'v1beta2', kind },
    operation,
    object: object as KubeObject,
    ...(oldObject !== undefined && { oldObject: oldObject as KubeObject }),
  };
}
