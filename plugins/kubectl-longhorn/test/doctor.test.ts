import { describe, expect, it } from 'vitest';
import { diagnoseSystem } from '../src/doctor/diagnose-system.js';
import { diagnoseVolume, schedulingAdvice } from '../src/doctor/diagnose-volume.js';
import { renderFindings } from '../src/doctor/findings.js';
import type { VolumeDetail } from '../src/render/volume.js';
import { engine, NOW, node, replica, T0, volume } from './fixtures.js';

const nodes = [node('node-1', 'zone-a'), node('node-2', 'zone-b'), node('node-3', 'zone-c')];

function detail(over: Partial<VolumeDetail>): VolumeDetail {
  return {
    volume: volume('vol'),
    engine: engine({ r1: 'RW', r2: 'RW', r3: 'RW' }),
    replicas: [replica('r1', 'node-1'), replica('r2', 'node-2'), replica('r3', 'node-3')],
    nodes,
    snapshots: [],
    attachment: undefined,
    events: [],
    ...over,
  };
}

describe('doctor: one volume', () => {
  it('says a healthy volume is fine', () => {
    const f = diagnoseVolume(detail({}), NOW);
    expect(f).toEqual([
      expect.objectContaining({
        severity: 'ok',
        summary: 'attached, healthy, attached to node-1; 3/3 replicas',
      }),
    ]);
  });

  it('explains an unscheduled volume from its condition, with the fix for anti-affinity', () => {
    const v = volume('vol', {
      state: 'detached',
      robustness: 'unknown',
      currentNodeID: '',
      conditions: [
        {
          type: 'Scheduled',
          status: 'False',
          reason: 'ReplicaSchedulingFailure',
          message: 'replica scheduling failed: hard node anti-affinity: no node without a replica of vol',
        },
      ],
    });
    const [f] = diagnoseVolume(detail({ volume: v, engine: undefined }), NOW);
    expect(f?.severity).toBe('error');
    expect(f?.summary).toBe('not every replica can be scheduled (ReplicaSchedulingFailure)');
    expect(f?.details[0]).toContain('anti-affinity');
    expect(f?.next.join('\n')).toContain('replica-soft-anti-affinity true');
  });

  it('explains a degraded volume: which replica, its node down, a rebuild running', () => {
    const down = node('node-3', 'zone-c', {
      conditions: [{ type: 'Ready', status: 'False', reason: 'ManagerPodDown', message: 'operator gone' }],
    });
    const d = detail({
      volume: volume('vol', { robustness: 'degraded' }),
      engine: engine({ r1: 'RW', r2: 'WO' }),
      replicas: [replica('r1', 'node-1'), replica('r2', 'node-2'), replica('r3', 'node-3', { failedAt: T0 })],
      nodes: [nodes[0]!, nodes[1]!, down],
    });
    const [f] = diagnoseVolume(d, NOW);
    expect(f?.severity).toBe('warning');
    expect(f?.summary).toBe('degraded: 1 of 3 replicas healthy; I/O goes on, redundancy is reduced');
    expect(f?.details).toEqual([
      'replica r2 on node-2: rebuilding',
      'replica r3 on node-3: failed; node node-3 is not ready (ManagerPodDown: operator gone)',
    ]);
    expect(f?.next.join('\n')).toContain('kubectl longhorn volume get vol --watch');
    expect(f?.next.join('\n')).toContain('node node-3 is not ready');
  });

  it('explains a faulted volume and points at auto-salvage', () => {
    const d = detail({
      volume: volume('vol', { robustness: 'faulted', state: 'detached' }),
      engine: undefined,
      replicas: [replica('r1', 'node-1', { failedAt: T0 })],
    });
    const [f] = diagnoseVolume(d, NOW);
    expect(f?.summary).toContain('faulted');
    expect(f?.details).toEqual(['replica r1 on node-1 is failed']);
    expect(f?.next.join('\n')).toContain('auto-salvage');
  });

  it('reports Warning events and an invalid spec', () => {
    const v = volume('vol', {
      conditions: [
        {
          type: 'Scheduled',
          status: 'False',
          reason: 'InvalidVolume',
          message: 'size 0 is not a multiple of 4096',
        },
      ],
    });
    const f = diagnoseVolume(
      detail({
        volume: v,
        events: [
          {
            metadata: {},
            involvedObject: { name: 'vol' },
            type: 'Warning',
            reason: 'InvalidVolume',
            message: 'size 0',
          },
        ],
      }),
      NOW,
    );
    expect(f.map((x) => x.summary)).toEqual([
      'the volume spec is invalid: size 0 is not a multiple of 4096',
      '1 warning event(s)',
    ]);
    expect(renderFindings(f)).toContain('ERROR volume/vol: the volume spec is invalid');
  });

  it.each([
    ['insufficient storage', 'storage-over-provisioning-percentage'],
    ['tags not fulfilled', 'selectors'],
    ['nodes are unavailable', 'node scheduling NODE on'],
    ['something else', 'node list -o wide'],
  ])('advice for "%s" mentions %s', (msg, hint) => {
    expect(schedulingAdvice(msg, 'vol').join('\n')).toContain(hint);
  });
});

describe('doctor: the system', () => {
  it('counts nodes, volumes, and lists what is wrong with what to run', () => {
    const f = diagnoseSystem({
      nodes: [
        nodes[0]!,
        node('node-2', 'zone-b', {
          conditions: [{ type: 'Ready', status: 'False', reason: 'ManagerPodDown' }],
        }),
      ],
      volumes: [volume('a'), volume('b', { robustness: 'degraded' })],
      settings: [
        {
          apiVersion: 'longhorn.io/v1beta2',
          kind: 'Setting',
          metadata: { name: 'x' },
          value: 'bad',
          status: { applied: false },
        },
      ],
      instanceManagers: [],
      events: [],
    });
    const text = renderFindings(f);
    expect(text).toContain('ERROR nodes: 1/2 ready, 2 schedulable');
    expect(text).toContain('node node-2: not ready (ManagerPodDown)');
    expect(text).toContain(
      'WARN  volumes: 2 volume(s): 1 healthy, 1 degraded, 0 faulted, 0 unscheduled, 2 attached',
    );
    expect(text).toContain('next: kubectl longhorn doctor b');
    expect(text).toContain('WARN  settings: 1 setting(s) not applied');
    expect(text).toContain('1 error(s), 2 warning(s).');
  });

  it('says no problems when there are none', () => {
    const f = diagnoseSystem({
      nodes,
      volumes: [volume('a')],
      settings: [],
      instanceManagers: [],
      events: [],
    });
    expect(renderFindings(f)).toMatch(/No problems found\.$/);
  });
});
