import { CSI_DRIVER_NAME } from '@longhorn-ts/api';

/**
 * The storage.k8s.io CSIDriver object as Longhorn ships it: the attacher is required (the
 * external-attacher files VolumeAttachment tickets), kubelet passes pod info on mount, fsGroup
 * is applied for ReadWriteOnce volumes with a file system type, persistent volumes only.
 */
export function csiDriverObject() {
  return {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'CSIDriver',
    metadata: { name: CSI_DRIVER_NAME },
    spec: {
      attachRequired: true,
      podInfoOnMount: true,
      fsGroupPolicy: 'ReadWriteOnceWithFSType',
      volumeLifecycleModes: ['Persistent'],
    },
  };
}
