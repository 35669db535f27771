/**
 * The plugin's attachment tickets: Longhorn's `longhorn-api` type (priority 1000, above CSI's
 * 900), id `longhorn-api-<volume>` as Longhorn's API makes them, so a volume attached here is
 * detached here, and a ticket of another requester (CSI, snapshot controller) is never touched.
 */
import {
  ATTACHMENT_PARAMETER_DISABLE_FRONTEND,
  type AttachmentTicket,
  attachmentTicketId,
  LONGHORN_API_VERSION,
  type VolumeAttachment,
} from '@longhorn-ts/api';

export const PLUGIN_TICKET_TYPE = 'longhorn-api' as const;

export function pluginTicketId(volume: string): string {
  return attachmentTicketId(PLUGIN_TICKET_TYPE, volume);
}

export function pluginTicket(volume: string, nodeID: string, disableFrontend: boolean): AttachmentTicket {
  return {
    id: pluginTicketId(volume),
    type: PLUGIN_TICKET_TYPE,
    nodeID,
    parameters: { [ATTACHMENT_PARAMETER_DISABLE_FRONTEND]: String(disableFrontend) },
  };
}

/** Merge patch that adds (or replaces) the plugin's ticket. */
export function addTicketPatch(ticket: AttachmentTicket): object {
  return { spec: { attachmentTickets: { [ticket.id ?? '']: ticket } } };
}

/** Merge patch that removes the plugin's ticket (null deletes the key). */
export function removeTicketPatch(volume: string): object {
  return { spec: { attachmentTickets: { [pluginTicketId(volume)]: null } } };
}

/** A VolumeAttachment holding only the plugin's ticket (when the operator has not made one yet). */
export function attachmentWithTicket(
  volume: string,
  namespace: string,
  ticket: AttachmentTicket,
): VolumeAttachment {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'VolumeAttachment',
    metadata: { name: volume, namespace },
    spec: { volume, attachmentTickets: { [ticket.id ?? '']: ticket } },
  };
}

/** Other requesters' tickets, as `type@node` (what keeps a volume attached after our detach). */
export function otherTickets(attachment: VolumeAttachment | undefined, volume: string): string[] {
  return Object.entries(attachment?.spec.attachmentTickets ?? {})
    .filter(([id]) => id !== pluginTicketId(volume))
    .map(([id, t]) => `${t.type ?? id}@${t.nodeID ?? '?'}`);
}
