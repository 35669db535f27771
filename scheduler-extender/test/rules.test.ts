import type { V1Pod } from '@kubernetes/client-node';
import type { DataLocality, Replica } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { StaticClusterView, type StaticObjects } from '../src/cluster-view.js';
import { candidatesOf, podContext } from '../src/pod-context.js';
import { claimNamesOf, isHealthyReplica, longhornVolumesOf } from '../src/pod-volumes.js';
import { knownNode, strictLocalReplica } from '../src/predicates.js';
import { combinedScore, replicaLocality, zoneSpread } from '../src/scorers.js';
import { workloadPeers } from '../src/workload.js';
import { claim, node, pod, replica, volume } from './fixtures.js';

const NODES = [node('n1', 'zone-a'), node('n2', 'zone-b'), node('n3', 'zone-c'), node('n4', 'zone-a')];

/** One pod `p` using claim `data` -> Longhorn volume `vol` with `locality` and `replicas`. */
function world(locality: DataLocality | undefined, replicas: Replica[], extra: StaticObjects = {}) {
  const { pvc, pv } = claim('data', 'vol');
  return new StaticClusterView({
    nodes: NODES,
    pvcs: [pvc, ...(extra.pvcs ?? [])],
    pvs: [pv!, ...(extra.pvs ?? [])],
    volumes: locality ? [volume('vol', locality)] : [],
    replicas,
    pods: extra.pods ?? [],
  });
}

function ctxFor(p: V1Pod, view: StaticClusterView) {
  const candidates = candidatesOf(['n1', 'n2', 'n3', 'n4'], view);
  return { candidates, ctx: podContext(p, candidates, view) };
}

describe('isHealthyReplica', () => {
  it.each([
    ['running', replica('v', 'n1'), true],
    [
      'stopped but complete (detached volume)',
      replica('v', 'n1', { state: 'stopped', healthyAt: 't' }),
      true,
    ],
    ['stopped and never healthy', replica('v', 'n1', { state: 'stopped' }), false],
    ['running but failed', replica('v', 'n1', { failedAt: '2026-01-01T00:00:00Z' }), false],
    ['error state', replica('v', 'n1', { state: 'error' }), false],
    ['being deleted', replica('v', 'n1', { deleting: true }), false],
    ['no node', replica('v', ''), false],
  ])('%s -> %s', (_name, r, healthy) => {
    expect(isHealthyReplica(r)).toBe(healthy);
  });
});

describe('longhornVolumesOf / claimNamesOf', () => {
  it('follows PVC -> PV -> volumeHandle, and skips unbound, missing and foreign claims', () => {
    const bound = claim('a', 'vol-a');
    const unbound = claim('b', undefined);
    const foreign = claim('c', 'ebs-1', 'ebs.csi.aws.com');
    const view = new StaticClusterView({
      pvcs: [bound.pvc, unbound.pvc, foreign.pvc],
      pvs: [bound.pv!, foreign.pv!],
      volumes: [volume('vol-a', 'best-effort')],
      replicas: [replica('vol-a', 'n1'), replica('vol-a', 'n2', { failedAt: 'x' })],
    });
    const uses = longhornVolumesOf(pod('p', { claims: ['a', 'b', 'c', 'missing'] }), view);
    expect(uses).toEqual([
      {
        claim: 'a',
        volume: 'vol-a',
        dataLocality: 'best-effort',
        healthyNodes: new Set(['n1']),
        placed: true,
      },
    ]);
  });

  it("a claim in another namespace is not the pod's", () => {
    const other = claim('a', 'vol-a', 'driver.longhorn.io', 'other');
    const view = new StaticClusterView({ pvcs: [other.pvc], pvs: [other.pv!] });
    expect(longhornVolumesOf(pod('p', { claims: ['a'] }), view)).toEqual([]);
  });

  it('a Volume CR not in the cache yet counts as dataLocality disabled', () => {
    expect(longhornVolumesOf(pod('p', { claims: ['data'] }), world(undefined, []))[0]?.dataLocality).toBe(
      'disabled',
    );
  });

  it('generic ephemeral volumes use the claim <pod>-<volume>', () => {
    const p = pod('web-0');
    p.spec!.volumes = [
      { name: 'scratch', ephemeral: { volumeClaimTemplate: { spec: {} } } },
      { name: 'cfg', configMap: { name: 'x' } },
    ];
    expect(claimNamesOf(p)).toEqual(['web-0-scratch']);
  });
});

