import { mkdir, rm, rmdir, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TOPOLOGY_REGION_LABEL, TOPOLOGY_ZONE_LABEL, type Volume } from '@longhorn-ts/api';
import { capabilityProblem } from '../controller/capabilities.js';
import type { StringMap, VolumeCapability } from '../csi-types.js';
import { CsiError, invalid, notFound, precondition, required } from '../errors.js';
import type { LonghornObjects } from '../k8s/longhorn-objects.js';
import type { ServiceSpec } from '../rpc/edge.js';
import {
  bindMount,
  detectFilesystem,
  growExt4Offline,
  growFilesystem,
  makeFilesystem,
  mount,
  unmountAll,
} from './filesystem-ops.js';
import { DEFAULT_FILESYSTEM, isFilesystem } from './filesystems.js';
import { detachLoop, deviceSize, loopDevices } from './loop-devices.js';
import { mountAt, mountTable } from './mount-table.js';
import type { NbdAttacher } from './nbd-attach.js';

export const NODE_CAPABILITIES = [
  'STAGE_UNSTAGE_VOLUME',
  'GET_VOLUME_STATS',
  'EXPAND_VOLUME',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
] as const;

export interface NodeIdentity {
  nodeId: string;
  zone?: string;
  region?: string;
}

interface StageRequest {
  volumeId?: string;
  publishContext?: StringMap;
  stagingTargetPath?: string;
  volumeCapability?: VolumeCapability | null;
  volumeContext?: StringMap;
}

interface PublishRequest extends StageRequest {
  targetPath?: string;
  readonly?: boolean;
}

const volumeOf = (r: { volumeId?: string }) => r.volumeId;

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/** What the node needs of the volume: it exists, and it is attached here with its NBD endpoint. */
async function attachedEndpoint(objects: LonghornObjects, volumeId: string, nodeId: string): Promise<string> {
  const volume = await objects.get('Volume', volumeId);
  if (!volume) throw notFound(`volume ${volumeId} not found`);
  const where = volume.status?.currentNodeID ?? '';
  if (volume.status?.state !== 'attached' || where !== nodeId) {
    throw precondition(
      `volume ${volumeId} is not attached to node ${nodeId} (state ${volume.status?.state || 'unknown'}` +
        `${where ? `, attached to ${where}` : ''}): ControllerPublishVolume first`,
    );
  }
  const engine = await objects.engineOf(volumeId);
  const endpoint = engine?.status?.endpoint ?? '';
  if (!endpoint.startsWith('nbd://')) {
    throw new CsiError('UNAVAILABLE', `volume ${volumeId}'s engine has no NBD endpoint yet`);
  }
  return endpoint;
}

function volumeCondition(volume: Volume | undefined): { abnormal: boolean; message: string } {
  const robustness = volume?.status?.robustness ?? '';
  if (robustness === 'faulted') return { abnormal: true, message: 'volume is faulted: no healthy replica' };
  if (robustness === 'degraded')
    return { abnormal: true, message: 'volume is degraded: replicas are rebuilding or missing' };
  return { abnormal: false, message: `volume is ${robustness || 'in an unknown state'}` };
}

