import { describe, expect, it } from 'vitest';
import { renderNodeList } from '../src/render/node.js';
import { renderSettingList } from '../src/render/setting.js';
import { renderSnapshotTree, snapshotNodes } from '../src/render/snapshot-tree.js';
import {
  qosOf,
  renderTickets,
  renderVolumeDetail,
  renderVolumeList,
  replicaRow,
} from '../src/render/volume.js';
import { attachment, engine, NOW, node, replica, snapshot, T0, volume } from './fixtures.js';

describe('volume list', () => {
  it('prints the kubectl-like table, sorted by name; wide adds replicas, locality, access mode, frontend', () => {
    const vols = [
      volume('vol-b', { state: 'detached', robustness: 'unknown', currentNodeID: '' }),
      volume('vol-a'),
    ];
    expect(renderVolumeList(vols, false, NOW)).toBe(
      [
        'NAME    STATE      ROBUSTNESS   SCHEDULED   SIZE    NODE     AGE',
        'vol-a   attached   healthy      True        1 GiB   node-1   60m',
        'vol-b   detached   unknown      True        1 GiB   -        60m',
      ].join('\n'),
    );
    const wide = renderVolumeList(vols, true, NOW).split('\n');
    expect(wide[0]).toContain('REPLICAS   DATA-LOCALITY   ACCESS-MODE   FRONTEND   ACTUAL-SIZE   OWNER');
    expect(wide[1]).toContain('3          disabled        rwo           blockdev');
  });
});

describe('replica rows: health from the Replica CR and the engine', () => {
  const nodes = [node('node-1', 'zone-a'), node('node-2', 'zone-b')];
  it.each([
    ['RW', {}, 'healthy'],
    ['WO', {}, 'rebuilding'],
    ['ERR', {}, 'error'],
    [undefined, {}, 'healthy (detached)'],
    [undefined, { healthyAt: '' }, 'new'],
    ['RW', { failedAt: T0 }, 'failed'],
    [undefined, { nodeID: '' }, 'unscheduled'],
  ] as const)('mode %s, spec %j -> %s', (mode, spec, health) => {
    const r = replica('r1', 'node-2', spec);
    const e = mode ? engine({ r1: mode }) : undefined;
    expect(replicaRow(r, e, nodes).health).toBe(health);
  });

  it('has zone and disk from the Node, rebuild progress from the engine by address', () => {
    const e = engine(
      { r1: 'WO' },
      { rebuildStatus: { '127.0.0.11:7000': { isRebuilding: true, progress: 42, state: 'in_progress' } } },
    );
    expect(replicaRow(replica('r1', 'node-2'), e, nodes)).toMatchObject({
      zone: 'zone-b',
      disk: 'disk-node-2',
      mode: 'WO',
      health: 'rebuilding',
      rebuild: '42%',
    });
  });
});

describe('snapshot tree', () => {
  it('draws the chain oldest first with the head under the newest, sizes and marks', () => {
    const snaps = [
      snapshot('s1', '', ['s2', 's3'], '2026-01-01T23:10:00Z', 8 << 20),
      snapshot('s2', 's1', ['volume-head'], '2026-01-01T23:20:00Z'),
      snapshot('s3', 's1', [], '2026-01-01T23:30:00Z', 0),
    ];
    expect(renderSnapshotTree(snapshotNodes(snaps), NOW)).toEqual([
      's1  8 MiB  50m  (user)',
      '├── s2  4 KiB  40m  (user)',
      '│   └── volume-head',
      '└── s3  0 B  30m  (user)',
    ]);
  });

  it("takes parent/children from the engine's chain over a CR status that lags", () => {
    // The CR of s1 still lists the head (written before s2 was taken); the engine knows better.
    const snaps = [
      snapshot('s1', '', ['volume-head'], '2026-01-01T23:10:00Z'),
      snapshot('s2', 's1', ['volume-head'], '2026-01-01T23:20:00Z'),
    ];
    const chain = {
      s1: { name: 's1', parent: '', children: { s2: true } },
      s2: { name: 's2', parent: 's1', children: { 'volume-head': true } },
    };
    expect(renderSnapshotTree(snapshotNodes(snaps, chain), NOW)).toEqual([
      's1  4 KiB  50m  (user)',
      '└── s2  4 KiB  40m  (user)',
      '    └── volume-head',
    ]);
    // Without the engine: the head still appears once, under the newest snapshot that lists it.
    expect(
      renderSnapshotTree(snapshotNodes(snaps), NOW).filter((l) => l.includes('volume-head')),
    ).toHaveLength(1);
  });

  it('says so when there are none', () => {
    expect(renderSnapshotTree([], NOW)).toEqual(['(no snapshots)']);
  });
});

