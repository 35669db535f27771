/**
 * Where new replicas of a volume go. Pure: the controller maps Node and Replica CRs onto the
 * small shapes below, calls `scheduleReplicas`, and writes the placements into Replica specs or
 * the failure reason into the Volume's Scheduled condition.
 *
 * The rules are Longhorn's (longhorn-manager scheduler/replica_scheduler.go):
 * - a node is a candidate when Ready, schedulable and allowScheduling, and its tags include the
 *   volume's nodeSelector; a disk when it allows scheduling, is not being evicted, is
 *   Schedulable, its tags include the diskSelector, and both space inequalities hold;
 * - anti-affinity is tried in tiers: first an unused node in an unused zone; then, by which of
 *   zone and node anti-affinity are soft, an unused node in a used zone, a node whose replicas
 *   are all being evicted, or a node that already holds a replica;
 * - disk anti-affinity: disks without a replica of the volume first; with soft disk
 *   anti-affinity a disk that already holds one is the fallback;
 * - among the candidates of the first tier that has any, the most balanced node, then the
 *   most balanced disk on it.
 * Differences: ties are broken by name (Longhorn iterates maps at random), tags are required
 * in every tier, and a failure names the constraint that could not be met.
 */

import { mostBalanced } from './balance-score.js';
import { DEFAULT_SPACE_SETTINGS, type DiskFit, diskFit, type SpaceSettings } from './disk-fit.js';
import { isPotentiallyReusable } from './failed-replica.js';
import { tagsSatisfy } from './tag-match.js';

/** Per-volume override of an anti-affinity Setting. */
export type SoftAntiAffinityOverride = 'ignored' | 'enabled' | 'disabled';

export interface SchedDisk {
  /** Disk UUID (Node status diskStatus.diskUUID); Replica spec.diskID refers to it. */
  id: string;
  /** Key of the disk in Node spec.disks. */
  name: string;
  path: string;
  tags: readonly string[];
  allowScheduling: boolean;
  evictionRequested: boolean;
  /** The disk's Schedulable condition is True. */
  schedulable: boolean;
  storageMaximum: number;
  storageAvailable: number;
  storageReserved: number;
  storageScheduled: number;
}

export interface SchedNode {
  name: string;
  /** '' when the node has no zone label; all such nodes count as one zone. */
  zone: string;
  region: string;
  tags: readonly string[];
  /** Node condition Ready is True. */
  ready: boolean;
  /** Node condition Schedulable is True (the Kubernetes node is not cordoned). */
  schedulable: boolean;
  /** Node spec.allowScheduling. */
  allowScheduling: boolean;
  disks: readonly SchedDisk[];
}

export interface SchedReplica {
  name: string;
  /** '' while unscheduled. */
  nodeID: string;
  diskID: string;
  /** spec.failedAt, '' while not failed. */
  failedAt: string;
  rebuildRetryCount: number;
  evictionRequested: boolean;
  /** metadata.deletionTimestamp is set. */
  deleting: boolean;
}

export interface SchedVolume {
  name: string;
  /** Nominal size in bytes (spec.size). */
  size: number;
  /** Bytes the volume occupies on a replica's disk now (status.actualSize). */
  actualSize: number;
  numberOfReplicas: number;
  nodeSelector: readonly string[];
  diskSelector: readonly string[];
  /** spec.topologyRequirement: replicas only on nodes matching one term (empty: anywhere). */
  topology?: readonly TopologyTerm[];
  replicaSoftAntiAffinity: SoftAntiAffinityOverride;
  replicaZoneSoftAntiAffinity: SoftAntiAffinityOverride;
  replicaDiskSoftAntiAffinity: SoftAntiAffinityOverride;
}

/** A zone and/or region a node must be in; a field left out matches any. */
export interface TopologyTerm {
  zone?: string;
  region?: string;
}

export function inTopology(
  node: Pick<SchedNode, 'zone' | 'region'>,
  terms: readonly TopologyTerm[],
): boolean {
  return (
    terms.length === 0 ||
    terms.some((t) => (!t.zone || t.zone === node.zone) && (!t.region || t.region === node.region))
  );
}

const describeTerms = (terms: readonly TopologyTerm[]) =>
  terms
    .map((t) => [t.region && `region ${t.region}`, t.zone && `zone ${t.zone}`].filter(Boolean).join(' '))
    .join(' or ');

