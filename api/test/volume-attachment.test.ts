import { describe, expect, it } from 'vitest';
import {
  ATTACHER_PRIORITIES,
  ATTACHER_TYPES,
  attacherPriority,
  attachmentTicketId,
  csiAttachmentTicketId,
  isTicketSatisfied,
  type VolumeAttachment,
  volumeAttachmentName,
} from '../src/volume-attachment.js';

describe('attachment tickets', () => {
  it('rank attachers as Longhorn does', () => {
    expect(ATTACHER_PRIORITIES).toEqual({
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
    });
    for (const type of ATTACHER_TYPES) expect(attacherPriority(type)).toBeGreaterThan(0);
  });

  it('make ids as <type>-<id>, cut at 253 characters', () => {
    expect(attachmentTicketId('snapshot-controller', 'snap-1')).toBe('snapshot-controller-snap-1');
    expect(attachmentTicketId('volume-restore-controller', 'x'.repeat(300))).toHaveLength(253);
  });

  it('make the CSI id from sha256(volume + driver + node)', () => {
    // echo -n "pvc-1driver.longhorn.ionode-1" | sha256sum
    expect(csiAttachmentTicketId('pvc-1', 'node-1')).toBe(
      'csi-76ed8a2352c7837587e14441782ed9b4db65098984db2ba71e86e3408356380a',
    );
  });

  it('name the VolumeAttachment after its volume', () => {
    expect(volumeAttachmentName('pvc-1')).toBe('pvc-1');
  });

  it('count a ticket satisfied only for its current generation', () => {
    const va = (generation: number, statusGeneration: number, satisfied: boolean): VolumeAttachment => ({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'VolumeAttachment',
      metadata: { name: 'vol' },
      spec: {
        volume: 'vol',
        attachmentTickets: { t: { id: 't', type: 'longhorn-api', nodeID: 'n', generation } },
      },
      status: { attachmentTicketStatuses: { t: { id: 't', satisfied, generation: statusGeneration } } },
    });
    expect(isTicketSatisfied(va(1, 1, true), 't')).toBe(true);
    expect(isTicketSatisfied(va(2, 1, true), 't')).toBe(false);
    expect(isTicketSatisfied(va(1, 1, false), 't')).toBe(false);
    expect(isTicketSatisfied(va(1, 1, true), 'other')).toBe(false);
  });
});
