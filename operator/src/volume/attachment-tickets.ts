/**
 * VolumeAttachment ticket arbitration, Longhorn's way (controller/volume_attachment_controller.go):
 * every party that wants a volume attached (the CSI attacher, the UI/API, snapshot and backup
 * controllers, ...) files a ticket `{id, type, nodeID, parameters}` in the VolumeAttachment's
 * spec. The owner of the volume turns the tickets into the volume's desired node
 * (volume.spec.nodeID, disableFrontend) and reports per ticket whether it is satisfied.
 *
 * - Detach first: the volume leaves its node when no ticket wants that node with matching
 *   parameters, when a workload ticket for another node meets only interruptible (snapshot /
 *   backup) tickets here, or when the volume is faulted (auto-salvage reattaches it).
 * - Attach only a fully detached, not faulted volume: the ticket of the highest priority wins,
 *   among equals the lexically smallest id.
 * Regular RWX volumes are attached by their share manager's ticket; the CSI tickets of such a
 * volume are satisfied once the share is available.
 */

import { ATTACHER_PRIORITIES } from '@longhorn-ts/api';
import { type Condition, setCondition } from '../conditions.js';

export const AttacherType = {
  csiAttacher: 'csi-attacher',
  longhornAPI: 'longhorn-api',
  snapshotController: 'snapshot-controller',
  backupController: 'backup-controller',
  volumeCloneController: 'volume-clone-controller',
  salvageController: 'salvage-controller',
  shareManagerController: 'share-manager-controller',
  volumeRestoreController: 'volume-restore-controller',
  volumeEvictionController: 'volume-eviction-controller',
  volumeExpansionController: 'volume-expansion-controller',
  backingImageDataSourceController: 'bim-ds-controller',
  volumeRebuildingController: 'volume-rebuilding-controller',
} as const;
export type AttacherType = (typeof AttacherType)[keyof typeof AttacherType];

/** Longhorn's AttacherPriorityLevel* values (one table, in the API package). */
export const ATTACHER_PRIORITY: Readonly<Record<AttacherType, number>> = ATTACHER_PRIORITIES;

/** Priority of a ticket type; an unknown type has 0 and never beats a known one. */
export function attacherPriority(type: string): number {
  return Object.hasOwn(ATTACHER_PRIORITY, type) ? ATTACHER_PRIORITY[type as AttacherType] : 0;
}

export interface AttachmentTicket {
  id: string;
  type: string;
  nodeID: string;
  /** disableFrontend: 'true' | 'false' | 'any'; lastAttachedBy: free text. */
  parameters?: Readonly<Record<string, string>>;
  generation: number;
}

export interface AttachmentTicketStatus {
  id: string;
  satisfied: boolean;
  conditions: Condition[];
  generation: number;
}

export type VolumeState = 'creating' | 'attached' | 'detached' | 'attaching' | 'detaching' | 'deleting';
export type VolumeRobustness = 'healthy' | 'degraded' | 'faulted' | 'unknown';
export type AccessMode = 'rwo' | 'rwop' | 'rwx';

/** The parts of a Volume that arbitration reads. */
export interface AttachVolume {
  name: string;
  spec: {
    nodeID: string;
    disableFrontend: boolean;
    lastAttachedBy?: string;
    accessMode: AccessMode;
    migratable: boolean;
    migrationNodeID?: string;
  };
  status: {
    state: VolumeState;
    currentNodeID: string;
    robustness: VolumeRobustness;
    currentMigrationNodeID?: string;
    /** A regular RWX volume's share manager is running and has an endpoint. */
    shareAvailable?: boolean;
  };
}

/** The volume spec fields arbitration owns. */
export interface DesiredAttachment {
  nodeID: string;
  disableFrontend: boolean;
  lastAttachedBy: string;
}

export const DISABLE_FRONTEND = 'disableFrontend';
export const LAST_ATTACHED_BY = 'lastAttachedBy';
export const SATISFIED = 'Satisfied';
export const ATTACHED_WITH_INCOMPATIBLE_PARAMETERS = 'AttachedWithIncompatibleParameters';