export interface SchedSettings extends SpaceSettings {
  /** replica-soft-anti-affinity: may two replicas share a node? */
  replicaSoftAntiAffinity: boolean;
  /** replica-zone-soft-anti-affinity: may two replicas share a zone? */
  replicaZoneSoftAntiAffinity: boolean;
  /** replica-disk-soft-anti-affinity: may two replicas share a disk? */
  replicaDiskSoftAntiAffinity: boolean;
  /** allow-empty-node-selector-volume */
  allowEmptyNodeSelectorVolume: boolean;
  /** allow-empty-disk-selector-volume */
  allowEmptyDiskSelectorVolume: boolean;
}

export const DEFAULT_SCHED_SETTINGS: Readonly<SchedSettings> = Object.freeze({
  ...DEFAULT_SPACE_SETTINGS,
  replicaSoftAntiAffinity: false,
  replicaZoneSoftAntiAffinity: true,
  replicaDiskSoftAntiAffinity: true,
  allowEmptyNodeSelectorVolume: true,
  allowEmptyDiskSelectorVolume: true,
});

export interface ScheduleRequest {
  volume: SchedVolume;
  nodes: readonly SchedNode[];
  /** The volume's existing replicas, scheduled or not. */
  replicas: readonly SchedReplica[];
  /** How many new replicas to place. */
  count: number;
  settings: SchedSettings;
  /** Only this node may take the replicas (strict-local, or a best-effort local rebuild). */
  hardNodeAffinity?: string;
  /**
   * Best-effort data locality: the node the volume is attached to. If no live replica is there
   * yet, a disk on it is preferred whenever it is a candidate.
   */
  localNodeID?: string;
  /**
   * The volume is degraded and the replenishment wait is over: failed replicas are being
   * replaced, so their nodes and zones no longer count as used.
   */
  replacingFailed?: boolean;
}

export interface Placement {
  nodeID: string;
  diskID: string;
  diskName: string;
  diskPath: string;
}

/**
 * Either every requested replica was placed, or the ones placed before the first that could
 * not be, with the reason (worded for the Volume's Scheduled condition).
 */
export type ScheduleResult =
  | { ok: true; placements: Placement[] }
  | { ok: false; placements: Placement[]; reason: string };

/** Longhorn's reason categories (ErrorReplicaSchedule* in longhorn-manager), used as prefixes. */
export const ScheduleFailure = {
  insufficientStorage: 'insufficient storage',
  diskUnavailable: 'disks are unavailable',
  tagsNotFulfilled: 'tags not fulfilled',
  nodeUnavailable: 'nodes are unavailable',
  hardNodeAffinity: 'hard affinity cannot be satisfied',
  schedulingFailed: 'replica scheduling failed',
} as const;

export interface AntiAffinity {
  nodeSoft: boolean;
  zoneSoft: boolean;
  diskSoft: boolean;
}

/** The Settings, overridden per volume unless the volume says 'ignored'. */
export function effectiveAntiAffinity(volume: SchedVolume, settings: SchedSettings): AntiAffinity {
  const pick = (override: SoftAntiAffinityOverride, setting: boolean) =>
    override === 'enabled' ? true : override === 'disabled' ? false : setting;
  return {
    nodeSoft: pick(volume.replicaSoftAntiAffinity, settings.replicaSoftAntiAffinity),
    zoneSoft: pick(volume.replicaZoneSoftAntiAffinity, settings.replicaZoneSoftAntiAffinity),
    diskSoft: pick(volume.replicaDiskSoftAntiAffinity, settings.replicaDiskSoftAntiAffinity),
  };
}

export function scheduleReplicas(request: ScheduleRequest): ScheduleResult {
  const placements: Placement[] = [];
  const replicas = [...request.replicas];
  // Bytes this call has already put on a disk, on top of the disk's storageScheduled.
  const pending = new Map<string, number>();
  for (let i = 0; i < request.count; i++) {
    const outcome = placeOne(request, replicas, pending);
    if ('reason' in outcome) return { ok: false, placements, reason: outcome.reason };
    placements.push(outcome);
    replicas.push({
      name: `\u0000new-${i}`,
      nodeID: outcome.nodeID,
      diskID: outcome.diskID,
      failedAt: '',
      rebuildRetryCount: 0,
      evictionRequested: false,
      deleting: false,
    });
    pending.set(outcome.diskID, (pending.get(outcome.diskID) ?? 0) + request.volume.size);
  }
  return { ok: true, placements };
}

