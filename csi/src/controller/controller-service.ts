import {
  attachmentTicketId,
  csiAttachmentTicketId,
  isTicketSatisfied,
  LABEL_VOLUME,
  LONGHORN_API_VERSION,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
  type VolumeSpec,
} from '@longhorn-ts/api';
import {
  type CapacityRange,
  type CsiSnapshot,
  type CsiVolume,
  type StringMap,
  type Topology,
  timestamp,
  type VolumeCapability,
} from '../csi-types.js';
import { CsiError, invalid, notFound, precondition, required } from '../errors.js';
import { addTicket, removeTickets, ticketsOf } from '../k8s/attachment-tickets.js';
import type { LonghornObjects } from '../k8s/longhorn-objects.js';
import { pollUntil } from '../poll.js';
import type { CallContext, ServiceSpec } from '../rpc/edge.js';
import { backupSnapshots } from './backup-snapshots.js';
import { budget } from './call-budget.js';
import { capabilitiesProblem, capabilityProblem, volumeAccessMode } from './capabilities.js';
import { cloneGate, resolveContentSource, sizeForSource } from './content-source.js';
import { checkProvisionerSecrets } from './crypto-secrets.js';
import { expansionPlan } from './expansion-plan.js';
import { type ParsedParameters, parseParameters } from './parameters.js';
import { restoreGate } from './restore-gate.js';
import { SIZE_ALIGNMENT, sizeFor, sizeSatisfies } from './sizes.js';
import { snapshotClassKind } from './snapshot-class.js';
import {
  objectName,
  parseBackupSnapshotId,
  parseSnapshotId,
  snapshotId,
  volumeOfSnapshotId,
} from './snapshot-ids.js';
import { accessibleTopologyOf, sameTerms, topologyRequirementOf } from './topology.js';

/** Touched on a Snapshot CR so the operator reconciles it again (it does not on engine events). */
const NUDGE_ANNOTATION = 'csi.longhorn-ts.io/requested-at';

/** How a volume was published to a node (a repeated publish must ask the same). */
const publishAnnotation = (node: string) => `csi.longhorn-ts.io/published.${node}`;
const publishedAs = (cap: VolumeCapability, readonly: boolean) =>
  `${cap.accessType ?? ''},${cap.accessMode?.mode ?? ''},${readonly ? 'ro' : 'rw'}`;

/** Where the driver keeps a volume's StorageClass parameters (for repeated CreateVolume and lists). */
export const PARAMETERS_ANNOTATION = 'csi.longhorn-ts.io/volume-context';

export interface ControllerTimeouts {
  /** How long CreateVolume/DeleteVolume wait for the operator when the caller set no deadline. */
  volumeMs: number;
  /** How long ControllerPublish/Unpublish wait for the attachment. */
  attachMs: number;
  /** How long CreateSnapshot waits for readyToUse before answering readyToUse false. */
  snapshotMs: number;
  /** How long a `bak` CreateSnapshot waits for the backup to complete before answering readyToUse false. */
  backupMs: number;
}

export const DEFAULT_TIMEOUTS: ControllerTimeouts = {
  volumeMs: 60_000,
  attachMs: 120_000,
  snapshotMs: 60_000,
  backupMs: 20_000,
};

function volumeContextOf(volume: Volume): StringMap {
  const raw = volume.metadata.annotations?.[PARAMETERS_ANNOTATION];
  if (!raw) return {};
  try {
    return JSON.parse(raw) as StringMap;
  } catch {
    return {};
  }
}

function csiVolume(volume: Volume): CsiVolume {
  const accessibleTopology = accessibleTopologyOf(volume.spec.topologyRequirement);
  return {
    volumeId: volume.metadata.name,
    capacityBytes: Number(volume.spec.size ?? '0'),
    volumeContext: volumeContextOf(volume),
    ...(accessibleTopology && { accessibleTopology }),
  };
}

