import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';

// There is no kubelet here (kwok only reports status), so where kubelet would call a CSI node
// plugin the harness does: the same calls, in the same order, with the same paths. The gRPC
// client is whatever the CSI workspace provides; it only has to offer these methods with the
// csi.proto request shapes (camelCase, as @grpc/proto-loader maps them).

export type AccessType = 'mount' | 'block';

export interface CsiVolumeCapability {
  mount?: { fsType?: string; mountFlags?: string[] };
  block?: Record<string, never>;
  accessMode: { mode: string };
}

export interface CsiNodeClient {
  nodeGetCapabilities(request: Record<string, never>): Promise<{
    capabilities?: { rpc?: { type?: string } }[];
  }>;
  nodeStageVolume(request: {
    volumeId: string;
    publishContext: Record<string, string>;
    stagingTargetPath: string;
    volumeCapability: CsiVolumeCapability;
    secrets: Record<string, string>;
    volumeContext: Record<string, string>;
  }): Promise<unknown>;
  nodePublishVolume(request: {
    volumeId: string;
    publishContext: Record<string, string>;
    stagingTargetPath?: string;
    targetPath: string;
    volumeCapability: CsiVolumeCapability;
    readonly: boolean;
    secrets: Record<string, string>;
    volumeContext: Record<string, string>;
  }): Promise<unknown>;
  nodeUnpublishVolume(request: { volumeId: string; targetPath: string }): Promise<unknown>;
  nodeUnstageVolume(request: { volumeId: string; stagingTargetPath: string }): Promise<unknown>;
  /** Only for drivers with EXPAND_VOLUME. */
  nodeExpandVolume?(request: {
    volumeId: string;
    volumePath: string;
    stagingTargetPath?: string;
    capacityRange: { requiredBytes: number };
    volumeCapability: CsiVolumeCapability;
  }): Promise<unknown>;
}

/** One volume of one pod, as kubelet knows it from the PV, the VolumeAttachment and the pod. */
export interface KubeletVolume {
  driverName: string;
  /** PV name (kubelet names publish paths after it). */
  pvName: string;
  /** PV spec.csi.volumeHandle. */
  volumeHandle: string;
  podUid: string;
  accessType: AccessType;
  fsType?: string;
  mountFlags?: string[];
  /** e.g. SINGLE_NODE_WRITER, MULTI_NODE_MULTI_WRITER */
  accessMode?: string;
  readonly?: boolean;
  /** PV spec.csi.volumeAttributes (plus pod info when the CSIDriver asks for it). */
  volumeContext?: Record<string, string>;
  /** VolumeAttachment status.attachmentMetadata. */
  publishContext?: Record<string, string>;
  stageSecrets?: Record<string, string>;
  publishSecrets?: Record<string, string>;
}

/** The paths kubelet uses under its root dir (default /var/lib/kubelet; here a node's data dir). */
export function kubeletPaths(
  kubeletDir: string,
  v: Pick<KubeletVolume, 'driverName' | 'pvName' | 'volumeHandle' | 'podUid' | 'accessType'>,
) {
  const csiRoot = join(kubeletDir, 'plugins', 'kubernetes.io', 'csi');
  if (v.accessType === 'block') {
    return {
      stagingTargetPath: join(csiRoot, 'volumeDevices', 'staging', v.pvName),
      targetPath: join(csiRoot, 'volumeDevices', 'publish', v.pvName, v.podUid),
    };
  }
  const handleHash = createHash('sha256').update(v.volumeHandle).digest('hex');
  return {
    stagingTargetPath: join(csiRoot, v.driverName, handleHash, 'globalmount'),
    targetPath: join(kubeletDir, 'pods', v.podUid, 'volumes', 'kubernetes.io~csi', v.pvName, 'mount'),
  };
}

function capability(v: KubeletVolume): CsiVolumeCapability {
  const accessMode = { mode: v.accessMode ?? 'SINGLE_NODE_WRITER' };
  return v.accessType === 'block'
    ? { block: {}, accessMode }
    : { mount: { fsType: v.fsType ?? 'ext4', mountFlags: v.mountFlags ?? [] }, accessMode };
}