/** The Node service: NBD endpoint → lh-nbdfuse → loop device → file system → bind mounts. */
export function nodeService(deps: {
  identity: NodeIdentity;
  objects: LonghornObjects;
  attacher: NbdAttacher;
}): ServiceSpec {
  const { identity, objects, attacher } = deps;

  async function stage(r: StageRequest) {
    const volumeId = required(r.volumeId, 'volume_id');
    const staging = required(r.stagingTargetPath, 'staging_target_path');
    const cap = required(r.volumeCapability, 'volume_capability');
    const problem = capabilityProblem(cap);
    if (problem) throw invalid(problem);
    const endpoint = await attachedEndpoint(objects, volumeId, identity.nodeId);
    const device = await attacher.attach(volumeId, endpoint);
    if (cap.accessType === 'block') return {};

    const fsType = cap.mount?.fsType || r.volumeContext?.fsType || DEFAULT_FILESYSTEM;
    if (!isFilesystem(fsType)) throw invalid(`file system ${fsType} is not supported (ext4, xfs)`);
    const mounted = await mountAt(staging);
    if (mounted) {
      if (mounted.source !== device)
        throw new CsiError(
          'ALREADY_EXISTS',
          `${staging} is already mounted from ${mounted.source}, not ${device}`,
        );
      return {};
    }
    await mkdir(staging, { recursive: true });
    const existing = await detectFilesystem(device);
    if (existing === '') await makeFilesystem(fsType, device, r.volumeContext?.mkfsParams);
    else if (existing !== fsType)
      throw precondition(`volume ${volumeId} holds a ${existing} file system, ${fsType} was asked for`);
    // The volume may have grown while it was not mounted: the file system follows its device,
    // ext4 before mounting (offline resize needs no CAP_SYS_RESOURCE), xfs only mounted.
    if (fsType === 'ext4') await growExt4Offline(device);
    const flags = cap.mount?.mountFlags ?? [];
    await mount(device, staging, fsType, flags);
    if (fsType === 'xfs') await growFilesystem(fsType, device, staging);
    return {};
  }

  async function unstage(r: { volumeId?: string; stagingTargetPath?: string }) {
    const volumeId = required(r.volumeId, 'volume_id');
    const staging = required(r.stagingTargetPath, 'staging_target_path');
    const mounted = await mountAt(staging);
    await unmountAll(staging);
    // A loop device mounted there that is not at our path (an older layout) goes too.
    if (mounted?.source.startsWith('/dev/loop')) {
      const ours = new Set([attacher.paths(volumeId).file]);
      const loop = (await loopDevices()).find((d) => d.device === mounted.source);
      if (loop && !ours.has(loop.backingFile)) await detachLoop(loop.device);
    }
    await attacher.release(volumeId);
    return {};
  }

  async function publish(r: PublishRequest) {
    const volumeId = required(r.volumeId, 'volume_id');
    const target = required(r.targetPath, 'target_path');
    const cap = required(r.volumeCapability, 'volume_capability');
    const staging = required(r.stagingTargetPath, 'staging_target_path');
    const problem = capabilityProblem(cap);
    if (problem) throw invalid(problem);
    const readonly = r.readonly === true || cap.accessMode?.mode === 'SINGLE_NODE_READER_ONLY';
    if (cap.accessType === 'block') {
      const device = await attacher.device(volumeId);
      if (!device) throw precondition(`volume ${volumeId} is not staged on node ${identity.nodeId}`);
      const mounted = await mountAt(target);
      if (mounted) return {};
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, '', { flag: 'a' });
      await bindMount(device, target, readonly);
      return {};
    }
    const staged = await mountAt(staging);
    if (!staged) throw precondition(`volume ${volumeId} is not staged at ${staging}`);
    if (cap.accessMode?.mode === 'SINGLE_NODE_SINGLE_WRITER') {
      const elsewhere = (await mountTable()).find(
        (m) => m.source === staged.source && m.target !== staging && m.target !== target,
      );
      if (elsewhere)
        throw precondition(
          `volume ${volumeId} is single-writer and already published at ${elsewhere.target}`,
        );
    }
    const mounted = await mountAt(target);
    if (mounted) {
      const isRo = mounted.options.includes('ro');
      if (isRo !== readonly)
        throw new CsiError(
          'ALREADY_EXISTS',
          `${target} is already published ${isRo ? 'read-only' : 'read-write'}`,
        );
      return {};
    }
    await mkdir(target, { recursive: true });
    await bindMount(staging, target, readonly);
    return {};
  }

  async function unpublish(r: { volumeId?: string; targetPath?: string }) {
    required(r.volumeId, 'volume_id');
    const target = required(r.targetPath, 'target_path');
    await unmountAll(target);
    const s = await stat(target).catch((err) => {
      if (isMissing(err)) return undefined;
      throw err;
    });
    if (s?.isDirectory()) await rmdir(target);
    else if (s) await rm(target, { force: true });
    return {};
  }

  async function stats(r: { volumeId?: string; volumePath?: string }) {
    const volumeId = required(r.volumeId, 'volume_id');
    const path = required(r.volumePath, 'volume_path');
    const volume = await objects.get('Volume', volumeId);
    if (!volume) throw notFound(`volume ${volumeId} not found`);
    const s = await stat(path).catch((err) => {
      if (isMissing(err)) throw notFound(`volume path ${path} does not exist`);
      throw err;
    });
    const condition = volumeCondition(volume);
    if (!s.isDirectory()) {
      const device = await attacher.device(volumeId);
      const total = device ? await deviceSize(device) : 0;
      return { usage: [{ unit: 'BYTES', total, available: 0, used: 0 }], volumeCondition: condition };
    }
    if (!(await mountAt(path))) throw notFound(`volume ${volumeId} is not mounted at ${path}`);
    const fs = await statfs(path);
    return {
      usage: [
        {
          unit: 'BYTES',
          total: fs.blocks * fs.bsize,
          available: fs.bavail * fs.bsize,
          used: (fs.blocks - fs.bfree) * fs.bsize,
        },
        { unit: 'INODES', total: fs.files, available: fs.ffree, used: fs.files - fs.ffree },
      ],
      volumeCondition: condition,
    };
  }

  async function expand(r: {
    volumeId?: string;
    volumePath?: string;
    capacityRange?: { requiredBytes?: number } | null;
    volumeCapability?: VolumeCapability | null;
  }) {
    const volumeId = required(r.volumeId, 'volume_id');
    const path = required(r.volumePath, 'volume_path');
    const asked = Number(r.capacityRange?.requiredBytes ?? 0);
    if (!Number.isSafeInteger(asked) || asked < 0)
      throw invalid(`capacity_range.required_bytes ${r.capacityRange?.requiredBytes} is not a byte count`);
    const volume = await objects.get('Volume', volumeId);
    if (!volume) throw notFound(`volume ${volumeId} not found`);
    if (!(await attacher.device(volumeId)))
      throw notFound(`volume ${volumeId} is not staged on node ${identity.nodeId}`);
    const target = await stat(path).catch((err) => {
      if (isMissing(err)) throw notFound(`volume path ${path} does not exist`);
      throw err;
    });
    // Online: the helper reconnects to learn the engine's new size, the loop device takes it,
    // then the mounted file system grows. Without a size asked, the Volume's size is the goal.
    const wanted = asked || Number(volume.spec.size ?? '0');
    const { device, sizeBytes } = await attacher.grow(volumeId, wanted);
    if (r.volumeCapability?.accessType === 'block' || !target.isDirectory())
      return { capacityBytes: sizeBytes };
    const mounted = await mountAt(path);
    if (!mounted) throw notFound(`volume ${volumeId} is not mounted at ${path}`);
    await growFilesystem(mounted.fsType, device, path);
    return { capacityBytes: sizeBytes };
  }

  return {
    NodeStageVolume: { handler: stage, volumeOf },
    NodeUnstageVolume: { handler: unstage, volumeOf },
    NodePublishVolume: { handler: publish, volumeOf },
    NodeUnpublishVolume: { handler: unpublish, volumeOf },
    NodeGetVolumeStats: { handler: stats, quiet: true },
    NodeExpandVolume: { handler: expand, volumeOf },
    NodeGetCapabilities: {
      quiet: true,
      handler: async () => ({
        capabilities: NODE_CAPABILITIES.map((type) => ({ rpc: { type } })),
      }),
    },
    NodeGetInfo: {
      quiet: true,
      handler: async () => {
        const segments: StringMap = {};
        if (identity.zone) segments[TOPOLOGY_ZONE_LABEL] = identity.zone;
        if (identity.region) segments[TOPOLOGY_REGION_LABEL] = identity.region;
        return {
          nodeId: identity.nodeId,
          maxVolumesPerNode: 0,
          ...(Object.keys(segments).length > 0 ? { accessibleTopology: { segments } } : {}),
        };
      },
    },
  };
}
