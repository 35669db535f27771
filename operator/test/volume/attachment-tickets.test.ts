import { describe, expect, it } from 'vitest';
import {
  ATTACHER_PRIORITY,
  type AttachmentTicket,
  type AttachmentTicketStatus,
  type AttachVolume,
  attacherPriority,
  decideAttachment,
  isTicketSatisfied,
  ticketStatuses,
} from '../../src/volume/attachment-tickets.js';

type VolumeOverrides = { spec?: Partial<AttachVolume['spec']>; status?: Partial<AttachVolume['status']> };

function vol(o: VolumeOverrides = {}): AttachVolume {
  return {
    name: 'vol',
    spec: { nodeID: '', disableFrontend: false, accessMode: 'rwo', migratable: false, ...o.spec },
    status: { state: 'detached', currentNodeID: '', robustness: 'unknown', ...o.status },
  };
}

const attachedTo = (node: string, o: VolumeOverrides = {}) =>
  vol({
    spec: { nodeID: node, ...o.spec },
    status: { state: 'attached', currentNodeID: node, robustness: 'healthy', ...o.status },
  });

function ticket(
  id: string,
  type: string,
  nodeID: string,
  parameters?: Record<string, string>,
): AttachmentTicket {
  return { id, type, nodeID, parameters, generation: 1 };
}

const tickets = (...ts: AttachmentTicket[]) => Object.fromEntries(ts.map((t) => [t.id, t]));

describe('attacherPriority', () => {
  it.each([
    ['volume-restore-controller', 2000],
    ['volume-expansion-controller', 2000],
    ['longhorn-api', 1000],
    ['csi-attacher', 900],
    ['salvage-controller', 900],
    ['share-manager-controller', 900],
    ['snapshot-controller', 800],
    ['backup-controller', 800],
    ['volume-clone-controller', 800],
    ['volume-eviction-controller', 800],
    ['volume-rebuilding-controller', 800],
    ['bim-ds-controller', 800],
    ['something-else', 0],
    ['toString', 0],
  ])('%s -> %d', (type, priority) => {
    expect(attacherPriority(type)).toBe(priority);
  });

  it('has a priority for every known type', () => {
    expect(Object.keys(ATTACHER_PRIORITY)).toHaveLength(12);
  });
});

interface Row {
  name: string;
  volume: AttachVolume;
  tickets: AttachmentTicket[];
  nodeID: string;
  disableFrontend?: boolean;
  lastAttachedBy?: string;
  winner?: string;
  detached?: string;
}