async function stagesVolumes(client: CsiNodeClient): Promise<boolean> {
  const caps = await client.nodeGetCapabilities({});
  return (caps.capabilities ?? []).some((c) => c.rpc?.type === 'STAGE_UNSTAGE_VOLUME');
}

/**
 * Mounting a volume for a pod, as kubelet does: NodeGetCapabilities, NodeStageVolume (when the
 * driver stages; kubelet creates the staging directory), then NodePublishVolume (kubelet creates
 * only the target's parent; the driver creates the target).
 */
export async function kubeletMountVolume(client: CsiNodeClient, kubeletDir: string, v: KubeletVolume) {
  const paths = kubeletPaths(kubeletDir, v);
  const volumeCapability = capability(v);
  const publishContext = v.publishContext ?? {};
  const volumeContext = v.volumeContext ?? {};
  const staged = await stagesVolumes(client);
  if (staged) {
    await mkdir(paths.stagingTargetPath, { recursive: true });
    await client.nodeStageVolume({
      volumeId: v.volumeHandle,
      publishContext,
      stagingTargetPath: paths.stagingTargetPath,
      volumeCapability,
      secrets: v.stageSecrets ?? {},
      volumeContext,
    });
  }
  await mkdir(dirname(paths.targetPath), { recursive: true });
  await client.nodePublishVolume({
    volumeId: v.volumeHandle,
    publishContext,
    ...(staged ? { stagingTargetPath: paths.stagingTargetPath } : {}),
    targetPath: paths.targetPath,
    volumeCapability,
    readonly: v.readonly ?? false,
    secrets: v.publishSecrets ?? {},
    volumeContext,
  });
  return { ...paths, staged };
}

/**
 * kubelet's part of an online expansion: NodeExpandVolume on the pod's target path (with the
 * staging path when the driver stages), if the driver has EXPAND_VOLUME; returns whether it
 * was called.
 */
export async function kubeletExpandVolume(
  client: CsiNodeClient,
  kubeletDir: string,
  v: KubeletVolume,
  requiredBytes: number,
): Promise<boolean> {
  const caps = (await client.nodeGetCapabilities({})).capabilities ?? [];
  if (!client.nodeExpandVolume || !caps.some((c) => c.rpc?.type === 'EXPAND_VOLUME')) return false;
  const paths = kubeletPaths(kubeletDir, v);
  const staged = caps.some((c) => c.rpc?.type === 'STAGE_UNSTAGE_VOLUME');
  await client.nodeExpandVolume({
    volumeId: v.volumeHandle,
    volumePath: paths.targetPath,
    ...(staged ? { stagingTargetPath: paths.stagingTargetPath } : {}),
    capacityRange: { requiredBytes },
    volumeCapability: capability(v),
  });
  return true;
}

/** NodeUnpublishVolume of one pod's target (kubelet's TearDown). */
export async function kubeletUnpublishVolume(client: CsiNodeClient, kubeletDir: string, v: KubeletVolume) {
  const paths = kubeletPaths(kubeletDir, v);
  await client.nodeUnpublishVolume({ volumeId: v.volumeHandle, targetPath: paths.targetPath });
  return paths;
}

/**
 * NodeUnstageVolume when the driver stages (kubelet's UnmountDevice, once no pod on the node
 * uses the volume any more); returns whether it was called.
 */
export async function kubeletUnstageVolume(client: CsiNodeClient, kubeletDir: string, v: KubeletVolume) {
  const paths = kubeletPaths(kubeletDir, v);
  const staged = await stagesVolumes(client);
  if (staged)
    await client.nodeUnstageVolume({ volumeId: v.volumeHandle, stagingTargetPath: paths.stagingTargetPath });
  return staged;
}

/** Unmounting, as kubelet does: NodeUnpublishVolume, then NodeUnstageVolume when it stages. */
export async function kubeletUnmountVolume(client: CsiNodeClient, kubeletDir: string, v: KubeletVolume) {
  const paths = await kubeletUnpublishVolume(client, kubeletDir, v);
  const staged = await kubeletUnstageVolume(client, kubeletDir, v);
  return { ...paths, staged };
}
