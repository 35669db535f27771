import { describe, expect, it } from 'vitest';
import { DEFAULT_SPACE_SETTINGS, diskFit, percentOf } from '../../src/scheduler/disk-fit.js';

const G = 2 ** 30;

const disk = (o: Partial<{ max: number; avail: number; reserved: number; scheduled: number }> = {}) => ({
  storageMaximum: o.max ?? 100 * G,
  storageAvailable: o.avail ?? 100 * G,
  storageReserved: o.reserved ?? 30 * G,
  storageScheduled: o.scheduled ?? 0,
});

describe('diskFit', () => {
  it.each([
    { name: 'empty disk', d: disk(), size: 10 * G, actual: 0, fits: true },
    {
      name: 'scheduled exactly at the limit',
      d: disk({ scheduled: 60 * G }),
      size: 10 * G,
      actual: 0,
      fits: true,
    },
    {
      name: 'one byte over the limit',
      d: disk({ scheduled: 60 * G + 1 }),
      size: 10 * G,
      actual: 0,
      fits: false,
    },
    { name: 'available exactly at the minimum', d: disk({ avail: 25 * G }), size: G, actual: 0, fits: false },
    {
      name: 'available one byte above the minimum',
      d: disk({ avail: 25 * G + 1 }),
      size: G,
      actual: 0,
      fits: true,
    },
    { name: 'actual size eats the margin', d: disk({ avail: 30 * G }), size: G, actual: 5 * G, fits: false },
    { name: 'actual size leaves a byte', d: disk({ avail: 30 * G + 1 }), size: G, actual: 5 * G, fits: true },
    {
      name: 'no reservation',
      d: disk({ reserved: 0, scheduled: 90 * G }),
      size: 10 * G,
      actual: 0,
      fits: true,
    },
    {
      name: 'reservation bites',
      d: disk({ reserved: 1, scheduled: 90 * G }),
      size: 10 * G,
      actual: 0,
      fits: false,
    },
    { name: 'zero maximum', d: disk({ max: 0 }), size: G, actual: 0, fits: false },
    { name: 'zero available', d: disk({ avail: 0 }), size: G, actual: 0, fits: false },
  ])('$name', ({ d, size, actual, fits }) => {
    expect(diskFit(d, size, actual, DEFAULT_SPACE_SETTINGS).fits).toBe(fits);
  });

  it.each([
    { op: 200, min: 25, scheduled: 130 * G, size: 10 * G, fits: true },
    { op: 200, min: 25, scheduled: 130 * G + 1, size: 10 * G, fits: false },
    { op: 50, min: 25, scheduled: 0, size: 35 * G, fits: true },
    { op: 50, min: 25, scheduled: 0, size: 35 * G + 1, fits: false },
    { op: 100, min: 0, scheduled: 0, size: G, fits: true },
  ])(
    'over-provisioning $op% minimal $min%: scheduled $scheduled + $size',
    ({ op, min, scheduled, size, fits }) => {
      const settings = { overProvisioningPercentage: op, minimalAvailablePercentage: min };
      expect(diskFit(disk({ scheduled }), size, 0, settings).fits).toBe(fits);
    },
  );

  it('words the failures as Longhorn does', () => {
    expect(diskFit(disk({ max: 0 }), 1, 0, DEFAULT_SPACE_SETTINGS)).toEqual({
      fits: false,
      reason: 'Storage Max must be greater than 0',
    });
    expect(diskFit(disk({ avail: -5 }), 1, 0, DEFAULT_SPACE_SETTINGS)).toEqual({
      fits: false,
      reason: 'Storage Available must be greater than 0',
    });
    expect(
      diskFit({ ...disk(), storageMaximum: 1000, storageAvailable: 300 }, 1, 50, DEFAULT_SPACE_SETTINGS),
    ).toEqual({
      fits: false,
      reason:
        'Actual space usage condition failed: CurrentAvailable = 250 (StorageAvailable - Required) ' +
        'is less than or equal to MinimalAvailable = 250 (25% of Storage Max).',
    });
    expect(
      diskFit(
        { storageMaximum: 1000, storageAvailable: 1000, storageReserved: 300, storageScheduled: 600 },
        101,
        0,
        DEFAULT_SPACE_SETTINGS,
      ),
    ).toEqual({
      fits: false,
      reason:
        'Scheduling space condition failed: ScheduledTotal = 701 (Size + StorageScheduled) ' +
        'is greater than ProvisionedLimit = 700 (100% of StorageMax - StorageReserved).',
    });
  });

  it.each([
    { value: 1000, pct: 25, out: 250 },
    { value: 1001, pct: 25, out: 250 },
    { value: 3, pct: 50, out: 1 },
    { value: 100 * G, pct: 100, out: 100 * G },
  ])('percentOf($value, $pct) = $out (truncated)', ({ value, pct, out }) => {
    expect(percentOf(value, pct)).toBe(out);
  });
});
