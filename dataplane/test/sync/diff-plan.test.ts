import { describe, expect, it } from 'vitest';
import { compareRuns, planLayerDiff, splitIntoWindows } from '../../src/sync/diff-plan.js';

const C = 2 * 1024 * 1024;
const K4 = 4096;

describe('diff plan', () => {
  it('splits ranges at window boundaries', () => {
    const w = splitIntoWindows([{ offset: C - K4, length: C + 2 * K4 }], C);
    expect([...w.entries()]).toEqual([
      [0, [{ offset: C - K4, length: K4 }]],
      [1, [{ offset: C, length: C }]],
      [2, [{ offset: 2 * C, length: K4 }]],
    ]);
  });

  it('sends everything when the target has no copy; holes are never windows', () => {
    const d = planLayerDiff(
      [
        { offset: 0, length: K4 },
        { offset: 5 * C, length: C },
      ],
      null,
      8 * C,
      C,
    );
    expect(d.compare).toEqual([]);
    expect(d.send.map((w) => w.index)).toEqual([0, 5]);
  });

  it('compares windows with equal allocation and sends the others', () => {
    const src = [
      { offset: 0, length: 2 * C }, // windows 0, 1
      { offset: 3 * C, length: K4 }, // window 3, partial
      { offset: 6 * C, length: C }, // window 6: the target has nothing there
    ];
    const own = [
      { offset: 0, length: 2 * C },
      { offset: 3 * C, length: 2 * K4 }, // window 3 allocated differently
      { offset: 7 * C, length: C }, // window 7: only the target: nothing to send (stays a hole)
    ];
    const d = planLayerDiff(src, own, 8 * C, C);
    expect(d.compare.map((w) => w.index)).toEqual([0, 1]);
    expect(d.send.map((w) => w.index)).toEqual([3, 6]);
    expect(d.send[0]!.ranges).toEqual([{ offset: 3 * C, length: K4 }]);
  });

  it('clips the last window to the layer size', () => {
    const size = 3 * C + 8 * K4;
    const d = planLayerDiff([{ offset: 3 * C, length: 8 * K4 }], null, size, C);
    expect(d.send[0]).toMatchObject({ index: 3, offset: 3 * C, length: 8 * K4 });
  });

  it('groups consecutive windows into bounded runs', () => {
    const ws = [0, 1, 2, 4, 5, 6, 7].map((index) => ({ index, offset: index * C, length: C, ranges: [] }));
    expect(compareRuns(ws, 3).map((r) => r.map((w) => w.index))).toEqual([[0, 1, 2], [4, 5, 6], [7]]);
  });
});
