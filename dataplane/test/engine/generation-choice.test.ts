import { describe, expect, it } from 'vitest';
import { chooseUpToDate } from '../../src/engine/generation-choice.js';

const info = (generation: number, size = 4096) => ({
  size,
  sectorSize: 512,
  headName: 'h',
  generation,
  dirty: false,
});

describe('chooseUpToDate', () => {
  it.each([
    { gens: [2, 2, 2], current: ['a', 'b', 'c'], stale: [], unclean: false },
    { gens: [4, 2, 4], current: ['a', 'c'], stale: ['b'], unclean: false },
    { gens: [5, 5, 3], current: ['a', 'b'], stale: ['c'], unclean: true },
    { gens: [0, 0], current: ['a', 'b'], stale: [], unclean: false },
  ])('generations $gens', ({ gens, current, stale, unclean }) => {
    const ids = ['a', 'b', 'c'];
    const choice = chooseUpToDate(gens.map((g, i) => ({ id: ids[i]!, info: info(g) })));
    expect(choice).toEqual({ current, stale, unclean });
  });

  it('prefers the largest replica first among equally new ones', () => {
    const choice = chooseUpToDate([
      { id: 'a', info: info(3, 4096) },
      { id: 'b', info: info(3, 8192) },
    ]);
    expect(choice.current).toEqual(['b', 'a']);
  });

  it('refuses an empty set', () => {
    expect(() => chooseUpToDate([])).toThrow(/no replicas/);
  });
});
