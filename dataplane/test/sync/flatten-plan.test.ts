import { describe, expect, it } from 'vitest';
import { planFlatten, snapshotLineage, subtractRanges } from '../../src/sync/flatten-plan.js';

const r = (offset: number, length: number) => ({ offset, length });

describe('subtractRanges', () => {
  it.each([
    { name: 'nothing covered', ranges: [r(0, 10)], covered: [], want: [r(0, 10)] },
    { name: 'fully covered', ranges: [r(10, 10)], covered: [r(0, 40)], want: [] },
    { name: 'middle cut out', ranges: [r(0, 30)], covered: [r(10, 10)], want: [r(0, 10), r(20, 10)] },
    {
      name: 'several ranges, several cuts',
      ranges: [r(0, 10), r(20, 20), r(50, 10)],
      covered: [r(5, 20), r(35, 16)],
      want: [r(0, 5), r(25, 10), r(51, 9)],
    },
    { name: 'touching edges stay', ranges: [r(10, 10)], covered: [r(0, 10), r(20, 5)], want: [r(10, 10)] },
  ])('$name', ({ ranges, covered, want }) => {
    expect(subtractRanges(ranges, covered)).toEqual(want);
  });
});

describe('snapshotLineage', () => {
  // s1 <- s2 <- s3, and a branch s1 <- b1 <- head made by a revert to s1.
  const chain = [
    { name: 's1', parent: null },
    { name: 's2', parent: 's1' },
    { name: 's3', parent: 's2' },
    { name: 'b1', parent: 's1' },
    { name: 'head', parent: 'b1' },
  ];
  it('follows parent links, oldest first', () => {
    expect(snapshotLineage(chain, 's3').map((l) => l.name)).toEqual(['s1', 's2', 's3']);
    expect(snapshotLineage(chain, 'b1').map((l) => l.name)).toEqual(['s1', 'b1']);
    expect(snapshotLineage(chain, 's1').map((l) => l.name)).toEqual(['s1']);
  });
  it('refuses an unknown snapshot, a missing parent and a cycle', () => {
    expect(() => snapshotLineage(chain, 'nope')).toThrow(/no snapshot nope/);
    expect(() => snapshotLineage([{ name: 'a', parent: 'gone' }], 'a')).toThrow(
      /layer a names a missing parent gone/,
    );
    expect(() =>
      snapshotLineage(
        [
          { name: 'a', parent: 'b' },
          { name: 'b', parent: 'a' },
        ],
        'a',
      ),
    ).toThrow(/cycle/);
  });
});

describe('planFlatten', () => {
  it('takes each byte from the newest layer holding it and skips holes', () => {
    const pieces = planFlatten(
      [
        { name: 'old', ranges: [r(0, 100), r(200, 50)] },
        { name: 'mid', ranges: [r(50, 100)] },
        { name: 'new', ranges: [r(90, 20), r(300, 10)] },
      ],
      1000,
    );
    expect(pieces).toEqual([
      { layer: 'old', offset: 0, length: 50 },
      { layer: 'old', offset: 200, length: 50 },
      { layer: 'mid', offset: 50, length: 40 },
      { layer: 'mid', offset: 110, length: 40 },
      { layer: 'new', offset: 90, length: 20 },
      { layer: 'new', offset: 300, length: 10 },
    ]);
  });
  it('splits pieces at the chunk size and plans nothing for an empty lineage', () => {
    expect(planFlatten([{ name: 'a', ranges: [r(0, 25)] }], 10)).toEqual([
      { layer: 'a', offset: 0, length: 10 },
      { layer: 'a', offset: 10, length: 10 },
      { layer: 'a', offset: 20, length: 5 },
    ]);
    expect(planFlatten([{ name: 'a', ranges: [] }])).toEqual([]);
  });
});
