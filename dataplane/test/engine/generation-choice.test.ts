import { describe, expect, it } from 'vitest';
import { decideStartup, type StartupFacts } from '../../src/engine/generation-choice.js';

const info = (generation: number, size = 4096) => ({
  size,
  sectorSize: 512,
  headName: 'h',
  generation,
  dirty: false,
});

const answered = (gens: number[], ids = ['a', 'b', 'c']) =>
  gens.map((g, i) => ({ id: ids[i]!, info: info(g) }));

describe('decideStartup', () => {
  it.each([
    { gens: [2, 2, 2], current: ['a', 'b', 'c'], stale: [], unclean: false, generation: 3 },
    { gens: [4, 2, 4], current: ['a', 'c'], stale: ['b'], unclean: false, generation: 5 },
    { gens: [5, 5, 3], current: ['a', 'b'], stale: ['c'], unclean: true, generation: 7 },
    { gens: [0, 0], current: ['a', 'b'], stale: [], unclean: false, generation: 1 },
  ])('every member answered, generations $gens', ({ gens, current, stale, unclean, generation }) => {
    const d = decideStartup({ answered: answered(gens), unreachable: [] });
    expect(d).toEqual({ ok: true, choice: { current, stale, unclean, generation } });
  });

  it.each<{
    name: string;
    facts: StartupFacts;
    ok: boolean;
    current?: string[];
    generation?: number;
    reason?: RegExp;
  }>([
    {
      name: 'a current replica answered: it serves, above every issued generation',
      facts: { answered: answered([7, 5]), unreachable: ['c'], record: { committed: 7, issued: 9 } },
      ok: true,
      current: ['a'],
      generation: 11,
    },
    {
      name: 'only a stale replica answered: refused, naming the unreachable ones',
      facts: { answered: answered([5], ['b']), unreachable: ['a', 'c'], record: { committed: 7, issued: 7 } },
      ok: false,
      reason: /generation 5, behind the committed 7.*\(a, c\) are unreachable; salvage/,
    },
    {
      name: 'no record and a member unreachable: refused (it may be newer)',
      facts: { answered: answered([3]), unreachable: ['b'] },
      ok: false,
      reason: /no generation record, and replicas \(b\) did not answer/,
    },
    {
      name: 'a half-rebuilt replica (generation 0) alone: refused even with no record',
      facts: { answered: answered([0], ['n']), unreachable: ['a'] },
      ok: false,
      reason: /did not answer/,
    },
    {
      name: 'salvage starts from what answered, and says why it was needed',
      facts: {
        answered: answered([5], ['b']),
        unreachable: ['a'],
        record: { committed: 7, issued: 9 },
        salvage: true,
      },
      ok: true,
      current: ['b'],
      generation: 11,
    },
    {
      name: 'a replica holding an issued but uncommitted generation is current',
      facts: { answered: answered([9, 7]), unreachable: [], record: { committed: 7, issued: 9 } },
      ok: true,
      current: ['a'],
      generation: 11,
    },
    {
      name: 'no replica answered',
      facts: { answered: [], unreachable: ['a'], salvage: true },
      ok: false,
      reason: /no replica answered/,
    },
  ])('$name', ({ facts, ok, current, generation, reason }) => {
    const d = decideStartup(facts);
    expect(d.ok).toBe(ok);
    if (d.ok) {
      expect(d.choice.current).toEqual(current);
      expect(d.choice.generation).toBe(generation);
      expect(d.choice.generation % 2).toBe(1);
      expect(Boolean(d.choice.salvaged)).toBe(Boolean(facts.salvage));
    } else {
      expect(d.reason).toMatch(reason!);
    }
  });

  it('prefers the largest replica first among equally new ones', () => {
    const d = decideStartup({
      answered: [
        { id: 'a', info: info(3, 4096) },
        { id: 'b', info: info(3, 8192) },
      ],
      unreachable: [],
    });
    expect(d.ok && d.choice.current).toEqual(['b', 'a']);
  });
});