const rows: Row[] = [
  { name: 'no tickets, detached', volume: vol(), tickets: [], nodeID: '' },
  {
    name: 'one CSI ticket',
    volume: vol(),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: 'n1',
    winner: 'csi-x',
  },
  {
    name: 'the API outranks CSI',
    volume: vol(),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1'), ticket('ui', 'longhorn-api', 'n2')],
    nodeID: 'n2',
    winner: 'ui',
  },
  {
    name: 'restore outranks the API',
    volume: vol(),
    tickets: [ticket('ui', 'longhorn-api', 'n2'), ticket('restore', 'volume-restore-controller', 'n3')],
    nodeID: 'n3',
    winner: 'restore',
  },
  {
    name: 'equal priority: lexically first id',
    volume: vol(),
    tickets: [ticket('csi-b', 'csi-attacher', 'n2'), ticket('csi-a', 'csi-attacher', 'n1')],
    nodeID: 'n1',
    winner: 'csi-a',
  },
  {
    name: 'equal priority: lexical, not shortest',
    volume: vol(),
    tickets: [ticket('csi-9', 'csi-attacher', 'n2'), ticket('csi-10', 'csi-attacher', 'n1')],
    nodeID: 'n1',
    winner: 'csi-10',
  },
  {
    name: 'an unknown type loses to a known one',
    volume: vol(),
    tickets: [ticket('a', 'mystery', 'n1'), ticket('b', 'snapshot-controller', 'n2')],
    nodeID: 'n2',
    winner: 'b',
  },
  {
    name: 'an unknown type alone still attaches',
    volume: vol(),
    tickets: [ticket('a', 'mystery', 'n1')],
    nodeID: 'n1',
    winner: 'a',
  },
  {
    name: 'disableFrontend true',
    volume: vol(),
    tickets: [ticket('snap', 'snapshot-controller', 'n1', { disableFrontend: 'true' })],
    nodeID: 'n1',
    disableFrontend: true,
    winner: 'snap',
  },
  {
    name: 'disableFrontend any keeps the current setting',
    volume: vol({ spec: { disableFrontend: true } }),
    tickets: [ticket('bk', 'backup-controller', 'n1', { disableFrontend: 'any' })],
    nodeID: 'n1',
    disableFrontend: true,
    winner: 'bk',
  },
  {
    name: 'lastAttachedBy is carried',
    volume: vol(),
    tickets: [ticket('ui', 'longhorn-api', 'n1', { lastAttachedBy: 'admin' })],
    nodeID: 'n1',
    lastAttachedBy: 'admin',
    winner: 'ui',
  },
  {
    name: 'no attach while still detaching',
    volume: vol({ status: { state: 'detaching', currentNodeID: 'n1' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n2')],
    nodeID: '',
  },
  {
    name: 'no attach while faulted',
    volume: vol({ status: { robustness: 'faulted' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: '',
  },
  {
    name: 'attached and wanted: stays',
    volume: attachedTo('n1'),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: 'n1',
  },
  {
    name: 'attached and no longer wanted: detaches',
    volume: attachedTo('n1'),
    tickets: [],
    nodeID: '',
    detached: 'no attachment ticket requests node n1',
  },
  {
    name: 'attached but the only ticket here wants the frontend off',
    volume: attachedTo('n1'),
    tickets: [ticket('snap', 'snapshot-controller', 'n1', { disableFrontend: 'true' })],
    nodeID: '',
    detached: 'no attachment ticket requests node n1',
  },
  {
    name: 'a workload elsewhere interrupts a snapshot here',
    volume: attachedTo('n1'),
    tickets: [ticket('snap', 'snapshot-controller', 'n1'), ticket('csi-x', 'csi-attacher', 'n2')],
    nodeID: '',
    detached: 'a workload ticket for another node interrupts snapshot/backup tickets',
  },
  {
    name: 'a workload elsewhere does not interrupt an API attachment',
    volume: attachedTo('n1'),
    tickets: [
      ticket('bk', 'backup-controller', 'n1'),
      ticket('ui', 'longhorn-api', 'n1'),
      ticket('csi-x', 'csi-attacher', 'n2'),
    ],
    nodeID: 'n1',
  },
  {
    name: 'a snapshot elsewhere does not interrupt a workload',
    volume: attachedTo('n1'),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1'), ticket('snap', 'snapshot-controller', 'n2')],
    nodeID: 'n1',
  },
  {
    name: 'a faulted volume is detached for salvage',
    volume: attachedTo('n1', { status: { robustness: 'faulted' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: '',
    detached: 'the volume is faulted',
  },
  {
    name: 'regular RWX: CSI tickets do not attach',
    volume: vol({ spec: { accessMode: 'rwx' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: '',
  },
  {
    name: 'regular RWX: the share manager ticket attaches',
    volume: vol({ spec: { accessMode: 'rwx' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1'), ticket('sm', 'share-manager-controller', 'n2')],
    nodeID: 'n2',
    winner: 'sm',
  },
  {
    name: 'regular RWX: CSI tickets do not keep it attached',
    volume: attachedTo('n1', { spec: { accessMode: 'rwx' } }),
    tickets: [ticket('csi-x', 'csi-attacher', 'n1')],
    nodeID: '',
    detached: 'no attachment ticket requests node n1',
  },
  {
    name: 'migratable with two CSI tickets waits for one to go',
    volume: vol({ spec: { accessMode: 'rwx', migratable: true } }),
    tickets: [ticket('csi-a', 'csi-attacher', 'n1'), ticket('csi-b', 'csi-attacher', 'n2')],
    nodeID: '',
  },
  {
    name: 'migratable with two CSI tickets and an API ticket',
    volume: vol({ spec: { accessMode: 'rwx', migratable: true } }),
    tickets: [
      ticket('csi-a', 'csi-attacher', 'n1'),
      ticket('csi-b', 'csi-attacher', 'n2'),
      ticket('ui', 'longhorn-api', 'n3'),
    ],
    nodeID: 'n3',
    winner: 'ui',
  },
];

describe('decideAttachment', () => {
  it.each(rows)('$name', (row) => {
    const d = decideAttachment(tickets(...row.tickets), row.volume);
    expect(d.desired).toEqual({
      nodeID: row.nodeID,
      disableFrontend:
        row.disableFrontend ?? (row.detached === undefined ? row.volume.spec.disableFrontend : false),
      lastAttachedBy: row.lastAttachedBy ?? '',
    });
    expect(d.attachedFor?.id).toBe(row.winner);
    expect(d.detachedBecause).toBe(row.detached);
  });
});

describe('ticketStatuses', () => {
  const now = '2024-05-01T00:00:00Z';

  it.each([
    {
      name: 'attached to the ticket node',
      volume: attachedTo('n1'),
      t: ticket('csi-x', 'csi-attacher', 'n1'),
      satisfied: true,
      reason: '',
      message: '',
    },
    {
      name: 'attached elsewhere',
      volume: attachedTo('n1'),
      t: ticket('csi-x', 'csi-attacher', 'n2'),
      satisfied: false,
      reason: '',
      message: 'the volume is currently attached to different node n1',
    },
    {
      name: 'still attaching',
      volume: vol({ spec: { nodeID: 'n1' }, status: { state: 'attaching' } }),
      t: ticket('csi-x', 'csi-attacher', 'n1'),
      satisfied: false,
      reason: '',
      message: '',
    },
    {
      name: 'attached with the frontend on, ticket wants it off',
      volume: attachedTo('n1'),
      t: ticket('snap', 'snapshot-controller', 'n1', { disableFrontend: 'true' }),
      satisfied: false,
      reason: 'AttachedWithIncompatibleParameters',
      message: 'volume vol has already attached to node n1 with incompatible parameters',
    },
    {
      name: 'attached, ticket takes any frontend',
      volume: attachedTo('n1', { spec: { disableFrontend: true } }),
      t: ticket('bk', 'backup-controller', 'n1', { disableFrontend: 'any' }),
      satisfied: true,
      reason: '',
      message: '',
    },
    {
      name: 'RWX CSI ticket with the share up',
      volume: vol({ spec: { accessMode: 'rwx' }, status: { shareAvailable: true } }),
      t: ticket('csi-x', 'csi-attacher', 'n5'),
      satisfied: true,
      reason: '',
      message: 'The attachment ticket is satisfied',
    },
    {
      name: 'RWX CSI ticket with the share down',
      volume: vol({ spec: { accessMode: 'rwx' } }),
      t: ticket('csi-x', 'csi-attacher', 'n5'),
      satisfied: false,
      reason: '',
      message: 'Waiting for volume share to be available',
    },
  ])('$name', ({ volume, t, satisfied, reason, message }) => {
    const out = ticketStatuses(tickets(t), {}, volume, now);
    expect(out).toEqual({
      [t.id]: {
        id: t.id,
        satisfied,
        generation: 1,
        conditions: [
          {
            type: 'Satisfied',
            status: satisfied ? 'True' : 'False',
            reason,
            message,
            lastTransitionTime: now,
          },
        ],
      },
    });
  });

  it('drops withdrawn tickets, keeps transition times, copies generations', () => {
    const earlier = '2024-04-01T00:00:00Z';
    const t = { ...ticket('csi-x', 'csi-attacher', 'n1'), generation: 7 };
    const previous = {
      'csi-x': {
        id: 'csi-x',
        satisfied: true,
        generation: 6,
        conditions: [
          {
            type: 'Satisfied',
            status: 'True' as const,
            reason: '',
            message: '',
            lastTransitionTime: earlier,
          },
        ],
      },
      gone: { id: 'gone', satisfied: true, generation: 1, conditions: [] },
    };
    const out = ticketStatuses(tickets(t), previous, attachedTo('n1'), now);
    expect(Object.keys(out)).toEqual(['csi-x']);
    expect(out['csi-x']!.generation).toBe(7);
    expect(out['csi-x']!.conditions[0]!.lastTransitionTime).toBe(earlier);
  });
});

describe('isTicketSatisfied', () => {
  const t = { ...ticket('a', 'csi-attacher', 'n1'), generation: 2 };
  it.each([
    { status: { id: 'a', satisfied: true, generation: 2, conditions: [] }, ok: true },
    { status: { id: 'a', satisfied: true, generation: 1, conditions: [] }, ok: false },
    { status: { id: 'a', satisfied: false, generation: 2, conditions: [] }, ok: false },
    { status: undefined, ok: false },
  ])('$status -> $ok', ({ status, ok }) => {
    const statuses: Record<string, AttachmentTicketStatus> = status === undefined ? {} : { a: status };
    expect(isTicketSatisfied('a', { a: t }, statuses)).toBe(ok);
  });
});
