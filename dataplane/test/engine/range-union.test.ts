import { describe, expect, it } from 'vitest';
import { rangeBytes, unionRanges } from '../../src/engine/range-union.js';

describe('unionRanges', () => {
  it('sorts, joins overlapping and touching ranges, drops empty ones', () => {
    const out = unionRanges([
      [
        { offset: 100, length: 50 },
        { offset: 0, length: 10 },
      ],
      [
        { offset: 10, length: 5 },
        { offset: 120, length: 100 },
        { offset: 500, length: 0 },
      ],
    ]);
    expect(out).toEqual([
      { offset: 0, length: 15 },
      { offset: 100, length: 120 },
    ]);
    expect(rangeBytes(out)).toBe(135);
  });

  it('keeps a range inside another once', () => {
    expect(unionRanges([[{ offset: 0, length: 100 }], [{ offset: 10, length: 10 }]])).toEqual([
      { offset: 0, length: 100 },
    ]);
  });
});
