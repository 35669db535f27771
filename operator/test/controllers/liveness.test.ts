import type { V1Lease, V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { LivenessTracker, leaseName, liveNodes, nextExpiry } from '../../src/controllers/liveness.js';
import { rootLogger } from '../../src/logging.js';
import { ManualClock } from '../../src/runtime/clock.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');

function lease(node: string, renewedAt: number, seconds = 15): V1Lease {
  return {
    metadata: { name: leaseName(node) },
    // As the API serves MicroTime: a string with six fractional digits.
    spec: {
      holderIdentity: node,
      leaseDurationSeconds: seconds,
      renewTime: new Date(renewedAt).toISOString().replace('Z', '000Z') as unknown as Date,
    },
  };
}

const k8sNode = (name: string, ready: 'True' | 'False'): V1Node => ({
  metadata: { name },
  status: { conditions: [{ type: 'Ready', status: ready }] },
});

describe('liveNodes', () => {
  it('fresh leases are live; expired ones and other leases are not', () => {
    const leases = [
      lease('node-1', T0),
      lease('node-2', T0 - 20_000),
      { metadata: { name: 'kube-scheduler' }, spec: { renewTime: new Date(T0) } },
    ];
    expect([...liveNodes(leases, [], T0 + 1000)]).toEqual(['node-1']);
  });
  it('a NotReady Kubernetes node is not live even with a fresh lease; self always is', () => {
    const leases = [lease('node-1', T0), lease('node-2', T0)];
    expect([...liveNodes(leases, [k8sNode('node-2', 'False')], T0, 'node-3')].sort()).toEqual([
      'node-1',
      'node-3',
    ]);
  });
  it('next expiry is the earliest fresh lease end', () => {
    expect(nextExpiry([lease('a', T0, 15), lease('b', T0 - 5000, 15)], T0)).toBe(T0 + 10_000);
    expect(nextExpiry([lease('a', T0 - 60_000)], T0)).toBeUndefined();
  });
});

describe('LivenessTracker', () => {
  it('reports a node gone when its lease expires, without any event', () => {
    const clock = new ManualClock(T0);
    let leases = [lease('node-1', T0), lease('node-2', T0)];
    const changes: string[][] = [];
    const tracker = new LivenessTracker(
      'node-1',
      { leases: () => leases, k8sNodes: () => [] },
      clock,
      (_live, changed) => changes.push(changed),
      rootLogger,
    );
    tracker.refresh();
    expect(changes).toEqual([['node-1', 'node-2']]);
    // node-1 renews, node-2 does not.
    clock.advance(10_000);
    leases = [lease('node-1', T0 + 10_000), lease('node-2', T0)];
    clock.advance(6_000);
    expect(tracker.isLive('node-2')).toBe(false);
    expect(changes.at(-1)).toEqual(['node-2']);
    tracker.stop();
  });
});