/** The spec field that differs between an existing volume and a repeated request, if any. */
function incompatibility(volume: Volume, parsed: ParsedParameters, accessMode: string): string | undefined {
  const existing = volumeContextOf(volume);
  const keys = new Set([...Object.keys(existing), ...Object.keys(parsed.volumeContext)]);
  for (const k of keys) {
    if ((existing[k] ?? '') !== (parsed.volumeContext[k] ?? ''))
      return `parameter ${k} is "${existing[k] ?? ''}", the request asks "${parsed.volumeContext[k] ?? ''}"`;
  }
  if ((volume.spec.accessMode ?? 'rwo') !== accessMode)
    return `access mode is ${volume.spec.accessMode}, the request asks ${accessMode}`;
  return undefined;
}

const volumeCreated = (v: Volume | undefined) => {
  const state = v?.status?.state ?? '';
  return state !== '' && state !== 'creating';
};

function isAttachedTo(volume: Volume | undefined, node: string): boolean {
  return volume?.status?.state === 'attached' && volume.status.currentNodeID === node;
}

/** The node ids the CSI attacher has published the volume to. */
function publishedNodes(attachment: VolumeAttachment | undefined): string[] {
  return ticketsOf(attachment, 'csi-attacher')
    .map((t) => t.nodeID ?? '')
    .filter((n) => n !== '');
}

function volumeCondition(volume: Volume) {
  const r = volume.status?.robustness ?? '';
  const abnormal = r === 'faulted' || r === 'degraded';
  return {
    abnormal,
    message: abnormal
      ? `volume is ${r}`
      : `volume is ${volume.status?.state || 'creating'}, ${r || 'unknown'}`,
  };
}

/** Paging over a sorted list: the token is the index of the next entry. */
function page<T>(items: T[], startingToken: string | undefined, maxEntries: number | undefined) {
  let start = 0;
  if (startingToken) {
    start = Number(startingToken);
    if (!/^\d+$/.test(startingToken) || start > items.length)
      throw new CsiError(
        'INVALID_TOKEN',
        `starting_token ${startingToken} was not handed out by this driver`,
      );
  }
  if ((maxEntries ?? 0) < 0) throw invalid('max_entries must not be negative');
  const end = maxEntries ? Math.min(items.length, start + maxEntries) : items.length;
  return { entries: items.slice(start, end), nextToken: end < items.length ? String(end) : '' };
}

function isUserSnapshot(s: Snapshot): boolean {
  return (
    s.metadata.deletionTimestamp === undefined &&
    (s.spec.createSnapshot === true || s.status?.userCreated === true)
  );
}

function csiSnapshot(s: Snapshot, volumeSize: number): CsiSnapshot {
  return {
    snapshotId: snapshotId(s.spec.volume, s.metadata.name),
    sourceVolumeId: s.spec.volume,
    sizeBytes: s.status?.restoreSize || volumeSize,
    creationTime: timestamp(s.status?.creationTime || s.metadata.creationTimestamp),
    readyToUse: s.status?.readyToUse === true,
  };
}

/** The ticket that attaches a detached volume while a snapshot is taken. */
const snapshotTicketId = (snapshot: string) => attachmentTicketId('snapshot-controller', snapshot);

export interface CreateVolumeRequest {
  name?: string;
  capacityRange?: CapacityRange | null;
  volumeCapabilities?: VolumeCapability[];
  parameters?: StringMap;
  volumeContentSource?: {
    type?: string;
    snapshot?: { snapshotId?: string } | null;
    volume?: { volumeId?: string } | null;
  } | null;
  accessibilityRequirements?: { requisite?: Topology[]; preferred?: Topology[] } | null;
  /** The provisioner secret's contents (csi_secret: redacted in logs). */
  secrets?: StringMap;
}

