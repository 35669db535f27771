import type { AccessType, KubeletVolume } from './kubelet-csi.js';

// What the kubelet stand-in decides for one pod, as pure functions of the objects it sees:
// which of the pod's volumes it mounts, which it waits for, which it refuses and why.

/** The stand-in's finalizer: the pod object stays until its volumes are unmounted (kubelet too
 * deletes a pod object only once its volumes are cleaned up). */
export const STANDIN_FINALIZER = 'kubelet-standin.longhorn-ts.io/volumes';
/** Set once every volume of the pod is mounted; kwok turns the pod Running only then. */
export const VOLUMES_MOUNTED_ANNOTATION = 'kubelet-standin.longhorn-ts.io/volumes-mounted';

export interface PodVolumeSource {
  name: string;
  persistentVolumeClaim?: { claimName: string; readOnly?: boolean };
  ephemeral?: { volumeClaimTemplate?: unknown };
  csi?: { driver: string };
}

interface ContainerLike {
  volumeMounts?: { name: string; readOnly?: boolean }[];
  volumeDevices?: { name: string; devicePath: string }[];
}

export interface PodLike {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    deletionTimestamp?: string | Date;
    annotations?: Record<string, string>;
    finalizers?: string[];
  };
  spec: {
    nodeName?: string;
    serviceAccountName?: string;
    volumes?: PodVolumeSource[];
    containers: ContainerLike[];
    initContainers?: ContainerLike[];
  };
  status?: { phase?: string };
}

export interface PvcLike {
  metadata: { name: string; namespace?: string; ownerReferences?: { kind: string; uid: string }[] };
  spec: { volumeName?: string };
  status?: {
    phase?: string;
    capacity?: Record<string, string>;
    conditions?: { type: string; status: string }[];
    allocatedResourceStatuses?: Record<string, string>;
  };
}

export interface SecretRef {
  name: string;
  namespace: string;
}

export interface PvLike {
  metadata: { name: string };
  spec: {
    accessModes?: string[];
    capacity?: Record<string, string>;
    volumeMode?: string;
    mountOptions?: string[];
    claimRef?: { namespace?: string; name?: string; uid?: string };
    csi?: {
      driver: string;
      volumeHandle: string;
      fsType?: string;
      readOnly?: boolean;
      volumeAttributes?: Record<string, string>;
      nodeStageSecretRef?: SecretRef;
      nodePublishSecretRef?: SecretRef;
    };
  };
}

export interface VaLike {
  metadata: { name: string };
  spec: { attacher: string; nodeName: string; source: { persistentVolumeName?: string } };
  status?: {
    attached?: boolean;
    attachmentMetadata?: Record<string, string>;
    attachError?: { message?: string };
  };
}

/** The objects the plan looks up (from the stand-in's caches). */
export interface PlanLookup {
  driverName: string;
  nodeName: string;
  /** The CSIDriver's podInfoOnMount. */
  podInfoOnMount: boolean;
  pvc(namespace: string, name: string): PvcLike | undefined;
  pv(name: string): PvLike | undefined;
  /** The storage VolumeAttachment of a PV on this node. */
  va(pvName: string): VaLike | undefined;
}

export type VolumePlan =
  /** Not this stand-in's business (emptyDir, configMap, a PV of another kind). */
  | { kind: 'skip'; volume: string; reason: string }
  /** Kubelet would refuse it too: reported as FailedMount, never mounted. */
  | { kind: 'refuse'; volume: string; reason: string }
  /** Ours, but not mountable yet (claim not bound, not attached). `inUse` once the PV is known. */
  | { kind: 'wait'; volume: string; reason: string; inUse?: string }
  | {
      kind: 'mount';
      volume: string;
      inUse: string;
      kubeletVolume: KubeletVolume;
      stageSecretRef?: SecretRef;
      publishSecretRef?: SecretRef;
      /** The claim waits for kubelet's part of an expansion (NodeExpandVolume) to this size. */
      nodeExpansion?: NodeExpansion;
    };