interface Candidate {
  node: SchedNode;
  disk: SchedDisk;
  /** storageScheduled including this call's earlier placements. */
  scheduled: number;
}

interface Rejection {
  category: string;
  detail: string;
}

const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function placeOne(
  request: ScheduleRequest,
  replicas: readonly SchedReplica[],
  pending: ReadonlyMap<string, number>,
): Placement | { reason: string } {
  const { volume, settings } = request;
  const allNodes = [...request.nodes].sort(byName);
  let nodes = allNodes.filter((n) => n.ready && n.schedulable && n.allowScheduling);

  if (request.hardNodeAffinity !== undefined && request.hardNodeAffinity !== '') {
    const only = request.hardNodeAffinity;
    nodes = nodes.filter((n) => n.name === only);
    if (nodes.length === 0) {
      return {
        reason: `${ScheduleFailure.hardNodeAffinity}: node ${only} is not Ready, schedulable and allowing scheduling`,
      };
    }
  }
  if (nodes.length === 0) {
    return {
      reason: `${ScheduleFailure.nodeUnavailable}: none of ${allNodes.length} nodes is Ready, schedulable and allows scheduling`,
    };
  }

  const terms = volume.topology ?? [];
  const inZone = nodes.filter((n) => inTopology(n, terms));
  if (inZone.length === 0) {
    return {
      reason: `${ScheduleFailure.nodeUnavailable}: no schedulable node is in ${describeTerms(terms)} (the volume's topologyRequirement)`,
    };
  }
  const tagged = inZone.filter((n) =>
    tagsSatisfy(n.tags, volume.nodeSelector, settings.allowEmptyNodeSelectorVolume),
  );
  if (tagged.length === 0) {
    return {
      reason:
        volume.nodeSelector.length === 0
          ? `${ScheduleFailure.tagsNotFulfilled}: every schedulable node is tagged and allow-empty-node-selector-volume is false`
          : `${ScheduleFailure.tagsNotFulfilled}: no schedulable node has the tags [${volume.nodeSelector.join(',')}]`,
    };
  }

  const candidateNodes = new Map(nodes.map((n) => [n.name, n]));
  const used = usedNodesAndZones(replicas, candidateNodes, request.replacingFailed ?? false);
  const aa = effectiveAntiAffinity(volume, settings);

  const unusedInUnusedZones = tagged.filter((n) => !used.zones.has(n.zone));
  const unused = tagged.filter((n) => !used.nodes.has(n.name));
  const usedNodes = tagged.filter((n) => used.nodes.has(n.name));
  const unusedAfterEviction = tagged.filter((n) => used.onlyEvictingNodes.get(n.name) === true);
  const unusedInUnusedZonesAfterEviction = unusedAfterEviction.filter(
    (n) => used.onlyEvictingZones.get(n.zone) === true,
  );

  // A new zone is always preferred; what follows depends on which anti-affinities are soft.
  // Hard zone anti-affinity rules out a used zone and hence a used node, whatever the node rule.
  const tiers: SchedNode[][] = [unusedInUnusedZones];
  if (!aa.zoneSoft) tiers.push(unusedInUnusedZonesAfterEviction);
  else if (!aa.nodeSoft) tiers.push(unused, unusedAfterEviction);
  else tiers.push(unused, usedNodes);

  for (const tier of tiers) {
    const fitting = fittingDisks(tier, request, pending).candidates;
    const candidates = applyDiskAntiAffinity(fitting, replicas, aa.diskSoft);
    if (candidates.length > 0) return choose(candidates, request, replicas);
  }
  return { reason: diagnose(request, tagged, replicas, pending, used, aa) };
}

interface UsedPlaces {
  nodes: Set<string>;
  zones: Set<string>;
  /** Nodes whose only replicas of the volume are being evicted. */
  onlyEvictingNodes: Map<string, boolean>;
  onlyEvictingZones: Map<string, boolean>;
}

/**
 * Nodes and zones that already hold a replica. A failed replica counts while it may still be
 * reused, unless it is being replaced anyway. Replicas on nodes that are not candidates (down,
 * cordoned) do not count, as in Longhorn.
 */