describe('predicates', () => {
  const strictCases: [string, Replica[], string, string | undefined][] = [
    ['replica on the node passes', [replica('vol', 'n2')], 'n2', undefined],
    [
      'replica elsewhere fails',
      [replica('vol', 'n2')],
      'n1',
      'has no healthy replica on node n1 (healthy replicas on n2)',
    ],
    [
      'failed replica on the node fails',
      [replica('vol', 'n1', { failedAt: 't' })],
      'n1',
      '(no healthy replica)',
    ],
    ['no replica placed yet passes (not provisioned)', [replica('vol', '')], 'n1', undefined],
    [
      'a volume that never served: its scheduled (stopped) replica node passes',
      [replica('vol', 'n2', { state: 'stopped' })],
      'n2',
      undefined,
    ],
    [
      'a volume that never served: other nodes fail',
      [replica('vol', 'n2', { state: 'stopped' })],
      'n1',
      'has no healthy replica on node n1 (healthy replicas on n2)',
    ],
    [
      'a volume that served once: a stopped replica without healthyAt does not count',
      [
        replica('vol', 'n2', { state: 'stopped' }),
        replica('vol', 'n3', { state: 'stopped', healthyAt: 't' }),
      ],
      'n2',
      'has no healthy replica on node n2 (healthy replicas on n3)',
    ],
    ['no replica at all passes (not provisioned)', [], 'n3', undefined],
  ];
  it.each(strictCases)('strict-local: %s', (_name, replicas, nodeName, reason) => {
    const view = world('strict-local', replicas);
    const p = pod('p', { claims: ['data'] });
    const { ctx } = ctxFor(p, view);
    const got = strictLocalReplica(p, { name: nodeName, node: view.node(nodeName) }, ctx);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(reason);
  });

  it.each<[DataLocality]>([['best-effort'], ['disabled']])('%s volumes never filter', (locality) => {
    const view = world(locality, [replica('vol', 'n2')]);
    const p = pod('p', { claims: ['data'] });
    const { ctx, candidates } = ctxFor(p, view);
    for (const c of candidates) expect(strictLocalReplica(p, c, ctx)).toBeUndefined();
  });

  it.each([
    ['unknown node, pod with a Longhorn volume', ['data'], 'n9', "not in the longhorn-ts extender's cache"],
    ['unknown node, pod without one', [], 'n9', undefined],
    ['known node', ['data'], 'n1', undefined],
  ])('known-node: %s', (_name, claims, nodeName, reason) => {
    const view = world('strict-local', [replica('vol', 'n1')]);
    const p = pod('p', { claims });
    const { ctx } = ctxFor(p, view);
    const got = knownNode(p, { name: nodeName, node: view.node(nodeName) }, ctx);
    if (reason === undefined) expect(got).toBeUndefined();
    else expect(got).toContain(reason);
  });
});