type Tickets = Readonly<Record<string, AttachmentTicket>>;

const isRegularRWX = (v: AttachVolume) => v.spec.accessMode === 'rwx' && !v.spec.migratable;
const isCSITicketOfRegularRWX = (t: AttachmentTicket, v: AttachVolume) =>
  isRegularRWX(v) && t.type === AttacherType.csiAttacher;

/** Does the volume's current frontend setting serve this ticket? ('any' serves either.) */
export function parametersMatch(t: AttachmentTicket, disableFrontend: boolean): boolean {
  const want = t.parameters?.[DISABLE_FRONTEND];
  if (want === undefined || want === 'false') return !disableFrontend;
  if (want === 'true') return disableFrontend;
  return true;
}

function desiredFrom(t: AttachmentTicket | undefined, current: boolean): DesiredAttachment {
  const want = t?.parameters?.[DISABLE_FRONTEND];
  const disableFrontend = want === undefined || want === 'false' ? false : want === 'true' ? true : current;
  return {
    nodeID: t?.nodeID ?? '',
    disableFrontend,
    lastAttachedBy: t?.parameters?.[LAST_ATTACHED_BY] ?? '',
  };
}

/** Tickets ordered as arbitration ranks them: priority, then id. */
export function rankTickets(tickets: readonly AttachmentTicket[]): AttachmentTicket[] {
  return [...tickets].sort(
    (a, b) => attacherPriority(b.type) - attacherPriority(a.type) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The ticket a fully detached volume should attach for, if any. */
export function selectTicket(tickets: Tickets, volume: AttachVolume): AttachmentTicket | undefined {
  const candidates = Object.values(tickets).filter((t) => !isCSITicketOfRegularRWX(t, volume));
  const ranked = rankTickets(candidates);
  const top = ranked[0];
  if (top === undefined) return undefined;
  // A migratable volume that lost its migration holds two CSI tickets: which node had the data
  // last is unknown, so it waits until one ticket is withdrawn.
  const tied = ranked.filter((t) => attacherPriority(t.type) === attacherPriority(top.type));
  if (
    volume.spec.migratable &&
    attacherPriority(top.type) === ATTACHER_PRIORITY['csi-attacher'] &&
    tied.length > 1
  ) {
    return undefined;
  }
  return top;
}

const isInterruptible = (t: AttachmentTicket) =>
  t.type === AttacherType.snapshotController || t.type === AttacherType.backupController;
const isWorkload = (t: AttachmentTicket) =>
  t.type === AttacherType.csiAttacher ||
  t.type === AttacherType.longhornAPI ||
  t.type === AttacherType.shareManagerController;

const isMigrating = (v: AttachVolume) =>
  v.spec.migratable &&
  ((v.spec.migrationNodeID ?? '') !== '' || (v.status.currentMigrationNodeID ?? '') !== '');

/** Why the volume should leave its node now, or undefined to stay. */
export function detachReason(tickets: Tickets, volume: AttachVolume): string | undefined {
  if (volume.spec.nodeID === '') return undefined;
  if (volume.status.robustness === 'faulted') return 'the volume is faulted';
  if (isMigrating(volume)) return undefined;
  const here: AttachmentTicket[] = [];
  const elsewhere: AttachmentTicket[] = [];
  for (const t of Object.values(tickets)) {
    if (isCSITicketOfRegularRWX(t, volume)) continue;
    if (t.nodeID === volume.spec.nodeID) {
      if (parametersMatch(t, volume.spec.disableFrontend)) here.push(t);
    } else {
      elsewhere.push(t);
    }
  }
  if (here.length === 0) return `no attachment ticket requests node ${volume.spec.nodeID}`;
  if (here.every(isInterruptible) && elsewhere.some(isWorkload)) {
    return 'a workload ticket for another node interrupts snapshot/backup tickets';
  }
  return undefined;
}

const fullyDetached = (v: AttachVolume) =>
  v.spec.nodeID === '' &&
  (v.spec.migrationNodeID ?? '') === '' &&
  (v.status.currentMigrationNodeID ?? '') === '' &&
  v.status.state === 'detached';

export interface AttachDecision {
  desired: DesiredAttachment;
  /** What happened, for the log: the detach reason or the winning ticket. */
  detachedBecause?: string;
  attachedFor?: AttachmentTicket;
}

/**
 * The volume's desired node after one arbitration pass. A volume that is told to detach
 * attaches again only in a later pass, once it is fully detached.
 */
export function decideAttachment(tickets: Tickets, volume: AttachVolume): AttachDecision {
  const current: DesiredAttachment = {
    nodeID: volume.spec.nodeID,
    disableFrontend: volume.spec.disableFrontend,
    lastAttachedBy: volume.spec.lastAttachedBy ?? '',
  };
  const why = detachReason(tickets, volume);
  if (why !== undefined) {
    return { desired: { nodeID: '', disableFrontend: false, lastAttachedBy: '' }, detachedBecause: why };
  }
  if (!fullyDetached(volume) || volume.status.robustness === 'faulted') return { desired: current };
  const winner = selectTicket(tickets, volume);
  if (winner === undefined) return { desired: current };
  return { desired: desiredFrom(winner, volume.spec.disableFrontend), attachedFor: winner };
}

/** Is the ticket fulfilled by the volume as it is now? With the message for its condition. */
export function ticketSatisfaction(
  t: AttachmentTicket,
  volume: AttachVolume,
): { satisfied: boolean; reason: string; message: string } {
  if (isCSITicketOfRegularRWX(t, volume)) {
    return volume.status.shareAvailable === true
      ? { satisfied: true, reason: '', message: 'The attachment ticket is satisfied' }
      : { satisfied: false, reason: '', message: 'Waiting for volume share to be available' };
  }
  const { state, currentNodeID } = volume.status;
  if (currentNodeID === '' || state !== 'attached') return { satisfied: false, reason: '', message: '' };
  if (t.nodeID !== currentNodeID) {
    return {
      satisfied: false,
      reason: '',
      message: `the volume is currently attached to different node ${currentNodeID}`,
    };
  }
  if (!parametersMatch(t, volume.spec.disableFrontend)) {
    return {
      satisfied: false,
      reason: ATTACHED_WITH_INCOMPATIBLE_PARAMETERS,
      message: `volume ${volume.name} has already attached to node ${currentNodeID} with incompatible parameters`,
    };
  }
  return { satisfied: true, reason: '', message: '' };
}

/**
 * The VolumeAttachment's status.attachmentTicketStatuses: one entry per ticket (a withdrawn
 * ticket's entry goes), carrying the generation of the ticket it answers.
 */
export function ticketStatuses(
  tickets: Tickets,
  previous: Readonly<Record<string, AttachmentTicketStatus>>,
  volume: AttachVolume,
  now: string,
): Record<string, AttachmentTicketStatus> {
  const out: Record<string, AttachmentTicketStatus> = {};
  for (const id of Object.keys(tickets).sort()) {
    const t = tickets[id]!;
    const s = ticketSatisfaction(t, volume);
    const conditions = setCondition(
      previous[id]?.conditions,
      SATISFIED,
      s.satisfied ? 'True' : 'False',
      s.reason,
      s.message,
      now,
    );
    out[id] = { id, satisfied: s.satisfied, conditions, generation: t.generation };
  }
  return out;
}

/** Longhorn's IsAttachmentTicketSatisfied: satisfied, and for this generation of the ticket. */
export function isTicketSatisfied(
  id: string,
  tickets: Tickets,
  statuses: Readonly<Record<string, AttachmentTicketStatus>>,
): boolean {
  const t = tickets[id];
  const s = statuses[id];
  return s?.satisfied === true && s.generation === t?.generation;
}