export interface NodeExpansion {
  claim: { namespace: string; name: string };
  /** The PV's capacity, as a quantity and in bytes. */
  capacity: string;
  requiredBytes: number;
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/** A Kubernetes quantity of bytes ("128Mi", "1G", "67108864") as a number; undefined if not one. */
export function quantityBytes(quantity: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)$/.exec(quantity.trim());
  if (!m) return undefined;
  const bytes = Math.ceil(Number(m[1]) * SUFFIXES[m[2]!]!);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/**
 * kubelet's part of an expansion is due when the resizer marked the claim NodeResizePending
 * (or, before RecoverVolumeExpansionFailure, FileSystemResizePending) and the PV is larger
 * than the claim's capacity.
 */
export function nodeExpansionOf(pvc: PvcLike, pv: PvLike): NodeExpansion | undefined {
  const pending =
    pvc.status?.allocatedResourceStatuses?.storage === 'NodeResizePending' ||
    (pvc.status?.conditions ?? []).some((c) => c.type === 'FileSystemResizePending' && c.status === 'True');
  const capacity = pv.spec.capacity?.storage;
  if (!pending || !capacity) return undefined;
  const requiredBytes = quantityBytes(capacity);
  if (requiredBytes === undefined) return undefined;
  return {
    claim: { namespace: pvc.metadata.namespace ?? '', name: pvc.metadata.name },
    capacity,
    requiredBytes,
  };
}

/** kubelet's node.status.volumesInUse entry of a CSI volume. */
export function volumeInUseName(driverName: string, volumeHandle: string): string {
  return `kubernetes.io/csi/${driverName}^${volumeHandle}`;
}

/** Kubernetes access modes as CSI's, the way kubelet maps them. */
const ACCESS_MODES: Record<string, string> = {
  ReadWriteOnce: 'SINGLE_NODE_WRITER',
  ReadWriteOncePod: 'SINGLE_NODE_SINGLE_WRITER',
  ReadOnlyMany: 'MULTI_NODE_READER_ONLY',
  ReadWriteMany: 'MULTI_NODE_MULTI_WRITER',
};

function csiAccessMode(pv: PvLike): string {
  const first = pv.spec.accessModes?.[0] ?? 'ReadWriteOnce';
  return ACCESS_MODES[first] ?? 'SINGLE_NODE_WRITER';
}

/** Whether a container uses the volume as a raw device (volumeDevices) rather than a mount. */
function usedAsDevice(pod: PodLike, volume: string): boolean {
  return [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].some((c) =>
    (c.volumeDevices ?? []).some((d) => d.name === volume),
  );
}

/** The claim a pod volume stands for: a PVC by name, or a generic ephemeral volume's `<pod>-<volume>`. */
function claimOf(pod: PodLike, v: PodVolumeSource): { name: string; readOnly: boolean; ephemeral: boolean } {
  if (v.persistentVolumeClaim)
    return {
      name: v.persistentVolumeClaim.claimName,
      readOnly: !!v.persistentVolumeClaim.readOnly,
      ephemeral: false,
    };
  return { name: `${pod.metadata.name}-${v.name}`, readOnly: false, ephemeral: true };
}

/** The plan for one volume of a pod bound to this node. */
export function planVolume(pod: PodLike, v: PodVolumeSource, look: PlanLookup): VolumePlan {
  const volume = v.name;
  if (v.csi) {
    const why =
      v.csi.driver === look.driverName
        ? `CSI inline (ephemeral) volumes are not supported by ${look.driverName}: its CSIDriver lists volumeLifecycleModes [Persistent] only; use a PVC`
        : `CSI driver ${v.csi.driver} is not registered on node ${look.nodeName} (only ${look.driverName} is)`;
    return { kind: 'refuse', volume, reason: why };
  }
  if (!v.persistentVolumeClaim && !v.ephemeral)
    return { kind: 'skip', volume, reason: 'not a persistent volume claim' };
  const ns = pod.metadata.namespace;
  const claim = claimOf(pod, v);
  const pvc = look.pvc(ns, claim.name);
  if (!pvc) return { kind: 'wait', volume, reason: `persistentvolumeclaim "${claim.name}" not found` };
  if (
    claim.ephemeral &&
    !(pvc.metadata.ownerReferences ?? []).some((o) => o.kind === 'Pod' && o.uid === pod.metadata.uid)
  )
    return {
      kind: 'refuse',
      volume,
      reason: `PVC ${ns}/${claim.name} was not created for pod ${pod.metadata.name} (generic ephemeral volume)`,
    };
  const pvName = pvc.spec.volumeName;
  if (pvc.status?.phase !== 'Bound' || !pvName)
    return { kind: 'wait', volume, reason: `persistentvolumeclaim "${claim.name}" is not bound` };
  const pv = look.pv(pvName);
  if (!pv) return { kind: 'wait', volume, reason: `persistentvolume "${pvName}" not found` };
  const csi = pv.spec.csi;
  if (!csi || csi.driver !== look.driverName)
    return { kind: 'skip', volume, reason: `persistentvolume ${pvName} is not a ${look.driverName} volume` };
  const inUse = volumeInUseName(look.driverName, csi.volumeHandle);
  const accessType: AccessType =
    pv.spec.volumeMode === 'Block' || usedAsDevice(pod, volume) ? 'block' : 'mount';
  if (accessType === 'block' && pv.spec.volumeMode !== 'Block')
    return {
      kind: 'refuse',
      volume,
      reason: `volume ${volume} is used in volumeDevices but persistentvolume ${pvName} has volumeMode Filesystem`,
    };
  const va = look.va(pvName);
  if (!va?.status?.attached) {
    const error = va?.status?.attachError?.message;
    const reason = `waiting for the VolumeAttachment of ${pvName} on ${look.nodeName}${error ? `: ${error}` : ''}`;
    return { kind: 'wait', volume, reason, inUse };
  }
  const podInfo: Record<string, string> = look.podInfoOnMount
    ? {
        'csi.storage.k8s.io/pod.name': pod.metadata.name,
        'csi.storage.k8s.io/pod.namespace': ns,
        'csi.storage.k8s.io/pod.uid': pod.metadata.uid,
        'csi.storage.k8s.io/serviceAccount.name': pod.spec.serviceAccountName ?? 'default',
        'csi.storage.k8s.io/ephemeral': 'false',
      }
    : {};
  const kubeletVolume: KubeletVolume = {
    driverName: look.driverName,
    pvName,
    volumeHandle: csi.volumeHandle,
    podUid: pod.metadata.uid,
    accessType,
    ...(accessType === 'mount' ? { fsType: csi.fsType || 'ext4' } : {}),
    ...(pv.spec.mountOptions ? { mountFlags: pv.spec.mountOptions } : {}),
    accessMode: csiAccessMode(pv),
    readonly: claim.readOnly || !!csi.readOnly,
    volumeContext: { ...(csi.volumeAttributes ?? {}), ...podInfo },
    publishContext: va.status.attachmentMetadata ?? {},
  };
  const nodeExpansion = nodeExpansionOf({ ...pvc, metadata: { ...pvc.metadata, namespace: ns } }, pv);
  return {
    kind: 'mount',
    volume,
    inUse,
    kubeletVolume,
    ...(nodeExpansion ? { nodeExpansion } : {}),
    ...(csi.nodeStageSecretRef ? { stageSecretRef: csi.nodeStageSecretRef } : {}),
    ...(csi.nodePublishSecretRef ? { publishSecretRef: csi.nodePublishSecretRef } : {}),
  };
}

/** The plan for every volume of a pod. */
export function planPodVolumes(pod: PodLike, look: PlanLookup): VolumePlan[] {
  return (pod.spec.volumes ?? []).map((v) => planVolume(pod, v, look));
}

/**
 * Whether kwok holds the pod back until the stand-in says its volumes are mounted: the same
 * test as kwok.ts's `volumesMountedSelector` (a PVC, generic ephemeral or CSI inline volume).
 */
export function heldForMounts(pod: PodLike): boolean {
  return (pod.spec.volumes ?? []).some((v) => !!(v.persistentVolumeClaim || v.ephemeral || v.csi));
}

/** Whether the pod needs the stand-in at all (any volume that is not skipped). */
export function needsStandin(plans: readonly VolumePlan[]): boolean {
  return plans.some((p) => p.kind !== 'skip');
}

/** The pod's kubelet-style FailedMount message for a refusal or a failed CSI call. */
export function failedMountMessage(
  plan: { volume: string },
  pvName: string | undefined,
  error: string,
): string {
  return `MountVolume.SetUp failed for volume "${pvName ?? plan.volume}" : ${error}`;
}