function usedNodesAndZones(
  replicas: readonly SchedReplica[],
  candidates: ReadonlyMap<string, SchedNode>,
  replacingFailed: boolean,
): UsedPlaces {
  const used: UsedPlaces = {
    nodes: new Set(),
    zones: new Set(),
    onlyEvictingNodes: new Map(),
    onlyEvictingZones: new Map(),
  };
  for (const r of replicas) {
    if (r.nodeID === '' || r.deleting) continue;
    if (r.failedAt !== '' && (!isPotentiallyReusable(r) || replacingFailed)) continue;
    const node = candidates.get(r.nodeID);
    if (node === undefined) continue;
    if (r.evictionRequested) {
      if (!used.nodes.has(node.name)) used.onlyEvictingNodes.set(node.name, true);
      if (!used.zones.has(node.zone)) used.onlyEvictingZones.set(node.zone, true);
    } else {
      used.onlyEvictingNodes.set(node.name, false);
      used.onlyEvictingZones.set(node.zone, false);
    }
    used.nodes.add(node.name);
    used.zones.add(node.zone);
  }
  return used;
}

function diskEligibility(disk: SchedDisk, request: ScheduleRequest): Rejection | undefined {
  const { volume, settings } = request;
  if (!disk.allowScheduling || disk.evictionRequested || !disk.schedulable) {
    const why = !disk.allowScheduling
      ? 'scheduling is not allowed'
      : disk.evictionRequested
        ? 'eviction is requested'
        : 'the disk is not schedulable';
    return { category: ScheduleFailure.diskUnavailable, detail: why };
  }
  if (!tagsSatisfy(disk.tags, volume.diskSelector, settings.allowEmptyDiskSelectorVolume)) {
    return {
      category: ScheduleFailure.tagsNotFulfilled,
      detail: `disk tags [${disk.tags.join(',')}] do not match volume disk selector [${volume.diskSelector.join(',')}]`,
    };
  }
  return undefined;
}

function fittingDisks(
  nodes: readonly SchedNode[],
  request: ScheduleRequest,
  pending: ReadonlyMap<string, number>,
): { candidates: Candidate[]; rejections: Rejection[] } {
  const candidates: Candidate[] = [];
  const rejections: Rejection[] = [];
  for (const node of nodes) {
    for (const disk of [...node.disks].sort(byName)) {
      const where = `disk ${disk.name} on node ${node.name}`;
      const ineligible = diskEligibility(disk, request);
      if (ineligible !== undefined) {
        rejections.push({ category: ineligible.category, detail: `${where}: ${ineligible.detail}` });
        continue;
      }
      const scheduled = disk.storageScheduled + (pending.get(disk.id) ?? 0);
      const fit: DiskFit = diskFit(
        { ...disk, storageScheduled: scheduled },
        request.volume.size,
        request.volume.actualSize,
        request.settings,
      );
      if (!fit.fits) {
        rejections.push({ category: ScheduleFailure.insufficientStorage, detail: `${where}: ${fit.reason}` });
        continue;
      }
      candidates.push({ node, disk, scheduled });
    }
  }
  return { candidates, rejections };
}

/** Disks without a replica of the volume; with soft disk anti-affinity, all if there are none. */
function applyDiskAntiAffinity(
  candidates: readonly Candidate[],
  replicas: readonly SchedReplica[],
  diskSoft: boolean,
): Candidate[] {
  const occupied = replicasPerDisk(replicas);
  const free = candidates.filter((c) => (occupied.get(c.disk.id) ?? 0) === 0);
  if (free.length > 0 || !diskSoft) return free;
  return [...candidates];
}

function replicasPerDisk(replicas: readonly SchedReplica[]): Map<string, number> {
  const count = new Map<string, number>();
  for (const r of replicas) {
    if (r.diskID === '') continue;
    // A failed replica that can never be used again does not hold its disk.
    if (r.failedAt !== '' && !isPotentiallyReusable(r)) continue;
    count.set(r.diskID, (count.get(r.diskID) ?? 0) + 1);
  }
  return count;
}