describe('volume detail', () => {
  it('shows QoS limits with byte rates and what was throttled', () => {
    const v = volume('vol');
    v.spec.qos = { iops: 500, writeBandwidth: 2 * 1024 * 1024 };
    v.status = { ...v.status, qos: { throttledRequests: 12, throttledMs: 340 } };
    expect(qosOf(v)).toBe('iops 500, writeBandwidth 2 MiB/s (throttled 12 requests, 340 ms)');
  });

  it('shows engine, replicas with node/zone/mode/health, snapshots, conditions, tickets and events', () => {
    const text = renderVolumeDetail(
      {
        volume: volume('vol'),
        engine: engine({ r1: 'RW', r2: 'WO' }),
        replicas: [replica('r1', 'node-1'), replica('r2', 'node-2')],
        nodes: [node('node-1', 'zone-a'), node('node-2', 'zone-b')],
        snapshots: [snapshot('s1', '', ['volume-head'], T0)],
        attachment: attachment(
          {
            'longhorn-api-vol': {
              id: 'longhorn-api-vol',
              type: 'longhorn-api',
              nodeID: 'node-1',
              parameters: { disableFrontend: 'false' },
            },
          },
          { 'longhorn-api-vol': true },
        ),
        events: [
          {
            metadata: {},
            involvedObject: { kind: 'Volume', name: 'vol' },
            reason: 'Attached',
            type: 'Normal',
            message: 'volume vol has been attached to node-1',
            lastTimestamp: new Date('2026-01-01T23:59:00Z'),
          },
        ],
      },
      NOW,
    );
    expect(text).toContain('Endpoint:   nbd://127.0.0.11:10000');
    expect(text).toContain('QoS limits:      -');
    expect(text).toMatch(/r1\s+node-1\s+zone-a\s+disk-node-1\s+running\s+RW\s+healthy/);
    expect(text).toMatch(/r2\s+node-2\s+zone-b\s+disk-node-2\s+running\s+WO\s+rebuilding/);
    expect(text).toContain('s1  4 KiB  60m  (user)');
    expect(text).toMatch(/Scheduled\s+True/);
    expect(text).toMatch(/longhorn-api-vol\s+longhorn-api\s+node-1\s+enabled\s+true/);
    expect(text).toMatch(/60s\s+Normal\s+Attached\s+volume\/vol\s+volume vol has been attached to node-1/);
  });

  it('marks a ticket whose status is about an older generation as pending', () => {
    const va = attachment({ t: { id: 't', type: 'csi-attacher', nodeID: 'n', generation: 2 } }, { t: true });
    expect(renderTickets(va).join('\n')).toMatch(/t\s+csi-attacher\s+n\s+enabled\s+pending/);
    expect(renderTickets(undefined)).toEqual(['(none)']);
  });
});

describe('node list', () => {
  it('sums space per node and lists problems; wide adds a disk table', () => {
    const sick = node('node-2', 'zone-b', {
      conditions: [
        { type: 'Ready', status: 'False', reason: 'ManagerPodDown' },
        { type: 'Schedulable', status: 'True' },
      ],
    });
    const text = renderNodeList([sick, node('node-1', 'zone-a', {}, { tags: ['fast'] })], false, NOW);
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'NAME     READY   SCHEDULABLE   SCHEDULING   ZONE     TAGS   DISKS   MAX      USED    SCHEDULED   RESERVED   PROBLEMS                AGE',
    );
    expect(lines[1]).toMatch(
      /^node-1\s+True\s+True\s+enabled\s+zone-a\s+fast\s+1\s+10 GiB\s+4 GiB\s+2 GiB\s+1 GiB\s+-\s+60m$/,
    );
    expect(lines[2]).toMatch(/^node-2\s+False\s+True .* Ready\(ManagerPodDown\)\s+60m$/);
    const wide = renderNodeList([sick], true, NOW);
    expect(wide).toMatch(
      /node-2\s+disk-node-2\s+\/data\/node-2\s+True\s+Unknown\s+enabled\s+ssd\s+10 GiB\s+6 GiB\s+4 GiB\s+2 GiB\s+1 GiB\s+1/,
    );
  });
});

describe('setting list', () => {
  it('shows value, default and applied; wide adds category and description', () => {
    const s = (name: string, value: string, applied?: boolean) => ({
      apiVersion: 'longhorn.io/v1beta2' as const,
      kind: 'Setting' as const,
      metadata: { name },
      value,
      ...(applied !== undefined && { status: { applied } }),
    });
    const text = renderSettingList([s('default-replica-count', '2', true), s('no-such', 'x')], false);
    expect(text.split('\n')).toEqual([
      'NAME                    VALUE   DEFAULT   APPLIED',
      'default-replica-count   2       3         true',
      'no-such                 x       -         -',
    ]);
    expect(renderSettingList([s('default-replica-count', '2', true)], true)).toContain('general');
  });
});
