import {
  ATTACHMENT_PARAMETER_DISABLE_FRONTEND,
  type AttacherType,
  type AttachmentTicket,
  type DisableFrontendValue,
  type VolumeAttachment,
  volumeAttachmentName,
} from '@longhorn-ts/api';
import { CsiError } from '../errors.js';
import type { LonghornObjects } from './longhorn-objects.js';

/**
 * Files a ticket in the volume's VolumeAttachment (made if the operator has not made it yet);
 * an existing ticket with that id is left as it is.
 */
export async function addTicket(
  objects: LonghornObjects,
  volume: string,
  ticket: { id: string; type: AttacherType; nodeID: string; disableFrontend: DisableFrontendValue },
): Promise<void> {
  const body: AttachmentTicket = {
    id: ticket.id,
    type: ticket.type,
    nodeID: ticket.nodeID,
    parameters: { [ATTACHMENT_PARAMETER_DISABLE_FRONTEND]: ticket.disableFrontend },
  };
  const name = volumeAttachmentName(volume);
  for (let attempt = 0; attempt < 3; attempt++) {
    const current = await objects.get('VolumeAttachment', name);
    if (current?.spec.attachmentTickets?.[ticket.id]) return;
    if (current) {
      await objects.patch('VolumeAttachment', name, { spec: { attachmentTickets: { [ticket.id]: body } } });
      return;
    }
    try {
      await objects.create('VolumeAttachment', {
        apiVersion: 'longhorn.io/v1beta2',
        kind: 'VolumeAttachment',
        metadata: { name },
        spec: { volume, attachmentTickets: { [ticket.id]: body } },
      });
      return;
    } catch (err) {
      // The operator made it in between: patch it on the next round.
      if (!(err instanceof CsiError && err.code === 'ALREADY_EXISTS')) throw err;
    }
  }
  throw new CsiError('BUSY', `VolumeAttachment ${name} kept changing; retry`);
}

/** Withdraws tickets by id; a missing VolumeAttachment or ticket is fine. */
export async function removeTickets(objects: LonghornObjects, volume: string, ids: string[]): Promise<void> {
  const name = volumeAttachmentName(volume);
  const current = await objects.get('VolumeAttachment', name);
  const present = ids.filter((id) => current?.spec.attachmentTickets?.[id] !== undefined);
  if (present.length === 0) return;
  await objects.patch('VolumeAttachment', name, {
    spec: { attachmentTickets: Object.fromEntries(present.map((id) => [id, null])) },
  });
}

export function ticketsOf(attachment: VolumeAttachment | undefined, type: AttacherType): AttachmentTicket[] {
  return Object.values(attachment?.spec.attachmentTickets ?? {}).filter((t) => t.type === type);
}