function choose(
  candidates: Candidate[],
  request: ScheduleRequest,
  replicas: readonly SchedReplica[],
): Placement {
  let pool = candidates;
  const local = request.localNodeID;
  if (local !== undefined && local !== '') {
    const hasLiveLocal = replicas.some((r) => r.nodeID === local && r.failedAt === '' && !r.deleting);
    const onLocal = candidates.filter((c) => c.node.name === local);
    if (!hasLiveLocal && onLocal.length > 0) pool = onLocal;
  }

  const usable = (c: Candidate) =>
    Math.max(0, c.disk.storageAvailable - c.disk.storageReserved - c.scheduled);
  const perNode = new Map<string, number>();
  for (const c of pool) perNode.set(c.node.name, (perNode.get(c.node.name) ?? 0) + usable(c));

  const size = request.volume.size;
  const nodeID = mostBalanced(
    [...perNode].map(([id, bytes]) => ({ id, usable: bytes })),
    size,
  );
  const onNode = nodeID === undefined ? [] : pool.filter((c) => c.node.name === nodeID);
  const diskID =
    onNode.length === 0
      ? undefined
      : mostBalanced(
          pool.map((c) => ({ id: c.disk.id, usable: usable(c) })),
          size,
          (id) => onNode.some((c) => c.disk.id === id),
        );
  // When no candidate can hold the size by the usable measure (over-provisioning lets the
  // space check pass anyway), Longhorn takes a random candidate; we take the one with the most
  // usable bytes, so repeated placements still spread.
  const roomiest = () => pool.reduce((best, c) => (usable(c) > usable(best) ? c : best));
  const picked = pool.find((c) => c.disk.id === diskID) ?? onNode[0] ?? roomiest();
  return {
    nodeID: picked.node.name,
    diskID: picked.disk.id,
    diskName: picked.disk.name,
    diskPath: picked.disk.path,
  };
}

/** Why no tier had a candidate: the first of tags, space, or the anti-affinity that bites. */
function diagnose(
  request: ScheduleRequest,
  tagged: readonly SchedNode[],
  replicas: readonly SchedReplica[],
  pending: ReadonlyMap<string, number>,
  used: UsedPlaces,
  aa: AntiAffinity,
): string {
  const { candidates, rejections } = fittingDisks(tagged, request, pending);
  if (candidates.length === 0) return joinRejections(rejections);

  const wanted = request.volume.numberOfReplicas;
  const fittingNodes = new Set(candidates.map((c) => c.node.name));
  const fittingZones = new Set(candidates.map((c) => c.node.zone));
  const all = (names: Set<string>, usedSet: Set<string>) => [...names].every((n) => usedSet.has(n));

  if (!aa.zoneSoft && all(fittingZones, used.zones)) {
    return fittingZones.size < wanted
      ? `insufficient zones: ${wanted} replicas with hard zone anti-affinity need ${wanted} zones with schedulable nodes, ${fittingZones.size} exist`
      : `insufficient zones: every zone with a schedulable node (${fittingZones.size}) already holds a replica and zone anti-affinity is hard`;
  }
  if (!aa.nodeSoft && all(fittingNodes, used.nodes)) {
    return fittingNodes.size < wanted
      ? `insufficient nodes: ${wanted} replicas with hard node anti-affinity need ${wanted} schedulable nodes, ${fittingNodes.size} exist`
      : `insufficient nodes: every schedulable node (${fittingNodes.size}) already holds a replica and node anti-affinity is hard`;
  }
  const occupied = replicasPerDisk(replicas);
  if (!aa.diskSoft && candidates.every((c) => (occupied.get(c.disk.id) ?? 0) > 0)) {
    return candidates.length < wanted
      ? `insufficient disks: ${wanted} replicas with hard disk anti-affinity need ${wanted} schedulable disks, ${candidates.length} exist`
      : `insufficient disks: every schedulable disk (${candidates.length}) already holds a replica and disk anti-affinity is hard`;
  }
  return `${ScheduleFailure.schedulingFailed}: no disk candidate satisfies anti-affinity`;
}

const CATEGORY_ORDER: readonly string[] = [
  ScheduleFailure.insufficientStorage,
  ScheduleFailure.tagsNotFulfilled,
  ScheduleFailure.diskUnavailable,
];

function joinRejections(rejections: readonly Rejection[]): string {
  if (rejections.length === 0) return `${ScheduleFailure.diskUnavailable}: no disks on the schedulable nodes`;
  const parts: string[] = [];
  for (const category of CATEGORY_ORDER) {
    const details = rejections.filter((r) => r.category === category).map((r) => r.detail);
    if (details.length > 0) parts.push(`${category}: ${details.join('; ')}`);
  }
  return parts.join('; ');
}