/** The Controller service: Volume CRs, attachment tickets and Snapshot CRs for the operator. */
export function controllerService(deps: {
  objects: LonghornObjects;
  timeouts?: Partial<ControllerTimeouts>;
}): ServiceSpec {
  const { objects } = deps;
  const timeouts = { ...DEFAULT_TIMEOUTS, ...deps.timeouts };

  async function largestDisk(): Promise<number> {
    const nodes = await objects.list('Node');
    let largest = 0;
    for (const n of nodes)
      for (const [id, d] of Object.entries(n.spec.disks ?? {})) {
        const status = n.status?.diskStatus?.[id];
        largest = Math.max(largest, (status?.storageMaximum ?? 0) - (d.storageReserved ?? 0));
      }
    return largest;
  }

  async function createVolume(r: CreateVolumeRequest, ctx: CallContext) {
    const csiName = required(r.name, 'name');
    const caps = required(r.volumeCapabilities, 'volume_capabilities');
    const problem = capabilitiesProblem(caps);
    if (problem) throw invalid(problem);
    // A snapshot or volume to clone becomes spec.dataSource (content-source.ts); a backup
    // (`bak://`) spec.fromBackup (backup-snapshots.ts), as does the StorageClass's fromBackup.
    const content = r.volumeContentSource;
    const backupId =
      content?.type === 'snapshot' && parseBackupSnapshotId(content.snapshot?.snapshotId ?? '')
        ? content.snapshot?.snapshotId
        : undefined;
    const source = backupId
      ? await backups.resolveSource(backupId)
      : content?.type
        ? await resolveContentSource(objects, content)
        : undefined;
    const parsed = parseParameters(r.parameters ?? {});
    checkProvisionerSecrets(parsed.spec.encrypted, r.secrets);
    const fromBackup = source ? source.fromBackup : parsed.spec.fromBackup;
    const sourceSize =
      source?.sourceSize ?? (fromBackup ? await backups.sizeOfBackupUrl(fromBackup) : undefined);
    const size =
      sourceSize !== undefined ? sizeForSource(r.capacityRange, sourceSize) : sizeFor(r.capacityRange);
    const name = objectName(csiName);
    const accessMode = volumeAccessMode(caps);
    const topologyRequirement = topologyRequirementOf(r.accessibilityRequirements);

    let volume = await objects.get('Volume', name);
    if (volume) {
      const existingSize = Number(volume.spec.size ?? '0');
      if (!sizeSatisfies(existingSize, r.capacityRange))
        throw new CsiError(
          'ALREADY_EXISTS',
          `volume ${name} exists with ${existingSize} bytes, outside the requested range ${JSON.stringify(r.capacityRange)}`,
        );
      const why = incompatibility(volume, parsed, accessMode);
      if (why) throw new CsiError('ALREADY_EXISTS', `volume ${name} exists with other parameters: ${why}`);
      if (!sameTerms(volume.spec.topologyRequirement, topologyRequirement))
        throw new CsiError(
          'ALREADY_EXISTS',
          `volume ${name} exists with topology ${JSON.stringify(volume.spec.topologyRequirement ?? [])}, the request asks ${JSON.stringify(topologyRequirement ?? [])}`,
        );
      if ((volume.spec.dataSource ?? '') !== (source?.dataSource ?? ''))
        throw new CsiError(
          'ALREADY_EXISTS',
          `volume ${name} exists with content source "${volume.spec.dataSource ?? ''}", the request asks "${source?.dataSource ?? ''}"`,
        );
      if ((volume.spec.fromBackup ?? '') !== (fromBackup ?? ''))
        throw new CsiError(
          'ALREADY_EXISTS',
          `volume ${name} exists restored from "${volume.spec.fromBackup ?? ''}", the request asks "${fromBackup ?? ''}"`,
        );
    } else {
      const largest = await largestDisk();
      if (largest > 0 && size > largest)
        throw new CsiError(
          'OUT_OF_RANGE',
          `volume size ${size} bytes is more than the largest disk can hold (${largest} bytes schedulable)`,
        );
      const spec: VolumeSpec = {
        ...parsed.spec,
        size: String(size),
        frontend: 'blockdev',
        accessMode,
        ...(source?.dataSource && { dataSource: source.dataSource }),
        ...(fromBackup && { fromBackup }),
        ...(topologyRequirement && { topologyRequirement }),
      };
      try {
        volume = await objects.create('Volume', {
          apiVersion: LONGHORN_API_VERSION,
          kind: 'Volume',
          metadata: { name, annotations: { [PARAMETERS_ANNOTATION]: JSON.stringify(parsed.volumeContext) } },
          spec,
        });
        ctx.log.info({ volume: name, size }, 'volume created');
      } catch (err) {
        if (err instanceof CsiError && err.code === 'ALREADY_EXISTS') throw new CsiError('BUSY', err.message);
        throw err;
      }
    }
    await pollUntil(
      `volume ${name} to be created by the operator`,
      budget(ctx, timeouts.volumeMs),
      async () => volumeCreated(await objects.get('Volume', name)),
    );
    const contentSource = source?.contentSource;
    return {
      volume: {
        ...csiVolume(volume),
        volumeContext: volumeContextOf(volume),
        ...(contentSource && { contentSource }),
      },
    };
  }

  async function deleteVolume(r: { volumeId?: string }, ctx: CallContext) {
    const name = required(r.volumeId, 'volume_id');
    const volume = await objects.get('Volume', name);
    if (!volume) return {};
    const published = publishedNodes(await objects.get('VolumeAttachment', name));
    if (published.length > 0)
      throw precondition(`volume ${name} is still published to node(s) ${published.join(', ')}`);
    await objects.delete('Volume', name);
    await pollUntil(
      `volume ${name} to be deleted`,
      budget(ctx, timeouts.volumeMs),
      async () => (await objects.get('Volume', name)) === undefined,
    );
    return {};
  }

  async function publish(
    r: { volumeId?: string; nodeId?: string; volumeCapability?: VolumeCapability | null; readonly?: boolean },
    ctx: CallContext,
  ) {
    const name = required(r.volumeId, 'volume_id');
    const nodeId = required(r.nodeId, 'node_id');
    const cap = required(r.volumeCapability, 'volume_capability');
    const problem = capabilityProblem(cap);
    if (problem) throw invalid(problem);
    const volume = await objects.get('Volume', name);
    if (!volume) throw notFound(`volume ${name} not found`);
    if (!(await objects.get('Node', nodeId)))
      throw notFound(`node ${nodeId} not found (no Longhorn Node CR)`);
    cloneGate(volume);
    restoreGate(volume);
    const others = publishedNodes(await objects.get('VolumeAttachment', name)).filter((n) => n !== nodeId);
    if (others.length > 0)
      throw precondition(`volume ${name} is published to node ${others.join(', ')}; single-node access only`);
    const id = csiAttachmentTicketId(name, nodeId);
    const how = publishedAs(cap, r.readonly === true);
    const before = volume.metadata.annotations?.[publishAnnotation(nodeId)];
    if (before !== undefined && before !== how)
      throw new CsiError(
        'ALREADY_EXISTS',
        `volume ${name} is already published to node ${nodeId} as ${before}, not ${how}`,
      );
    if (before === undefined)
      await objects.patch('Volume', name, {
        metadata: { annotations: { [publishAnnotation(nodeId)]: how } },
      });
    await addTicket(objects, name, { id, type: 'csi-attacher', nodeID: nodeId, disableFrontend: 'false' });
    let last: Volume | undefined;
    try {
      await pollUntil(
        `volume ${name} to attach to node ${nodeId}`,
        budget(ctx, timeouts.attachMs),
        async () => {
          const [attachment, v, engine] = await Promise.all([
            objects.get('VolumeAttachment', name),
            objects.get('Volume', name),
            objects.engineOf(name),
          ]);
          last = v;
          return (
            attachment !== undefined &&
            isTicketSatisfied(attachment, id) &&
            isAttachedTo(v, nodeId) &&
            (engine?.status?.endpoint ?? '') !== ''
          );
        },
      );
    } catch (err) {
      if (err instanceof CsiError && err.code === 'DEADLINE_EXCEEDED')
        throw new CsiError(
          'DEADLINE_EXCEEDED',
          `volume ${name} is not attached to node ${nodeId} yet (state ${last?.status?.state || 'unknown'}, ` +
            `robustness ${last?.status?.robustness || 'unknown'}); the attachment ticket stays, retry`,
        );
      throw err;
    }
    return { publishContext: {} };
  }

  async function unpublish(r: { volumeId?: string; nodeId?: string }, ctx: CallContext) {
    const name = required(r.volumeId, 'volume_id');
    const volume = await objects.get('Volume', name);
    if (!volume) return {};
    const attachment = await objects.get('VolumeAttachment', name);
    const ours = ticketsOf(attachment, 'csi-attacher').filter((t) => !r.nodeId || t.nodeID === r.nodeId);
    await removeTickets(
      objects,
      name,
      ours.map((t) => t.id ?? ''),
    );
    const nodes = new Set(r.nodeId ? [r.nodeId] : ours.map((t) => t.nodeID ?? ''));
    const published = [...nodes]
      .map(publishAnnotation)
      .filter((k) => volume.metadata.annotations?.[k] !== undefined);
    if (published.length > 0)
      await objects.patch('Volume', name, {
        metadata: { annotations: Object.fromEntries(published.map((k) => [k, null])) },
      });
    await pollUntil(
      `volume ${name} to detach from ${[...nodes].join(', ')}`,
      budget(ctx, timeouts.attachMs),
      async () => {
        const [v, a] = await Promise.all([
          objects.get('Volume', name),
          objects.get('VolumeAttachment', name),
        ]);
        const where = v?.status?.currentNodeID ?? '';
        if (!v || !nodes.has(where) || v.status?.state === 'detached') return true;
        // Another requester (the Longhorn API, a snapshot) keeps it on that node: not ours to wait for.
        return Object.values(a?.spec.attachmentTickets ?? {}).some((t) => t.nodeID === where);
      },
    );
    return {};
  }

  async function validate(r: {
    volumeId?: string;
    volumeCapabilities?: VolumeCapability[];
    volumeContext?: StringMap;
    parameters?: StringMap;
  }) {
    const name = required(r.volumeId, 'volume_id');
    const caps = required(r.volumeCapabilities, 'volume_capabilities');
    const volume = await objects.get('Volume', name);
    if (!volume) throw notFound(`volume ${name} not found`);
    const problem = capabilitiesProblem(caps);
    if (problem) return { message: problem };
    return {
      confirmed: {
        volumeContext: r.volumeContext ?? {},
        volumeCapabilities: caps,
        parameters: r.parameters ?? {},
      },
    };
  }

  async function listVolumes(r: { maxEntries?: number; startingToken?: string }) {
    const [volumes, attachments] = await Promise.all([
      objects.list('Volume'),
      objects.list('VolumeAttachment'),
    ]);
    const byName = new Map(attachments.map((a) => [a.metadata.name, a]));
    const sorted = volumes
      .filter((v) => v.metadata.deletionTimestamp === undefined)
      .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    const { entries, nextToken } = page(sorted, r.startingToken, r.maxEntries);
    return {
      entries: entries.map((v) => ({
        volume: csiVolume(v),
        status: {
          publishedNodeIds: publishedNodes(byName.get(v.metadata.name)),
          volumeCondition: volumeCondition(v),
        },
      })),
      nextToken,
    };
  }

  async function getVolume(r: { volumeId?: string }) {
    const name = required(r.volumeId, 'volume_id');
    const volume = await objects.get('Volume', name);
    if (!volume) throw notFound(`volume ${name} not found`);
    const attachment = await objects.get('VolumeAttachment', name);
    return {
      volume: csiVolume(volume),
      status: { publishedNodeIds: publishedNodes(attachment), volumeCondition: volumeCondition(volume) },
    };
  }

  async function getCapacity(r: { accessibleTopology?: Topology | null; parameters?: StringMap }) {
    if (r.parameters && Object.keys(r.parameters).length > 0) parseParameters(r.parameters);
    const segments = r.accessibleTopology?.segments ?? {};
    const zone = segments['topology.kubernetes.io/zone'];
    const region = segments['topology.kubernetes.io/region'];
    let available = 0;
    let largest = 0;
    for (const n of await objects.list('Node')) {
      if (zone && n.status?.zone !== zone) continue;
      if (region && n.status?.region !== region) continue;
      if (n.spec.allowScheduling === false) continue;
      for (const [id, d] of Object.entries(n.spec.disks ?? {})) {
        if (d.allowScheduling === false) continue;
        const s = n.status?.diskStatus?.[id];
        const free = Math.max(0, (s?.storageAvailable ?? 0) - (d.storageReserved ?? 0));
        available += free;
        largest = Math.max(largest, free);
      }
    }
    const rounded = (b: number) => Math.floor(b / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;
    return {
      availableCapacity: available,
      maximumVolumeSize: { value: rounded(largest) },
      minimumVolumeSize: { value: SIZE_ALIGNMENT },
    };
  }

  /**
   * A snapshot is taken and deleted by the volume's engine: a volume that is not attached is
   * attached (frontend or not) with a snapshot-controller ticket, as Longhorn does, and waited
   * for. Returns once the engine runs.
   */
  async function attachForSnapshot(volume: Volume, ticket: string, ctx: CallContext): Promise<void> {
    const name = volume.metadata.name;
    const engineRunning = async () => {
      const [v, e] = await Promise.all([objects.get('Volume', name), objects.engineOf(name)]);
      return v?.status?.state === 'attached' && e?.status?.currentState === 'running';
    };
    // Always a ticket of our own, even when attached: a volume about to detach would take the
    // operator's snapshot work with it.
    const node =
      (volume.status?.state === 'attached' ? volume.status.currentNodeID : undefined) ||
      volume.status?.ownerID ||
      (await objects.list('Node'))[0]?.metadata.name;
    if (!node) throw new CsiError('UNAVAILABLE', 'no Longhorn node to attach the volume on');
    await addTicket(objects, name, {
      id: ticket,
      type: 'snapshot-controller',
      nodeID: node,
      disableFrontend: 'any',
    });
    await pollUntil(`volume ${name} to attach for a snapshot`, budget(ctx, timeouts.attachMs), engineRunning);
  }

  /**
   * While waiting on a Snapshot CR: touch it every few seconds. The operator reconciles a
   * Snapshot on its own events only, so one it saw while the engine was (re)starting waits.
   */
  const nudger = (name: string) => {
    let last = Date.now();
    return async () => {
      if (Date.now() - last < 3_000) return;
      last = Date.now();
      await nudge(name).catch(() => undefined);
    };
  };

  /** Touches the Snapshot CR so the operator reconciles it now that the engine runs. */
  const nudge = (name: string) =>
    objects.patch('Snapshot', name, {
      metadata: { annotations: { [NUDGE_ANNOTATION]: new Date().toISOString() } },
    });

  /**
   * Takes (or finds) Snapshot CR `name` of the volume: attached for it when needed, the ticket
   * released once the snapshot is ready, unless `keepAttached` (a backup reads the snapshot
   * from the running volume next). `ready` false when it was not ready in time (the ticket
   * stays, a repeated call goes on from there).
   */
  async function takeSnapshot(
    volume: Volume,
    name: string,
    ctx: CallContext,
    keepAttached = false,
  ): Promise<{ snapshot: Snapshot; ready: boolean }> {
    const volumeName = volume.metadata.name;
    const ticket = snapshotTicketId(name);
    let snap = await objects.get('Snapshot', name);
    if (snap && snap.spec.volume !== volumeName)
      throw new CsiError(
        'ALREADY_EXISTS',
        `snapshot ${name} exists for volume ${snap.spec.volume}, not ${volumeName}`,
      );
    if (snap?.status?.readyToUse) {
      if (keepAttached) await attachForSnapshot(volume, ticket, ctx);
      else await removeTickets(objects, volumeName, [ticket]);
      return { snapshot: snap, ready: true };
    }
    await attachForSnapshot(volume, ticket, ctx);
    if (!snap) {
      snap = await objects.create('Snapshot', {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Snapshot',
        metadata: { name, labels: { [LABEL_VOLUME]: volumeName } },
        spec: { volume: volumeName, createSnapshot: true },
      });
    } else {
      await nudge(name);
    }
    let current = snap;
    const poke = nudger(name);
    try {
      await pollUntil(
        `snapshot ${name} of ${volumeName} to be ready`,
        budget(ctx, timeouts.snapshotMs),
        async () => {
          current = (await objects.get('Snapshot', name)) ?? current;
          if (!current.status?.readyToUse) await poke();
          if (current.status?.error && !current.status.readyToUse)
            throw new CsiError('INTERNAL', `snapshot ${name}: ${current.status.error}`);
          return current.status?.readyToUse === true;
        },
      );
    } catch (err) {
      if (!(err instanceof CsiError && err.code === 'DEADLINE_EXCEEDED')) throw err;
      return { snapshot: current, ready: false };
    }
    if (!keepAttached) await removeTickets(objects, volumeName, [ticket]);
    return { snapshot: current, ready: true };
  }

  const backups = backupSnapshots({
    objects,
    timeouts,
    takeSnapshot: async (volume, name, ctx) => {
      // Kept attached until the backup is done: the backup controller files its own ticket
      // only once it sees the Backup, and a volume detaching in between fails the backup.
      const taken = await takeSnapshot(volume, name, ctx, true);
      return taken.ready ? taken.snapshot : undefined;
    },
    release: (volume, snapshot) => removeTickets(objects, volume, [snapshotTicketId(snapshot)]),
  });

  async function createSnapshot(
    r: { sourceVolumeId?: string; name?: string; parameters?: StringMap },
    ctx: CallContext,
  ) {
    const volumeName = required(r.sourceVolumeId, 'source_volume_id');
    const csiName = required(r.name, 'name');
    if (snapshotClassKind(r.parameters ?? {}) === 'bak')
      return { snapshot: await backups.create(volumeName, csiName, r.parameters ?? {}, ctx) };
    const name = objectName(csiName);
    const volume = await objects.get('Volume', volumeName);
    const snap = await objects.get('Snapshot', name);
    if (snap && snap.spec.volume !== volumeName)
      throw new CsiError(
        'ALREADY_EXISTS',
        `snapshot ${name} exists for volume ${snap.spec.volume}, not ${volumeName}`,
      );
    if (!volume) throw notFound(`volume ${volumeName} not found`);
    // Not ready in time: answer readyToUse false; the snapshotter asks again.
    const taken = await takeSnapshot(volume, name, ctx);
    return { snapshot: csiSnapshot(taken.snapshot, Number(volume.spec.size ?? '0')) };
  }

  async function deleteSnapshot(r: { snapshotId?: string }, ctx: CallContext) {
    const id = required(r.snapshotId, 'snapshot_id');
    if (parseBackupSnapshotId(id)) {
      await backups.remove(id, ctx);
      return {};
    }
    const parsed = parseSnapshotId(id);
    if (!parsed) return {};
    const { volume: volumeName, snapshot: name } = parsed;
    const ticket = snapshotTicketId(name);
    const snap = await objects.get('Snapshot', name);
    const volume = await objects.get('Volume', volumeName);
    if (snap && snap.spec.volume === volumeName) {
      if (volume && volume.metadata.deletionTimestamp === undefined) {
        await attachForSnapshot(volume, ticket, ctx);
        // The CR may be gone by now (its deletion finished meanwhile): idempotent, not an error.
        if (snap.metadata.deletionTimestamp !== undefined) await nudge(name).catch(() => undefined);
      }
      await objects.delete('Snapshot', name);
      const poke = nudger(name);
      await pollUntil(
        `snapshot ${name} of ${volumeName} to be deleted`,
        budget(ctx, timeouts.snapshotMs),
        async () => {
          const s = await objects.get('Snapshot', name);
          if (s === undefined || s.spec.volume !== volumeName) return true;
          await poke();
          return false;
        },
      );
    }
    if (volume) await removeTickets(objects, volumeName, [ticket]);
    return {};
  }

  async function listSnapshots(r: {
    maxEntries?: number;
    startingToken?: string;
    sourceVolumeId?: string;
    snapshotId?: string;
  }) {
    // Both kinds: Snapshot CRs (`snap://`) and Backup CRs (`bak://`), in one order by id.
    let snaps: Snapshot[];
    const backupId = r.snapshotId && parseBackupSnapshotId(r.snapshotId) ? r.snapshotId : undefined;
    if (backupId) {
      snaps = [];
    } else if (r.snapshotId) {
      const parsed = parseSnapshotId(r.snapshotId);
      const s = parsed ? await objects.get('Snapshot', parsed.snapshot) : undefined;
      snaps = s && s.spec.volume === parsed?.volume ? [s] : [];
    } else {
      snaps = await objects.snapshotsOf(r.sourceVolumeId || undefined);
    }
    if (r.sourceVolumeId) snaps = snaps.filter((s) => s.spec.volume === r.sourceVolumeId);
    const volumes = new Map(
      (await objects.list('Volume')).map((v) => [v.metadata.name, Number(v.spec.size ?? '0')]),
    );
    const fromBackups =
      r.snapshotId && !backupId
        ? []
        : await backups.list({ volume: r.sourceVolumeId || undefined, id: backupId }, volumes);
    const sorted = [
      ...snaps.filter(isUserSnapshot).map((s) => csiSnapshot(s, volumes.get(s.spec.volume) ?? 0)),
      ...fromBackups,
    ].sort((a, b) => a.snapshotId.localeCompare(b.snapshotId));
    const { entries, nextToken } = page(sorted, r.startingToken, r.maxEntries);
    return { entries: entries.map((snapshot) => ({ snapshot })), nextToken };
  }

  async function getSnapshot(r: { snapshotId?: string }) {
    const id = required(r.snapshotId, 'snapshot_id');
    if (parseBackupSnapshotId(id)) {
      const volumes = new Map(
        (await objects.list('Volume')).map((v) => [v.metadata.name, Number(v.spec.size ?? '0')]),
      );
      const [found] = await backups.list({ id }, volumes);
      if (!found) throw notFound(`snapshot ${id} not found`);
      return { snapshot: found };
    }
    const parsed = parseSnapshotId(id);
    const snap = parsed ? await objects.get('Snapshot', parsed.snapshot) : undefined;
    if (!snap || snap.spec.volume !== parsed?.volume || !isUserSnapshot(snap))
      throw notFound(`snapshot ${id} not found`);
    const volume = await objects.get('Volume', snap.spec.volume);
    return { snapshot: csiSnapshot(snap, Number(volume?.spec.size ?? '0')) };
  }

  async function expand(
    r: {
      volumeId?: string;
      capacityRange?: CapacityRange | null;
      volumeCapability?: VolumeCapability | null;
    },
    ctx: CallContext,
  ) {
    const name = required(r.volumeId, 'volume_id');
    const range = required(r.capacityRange, 'capacity_range');
    const volume = await objects.get('Volume', name);
    if (!volume) throw notFound(`volume ${name} not found`);
    const plan = expansionPlan(volume, range);
    if (plan.grow) await objects.patch('Volume', name, { spec: { size: String(plan.wanted) } });
    if (plan.waitForEngine)
      await pollUntil(
        `volume ${name}'s engine to grow to ${plan.wanted} bytes`,
        budget(ctx, timeouts.volumeMs),
        async () => {
          const engine = await objects.engineOf(name);
          return Number(engine?.status?.currentSize ?? '0') >= plan.wanted;
        },
      );
    // Block volumes too: the node's loop device takes the new size only in NodeExpandVolume.
    return { capacityBytes: plan.capacityBytes, nodeExpansionRequired: true };
  }

  const volumeOf = (r: { volumeId?: string }) => r.volumeId;
  return {
    CreateVolume: {
      handler: createVolume,
      volumeOf: (r: CreateVolumeRequest) => (r.name ? objectName(r.name) : undefined),
    },
    DeleteVolume: { handler: deleteVolume, volumeOf },
    ControllerPublishVolume: { handler: publish, volumeOf },
    ControllerUnpublishVolume: { handler: unpublish, volumeOf },
    ValidateVolumeCapabilities: { handler: validate, quiet: true },
    ListVolumes: { handler: listVolumes, quiet: true },
    ControllerGetVolume: { handler: getVolume, quiet: true },
    GetCapacity: { handler: getCapacity, quiet: true },
    CreateSnapshot: {
      handler: createSnapshot,
      volumeOf: (r: { sourceVolumeId?: string }) => r.sourceVolumeId,
    },
    DeleteSnapshot: {
      handler: deleteSnapshot,
      volumeOf: (r: { snapshotId?: string }) => volumeOfSnapshotId(r.snapshotId ?? ''),
    },
    ListSnapshots: { handler: listSnapshots, quiet: true },
    GetSnapshot: { handler: getSnapshot, quiet: true },
    ControllerExpandVolume: { handler: expand, volumeOf },
    ControllerGetCapabilities: {
      quiet: true,
      handler: async () => ({
        capabilities: CONTROLLER_CAPABILITIES.map((type) => ({ rpc: { type } })),
      }),
    },
  };
}

export const CONTROLLER_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'PUBLISH_UNPUBLISH_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'LIST_VOLUMES_PUBLISHED_NODES',
  'GET_VOLUME',
  'VOLUME_CONDITION',
  'SINGLE_NODE_MULTI_WRITER',
  'PUBLISH_READONLY',
  'GET_SNAPSHOT',
] as const;
