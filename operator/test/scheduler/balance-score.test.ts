import { describe, expect, it } from 'vitest';
import { imbalance, mostBalanced } from '../../src/scheduler/balance-score.js';

describe('imbalance', () => {
  it.each([
    { usable: [10, 10, 10], score: 0 },
    { usable: [0, 20], score: 2 },
    { usable: [5, 15], score: 1 },
    { usable: [0, 0], score: Number.POSITIVE_INFINITY },
    { usable: [], score: Number.POSITIVE_INFINITY },
  ])('$usable -> $score', ({ usable, score }) => {
    expect(imbalance(usable)).toBe(score);
  });
});

describe('mostBalanced', () => {
  it.each([
    { name: 'the roomiest', c: { a: 50, b: 100, c: 80 }, size: 10, best: 'b' },
    { name: 'ties to the first', c: { a: 100, b: 100, c: 100 }, size: 10, best: 'a' },
    { name: 'skips one that cannot hold it', c: { a: 5, b: 8 }, size: 6, best: 'b' },
    { name: 'none can hold it', c: { a: 5, b: 5 }, size: 6, best: undefined },
    { name: 'a lone candidate that fills up exactly', c: { a: 10 }, size: 10, best: undefined },
    { name: 'a lone candidate with room', c: { a: 11 }, size: 10, best: 'a' },
  ])('$name', ({ c, size, best }) => {
    const candidates = Object.entries(c).map(([id, usable]) => ({ id, usable }));
    expect(mostBalanced(candidates, size)).toBe(best);
  });

  it('counts every candidate in the spread but picks only allowed ones', () => {
    const candidates = [
      { id: 'x1', usable: 100 },
      { id: 'y1', usable: 10 },
      { id: 'y2', usable: 30 },
    ];
    expect(mostBalanced(candidates, 5, (id) => id.startsWith('y'))).toBe('y2');
  });
});
