import { describe, expect, it } from 'vitest';
import { StaticClusterView } from '../src/cluster-view.js';
import { filter, prioritize } from '../src/extender.js';
import { type CheckedArgs, checkExtenderArgs } from '../src/extender-api.js';
import { claim, node, pod, replica, volume } from './fixtures.js';

const strict = claim('strict', 'vol-strict');
const best = claim('best', 'vol-best');
const view = new StaticClusterView({
  nodes: [node('n1', 'zone-a'), node('n2', 'zone-b'), node('n3', 'zone-c')],
  pvcs: [strict.pvc, best.pvc],
  pvs: [strict.pv!, best.pv!],
  volumes: [volume('vol-strict', 'strict-local'), volume('vol-best', 'best-effort')],
  replicas: [replica('vol-strict', 'n2'), replica('vol-best', 'n3')],
});

function args(claims: string[], nodeNames = ['n1', 'n2', 'n3']): CheckedArgs {
  return { pod: pod('p', { claims }), nodeNames };
}

describe('checkExtenderArgs', () => {
  const goodPod = { metadata: { name: 'p', namespace: 'default' }, spec: { containers: [] } };
  it.each<[string, unknown, string | undefined]>([
    ['NodeNames', { Pod: goodPod, NodeNames: ['n1'] }, undefined],
    [
      'Nodes (not nodeCacheCapable)',
      { Pod: goodPod, Nodes: { items: [{ metadata: { name: 'n1' } }] } },
      undefined,
    ],
    ['not an object', [1, 2], 'must be a JSON object'],
    ['null', null, 'must be a JSON object'],
    ['no Pod', { NodeNames: [] }, 'Pod is missing'],
    ['Pod a string', { Pod: 'p', NodeNames: [] }, 'Pod is missing'],
    ['no pod name', { Pod: { metadata: {} }, NodeNames: [] }, 'metadata.name is missing'],
    [
      'namespace a number',
      { Pod: { metadata: { name: 'p', namespace: 1 } }, NodeNames: [] },
      'namespace must be',
    ],
    ['labels a list', { Pod: { metadata: { name: 'p', labels: [] } }, NodeNames: [] }, 'labels must be'],
    [
      'owners not a list',
      { Pod: { metadata: { name: 'p', ownerReferences: {} } }, NodeNames: [] },
      'ownerReferences',
    ],
    [
      'spec a string',
      { Pod: { metadata: { name: 'p' }, spec: 'x' }, NodeNames: [] },
      'spec must be an object',
    ],
    [
      'volumes not a list',
      { Pod: { metadata: { name: 'p' }, spec: { volumes: 3 } }, NodeNames: [] },
      'volumes must be',
    ],
    ['NodeNames with a number', { Pod: goodPod, NodeNames: ['n1', 2] }, 'list of strings'],
    ['neither NodeNames nor Nodes', { Pod: goodPod }, 'needs NodeNames'],
    ['Nodes without names', { Pod: goodPod, Nodes: { items: [{}] } }, 'needs metadata.name'],
    ['Nodes.items not a list', { Pod: goodPod, Nodes: { items: 'x' } }, 'must be a list'],
  ])('%s', (_name, body, error) => {
    const got = checkExtenderArgs(body);
    if (error === undefined) expect(got.ok).toBe(true);
    else expect(got).toEqual({ ok: false, error: expect.stringContaining(error) });
  });
});

describe('filter', () => {
  it('a pod without Longhorn volumes passes every node untouched, even unknown ones', () => {
    expect(filter(args([], ['n1', 'n2', 'zz']), view)).toEqual({
      NodeNames: ['n1', 'n2', 'zz'],
      FailedNodes: {},
      Error: '',
    });
  });

  it('strict-local keeps only the replica node; the others are failed and unresolvable', () => {
    const result = filter(args(['strict']), view);
    expect(result.NodeNames).toEqual(['n2']);
    expect(Object.keys(result.FailedNodes)).toEqual(['n1', 'n3']);
    expect(result.FailedNodes.n1).toMatch(/strict-local volume vol-strict .* no healthy replica on node n1/);
    expect(result.FailedAndUnresolvableNodes).toEqual(result.FailedNodes);
    expect(result.Error).toBe('');
  });

  it('an unknown node fails for a pod with Longhorn volumes, but may pass later (resolvable)', () => {
    const result = filter(args(['best'], ['n1', 'zz']), view);
    expect(result.NodeNames).toEqual(['n1']);
    expect(result.FailedNodes.zz).toContain('not in the longhorn-ts extender');
    expect(result.FailedAndUnresolvableNodes).toBeUndefined();
  });

  it('answers with Nodes when the scheduler sent Nodes', () => {
    const nodes = [node('n1'), node('n2'), node('n3')];
    const result = filter({ ...args(['strict']), nodes }, view);
    expect(result.NodeNames).toBeNull();
    expect(result.Nodes?.items.map((n) => n.metadata?.name)).toEqual(['n2']);
  });
});

describe('prioritize', () => {
  it.each<[string, string[], number[]]>([
    ['no Longhorn volume: equal scores', [], [0, 0, 0]],
    ['best-effort: the replica node scores highest', ['best'], [0, 0, 10]],
    ['strict-local only: no preference among the nodes that passed', ['strict'], [0, 0, 0]],
  ])('%s', (_name, claims, scores) => {
    expect(prioritize(args(claims), view)).toEqual([
      { Host: 'n1', Score: scores[0] },
      { Host: 'n2', Score: scores[1] },
      { Host: 'n3', Score: scores[2] },
    ]);
  });
});