describe('scorers', () => {
  it.each<[string, DataLocality, Replica[], Record<string, number | undefined>]>([
    [
      'best-effort: the replica node scores 10',
      'best-effort',
      [replica('vol', 'n2')],
      { n1: 0, n2: 10, n3: 0 },
    ],
    [
      'best-effort: two healthy replicas',
      'best-effort',
      [replica('vol', 'n1'), replica('vol', 'n3'), replica('vol', 'n2', { failedAt: 't' })],
      { n1: 10, n2: 0, n3: 10 },
    ],
    ['disabled: no opinion', 'disabled', [replica('vol', 'n2')], { n1: undefined, n2: undefined }],
  ])('replica-locality, %s', (_name, locality, replicas, want) => {
    const view = world(locality, replicas);
    const p = pod('p', { claims: ['data'] });
    const { ctx } = ctxFor(p, view);
    for (const [n, score] of Object.entries(want))
      expect(replicaLocality(p, { name: n, node: view.node(n) }, ctx), n).toBe(score);
  });

  it('replica-locality: the share of best-effort volumes local to the node', () => {
    const a = claim('a', 'va');
    const b = claim('b', 'vb');
    const view = new StaticClusterView({
      nodes: NODES,
      pvcs: [a.pvc, b.pvc],
      pvs: [a.pv!, b.pv!],
      volumes: [volume('va', 'best-effort'), volume('vb', 'best-effort')],
      replicas: [replica('va', 'n1'), replica('vb', 'n1'), replica('vb', 'n2')],
    });
    const p = pod('p', { claims: ['a', 'b'] });
    const { ctx } = ctxFor(p, view);
    expect(replicaLocality(p, { name: 'n1', node: view.node('n1') }, ctx)).toBe(10);
    expect(replicaLocality(p, { name: 'n2', node: view.node('n2') }, ctx)).toBe(5);
    expect(replicaLocality(p, { name: 'n3', node: view.node('n3') }, ctx)).toBe(0);
  });

  /** Pods `sts-<i>` of one StatefulSet each with claim `data-<i>` (disabled locality). */
  function statefulSet(placed: Record<string, string>, extraPods: V1Pod[] = []) {
    const claims = [0, 1, 2, 3].map((i) => claim(`data-${i}`, `vol-${i}`));
    const pods = Object.entries(placed).map(([name, nodeName], i) =>
      pod(name, { owner: 'sts', nodeName, claims: [`data-${i}`], uid: name }),
    );
    return new StaticClusterView({
      nodes: [...NODES, node('n5')],
      pvcs: claims.map((c) => c.pvc),
      pvs: claims.map((c) => c.pv!),
      volumes: [0, 1, 2, 3].map((i) => volume(`vol-${i}`, 'disabled')),
      pods: [...pods, ...extraPods],
    });
  }

  it.each<[string, Record<string, string>, Record<string, number>]>([
    ['first pod: every zone equal', {}, { n1: 10, n2: 10, n3: 10, n4: 10, n5: 0 }],
    ['one in zone-a', { 'sts-0': 'n1' }, { n1: 0, n2: 10, n3: 10, n4: 0, n5: 0 }],
    ['zone-a and zone-b taken', { 'sts-0': 'n4', 'sts-1': 'n2' }, { n1: 0, n2: 0, n3: 10, n4: 0 }],
    [
      'two in zone-a, one in zone-b',
      { 'sts-0': 'n1', 'sts-1': 'n4', 'sts-2': 'n2' },
      { n1: 0, n2: 5, n3: 10 },
    ],
  ])('zone-spread, StatefulSet: %s', (_name, placed, want) => {
    const view = statefulSet(placed, [pod('other', { owner: 'other', nodeName: 'n3' })]);
    const p = pod('sts-3', { owner: 'sts', claims: ['data-3'], uid: 'sts-3' });
    const candidates = candidatesOf(['n1', 'n2', 'n3', 'n4', 'n5'], view);
    const ctx = podContext(p, candidates, view);
    for (const [n, score] of Object.entries(want))
      expect(zoneSpread(p, { name: n, node: view.node(n) }, ctx), n).toBe(score);
  });

  it('zone-spread: a pod without Longhorn volumes, owner or labels has no opinion', () => {
    const view = statefulSet({ 'sts-0': 'n1' });
    const c = { name: 'n1', node: view.node('n1') };
    for (const p of [pod('x', { owner: 'sts' }), pod('y', { claims: ['data-1'] })]) {
      const ctx = podContext(p, candidatesOf(['n1', 'n2'], view), view);
      expect(zoneSpread(p, c, ctx)).toBeUndefined();
    }
  });

  it('combined: the weighted mean, 0..10, and 0 everywhere for a pod no rule cares about', () => {
    const view = world('best-effort', [replica('vol', 'n1')], {
      pods: [pod('web-a', { labels: { app: 'web' }, nodeName: 'n1' })],
    });
    const p = pod('web-b', { labels: { app: 'web' }, claims: ['data'] });
    const { ctx } = ctxFor(p, view);
    // n1: locality 10 (w2), spread 0 (w1) -> 20/3 = 6.67 -> 7; n2: 0 and 10 -> 3.33 -> 3
    expect(combinedScore(p, { name: 'n1', node: view.node('n1') }, ctx)).toBe(7);
    expect(combinedScore(p, { name: 'n2', node: view.node('n2') }, ctx)).toBe(3);
    const plain = pod('plain');
    const plainCtx = podContext(plain, candidatesOf(['n1', 'n2'], view), view);
    expect(combinedScore(plain, { name: 'n1', node: view.node('n1') }, plainCtx)).toBe(0);
    expect(combinedScore(plain, { name: 'n2', node: view.node('n2') }, plainCtx)).toBe(0);
  });
});

describe('workloadPeers', () => {
  const scheduled = [
    pod('a', { owner: 'sts', nodeName: 'n1', uid: 'a' }),
    pod('b', { owner: 'other', nodeName: 'n1', uid: 'b' }),
    pod('c', { labels: { app: 'web' }, nodeName: 'n2', uid: 'c' }),
    pod('d', { labels: { app: 'web', tier: 'x' }, nodeName: 'n2', uid: 'd' }),
    pod('self', { owner: 'sts', nodeName: 'n2', uid: 'self' }),
  ];
  it.each([
    ['same controller', pod('self', { owner: 'sts', uid: 'self' }), ['a']],
    ['same labels exactly, no controller', pod('e', { labels: { app: 'web' } }), ['c']],
    ['no controller, no labels: no workload', pod('f'), undefined],
  ])('%s', (_name, p, want) => {
    expect(workloadPeers(p, scheduled)?.map((x) => x.metadata?.name)).toEqual(want);
  });
});
