/**
 * VolumeAttachment (lhva): who wants a volume attached where. Each requester (CSI, the API, a
 * snapshot or backup controller...) holds a ticket; the volume controller attaches the volume to
 * the node of the winning ticket and reports per ticket whether it is satisfied.
 */
import { createHash } from 'node:crypto';
import { type Condition, conditionsSchema } from './condition.js';
import { CSI_DRIVER_NAME } from './csi-driver.js';
import type { LonghornResource } from './object-meta.js';
import { bool, enumOf, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const ATTACHER_TYPES = [
  'csi-attacher',
  'longhorn-api',
  'snapshot-controller',
  'backup-controller',
  'volume-clone-controller',
  'salvage-controller',
  'share-manager-controller',
  'volume-restore-controller',
  'volume-eviction-controller',
  'volume-expansion-controller',
  'bim-ds-controller',
  'volume-rebuilding-controller',
] as const;
export type AttacherType = (typeof ATTACHER_TYPES)[number];

/** Longhorn's attacher priorities: the highest-priority ticket decides the node. */
export const ATTACHER_PRIORITIES = {
  'volume-restore-controller': 2000,
  'volume-expansion-controller': 2000,
  'longhorn-api': 1000,
  'csi-attacher': 900,
  'salvage-controller': 900,
  'share-manager-controller': 900,
  'snapshot-controller': 800,
  'backup-controller': 800,
  'volume-clone-controller': 800,
  'volume-eviction-controller': 800,
  'bim-ds-controller': 800,
  'volume-rebuilding-controller': 800,
} as const satisfies Record<AttacherType, number>;

export function attacherPriority(type: AttacherType): number {
  return ATTACHER_PRIORITIES[type];
}

/** Ticket parameter: "true" attaches without a frontend (no NBD endpoint), "any" takes either. */
export const ATTACHMENT_PARAMETER_DISABLE_FRONTEND = 'disableFrontend';
export const ATTACHMENT_PARAMETER_LAST_ATTACHED_BY = 'lastAttachedBy';
export const DISABLE_FRONTEND_VALUES = ['true', 'false', 'any'] as const;
export type DisableFrontendValue = (typeof DISABLE_FRONTEND_VALUES)[number];

/** Condition type in a ticket status; reason when the volume is attached with other parameters. */
export const ATTACHMENT_CONDITION_SATISFIED = 'Satisfied';
export const ATTACHMENT_REASON_INCOMPATIBLE_PARAMETERS = 'AttachedWithIncompatibleParameters';

export interface AttachmentTicket {
  /** Same as the ticket's key in `attachmentTickets`. */
  id?: string;
  type?: AttacherType;
  /** The node the requester wants the volume on. */
  nodeID?: string;
  /** String parameters: `disableFrontend` ("true"|"false"|"any"), `lastAttachedBy`. */
  parameters?: Record<string, string>;
  /** Bumped by the system when the ticket changes; a status of an older generation is stale. */
  generation?: number;
}

export interface AttachmentTicketStatus {
  id?: string;
  satisfied: boolean;
  conditions?: Condition[];
  /** The ticket generation this status is about. */
  generation?: number;
}

export interface VolumeAttachmentSpec {
  attachmentTickets?: Record<string, AttachmentTicket>;
  /** The Volume this attachment is for (the VolumeAttachment has the volume's name too). */
  volume: string;
}

export interface VolumeAttachmentStatus {
  attachmentTicketStatuses?: Record<string, AttachmentTicketStatus>;
}

export type VolumeAttachment = LonghornResource<
  'VolumeAttachment',
  VolumeAttachmentSpec,
  VolumeAttachmentStatus
>;

const attachmentTicket = obj({
  id: str(),
  type: enumOf(ATTACHER_TYPES),
  nodeID: str(),
  parameters: map(str()),
  generation: int({ format: 'int64', min: 0 }),
});

const attachmentTicketStatus = obj(
  {
    id: str(),
    satisfied: bool(),
    conditions: conditionsSchema,
    generation: int({ format: 'int64', min: 0 }),
  },
  { required: ['satisfied'] },
);

const volumeAttachmentSpec = obj(
  { attachmentTickets: map(attachmentTicket), volume: str() },
  { required: ['volume'] },
);

const volumeAttachmentStatus = obj({ attachmentTicketStatuses: map(attachmentTicketStatus) });

type _SpecCheck = Expect<SameShape<VolumeAttachmentSpec, Infer<typeof volumeAttachmentSpec>>>;
type _StatusCheck = Expect<SameShape<VolumeAttachmentStatus, Infer<typeof volumeAttachmentStatus>>>;

export const volumeAttachmentResource: ResourceDefinition = {
  kind: 'VolumeAttachment',
  plural: 'volumeattachments',
  shortNames: ['lhva'],
  description: 'The attachment tickets of one volume: who wants it attached, on which node.',
  properties: { spec: volumeAttachmentSpec, status: volumeAttachmentStatus },
  printerColumns: [AGE_COLUMN],
};

/** Longhorn names a volume's VolumeAttachment after the volume. */
export function volumeAttachmentName(volumeName: string): string {
  return volumeName;
}

const MAX_TICKET_ID_LENGTH = 253;

/** A ticket id as Longhorn's controllers make them: `<attacher type>-<id>`, at most 253 characters. */
export function attachmentTicketId(type: AttacherType, id: string): string {
  return `${type}-${id}`.slice(0, MAX_TICKET_ID_LENGTH);
}

/**
 * The ticket id of the CSI attacher for a volume on a node: `csi-` and the hex SHA-256 of
 * volume name, driver name and node name, concatenated (Longhorn's csi/controller_server.go).
 */
export function csiAttachmentTicketId(volumeName: string, nodeID: string): string {
  const digest = createHash('sha256').update(`${volumeName}${CSI_DRIVER_NAME}${nodeID}`).digest('hex');
  return `csi-${digest}`;
}

/** True when the ticket exists, its status is about the ticket's current generation, and satisfied. */
export function isTicketSatisfied(attachment: VolumeAttachment, ticketId: string): boolean {
  const ticket = attachment.spec.attachmentTickets?.[ticketId];
  const status = attachment.status?.attachmentTicketStatuses?.[ticketId];
  if (!ticket || !status) return false;
  return (ticket.generation ?? 0) === (status.generation ?? 0) && status.satisfied;
}
