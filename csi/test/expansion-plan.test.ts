import type { Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { expansionPlan } from '../src/controller/expansion-plan.js';

const MiB = 1024 * 1024;

const volume = (sizeMiB: number, state?: string): Volume =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name: 'v' },
    spec: { size: String(sizeMiB * MiB) },
    status: state === undefined ? {} : { state },
  }) as Volume;

describe('expansionPlan (ControllerExpandVolume)', () => {
  it.each([
    [
      'detached, larger: grow, no wait',
      64,
      'detached',
      128,
      { wanted: 128, grow: true, waitForEngine: false, capacity: 128 },
    ],
    [
      'detached, same: nothing',
      64,
      'detached',
      64,
      { wanted: 64, grow: false, waitForEngine: false, capacity: 64 },
    ],
    [
      'detached, smaller: nothing, the current size',
      64,
      'detached',
      32,
      { wanted: 32, grow: false, waitForEngine: false, capacity: 64 },
    ],
    [
      'attached, larger: grow online, wait for the engine',
      64,
      'attached',
      128,
      { wanted: 128, grow: true, waitForEngine: true, capacity: 128 },
    ],
    [
      'attached, already grown (a retry): wait again',
      128,
      'attached',
      128,
      { wanted: 128, grow: false, waitForEngine: true, capacity: 128 },
    ],
    [
      'attached, rounded up to 2 MiB',
      64,
      'attached',
      65,
      { wanted: 66, grow: true, waitForEngine: true, capacity: 66 },
    ],
    [
      'attaching, nothing to grow: no refusal',
      64,
      'attaching',
      64,
      { wanted: 64, grow: false, waitForEngine: false, capacity: 64 },
    ],
  ] as const)('%s', (_n, size, state, askedMiB, want) => {
    expect(expansionPlan(volume(size, state), { requiredBytes: askedMiB * MiB })).toEqual({
      wanted: want.wanted * MiB,
      grow: want.grow,
      waitForEngine: want.waitForEngine,
      capacityBytes: want.capacity * MiB,
    });
  });

  it.each([
    ['attaching', volume(64, 'attaching'), 'BUSY', 'volume v is attaching: retry once attached or detached'],
    ['detaching', volume(64, 'detaching'), 'BUSY', 'volume v is detaching: retry once attached or detached'],
    ['no state yet', volume(64), 'BUSY', 'volume v is being created: retry once attached or detached'],
  ])('refuses to grow a volume that is %s (BUSY: the resizer retries)', (_n, v, code, message) => {
    expect(() => expansionPlan(v, { requiredBytes: 128 * MiB })).toThrow(
      expect.objectContaining({ code, message }),
    );
  });

  it('refuses ranges it cannot meet (OUT_OF_RANGE)', () => {
    expect(() =>
      expansionPlan(volume(64, 'attached'), { requiredBytes: 65 * MiB, limitBytes: 65 * MiB }),
    ).toThrow(
      expect.objectContaining({
        code: 'OUT_OF_RANGE',
        message: `required bytes round up to ${66 * MiB}, above limit bytes ${65 * MiB}`,
      }),
    );
    expect(() => expansionPlan(volume(64, 'attached'), { requiredBytes: -1 })).toThrow(
      expect.objectContaining({ code: 'OUT_OF_RANGE', message: 'capacity range bytes must not be negative' }),
    );
  });
});
