import { describe, expect, it } from 'vitest';
import { type PlanLayer, planPurge } from '../../src/replica/purge-plan.js';

const L = (name: string, parent: string | null, removed = false): PlanLayer => ({ name, parent, removed });

describe('planPurge', () => {
  const cases: { name: string; snaps: PlanLayer[]; head: PlanLayer; want: string[] }[] = [
    { name: 'nothing removed', snaps: [L('a', null)], head: L('h', 'a'), want: [] },
    {
      name: 'removed leaf is deleted, then its removed parent becomes a leaf too',
      snaps: [L('a', null), L('b', 'a', true), L('c', 'b', true)],
      head: L('h', 'a'),
      want: ['delete c', 'delete b'],
    },
    {
      name: 'removed with one non-head child is coalesced into it',
      snaps: [L('a', null, true), L('b', 'a')],
      head: L('h', 'b'),
      want: ['coalesce a->b'],
    },
    {
      name: 'removed behind the head is pruned, last',
      snaps: [L('a', null, true), L('b', 'a', true)],
      head: L('h', 'b'),
      want: ['coalesce a->b', 'prune b'],
    },
    {
      name: 'removed with two children is kept',
      snaps: [L('a', null, true), L('b', 'a'), L('c', 'a')],
      head: L('h', 'c'),
      want: [],
    },
    {
      name: 'a branch deleted first unblocks the coalesce of the fork point',
      snaps: [L('a', null, true), L('b', 'a', true), L('c', 'a')],
      head: L('h', 'c'),
      want: ['delete b', 'coalesce a->c'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = planPurge(c.snaps, c.head).map((s) =>
        s.kind === 'coalesce' ? `coalesce ${s.name}->${s.child}` : `${s.kind} ${s.name}`,
      );
      expect(got).toEqual(c.want);
    });
  }
});
