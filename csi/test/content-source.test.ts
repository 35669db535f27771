import type { Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { cloneGate, contentSourceOf, sizeForSource } from '../src/controller/content-source.js';

const MiB = 1024 * 1024;

const volume = (dataSource: string | undefined, state?: string): Volume =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: { name: 'v' },
    spec: { ...(dataSource !== undefined && { dataSource }) },
    status: state === undefined ? {} : { cloneStatus: { state } },
  }) as Volume;

describe('sizeForSource', () => {
  it.each([
    ['no range: the source size', undefined, 64 * MiB],
    ['larger request', { requiredBytes: 100 * MiB }, 100 * MiB],
    ['request rounded up to 2 MiB', { requiredBytes: 65 * MiB }, 66 * MiB],
    ['limit only, above the source', { limitBytes: 128 * MiB }, 64 * MiB],
  ])('%s', (_n, range, want) => {
    expect(sizeForSource(range, 64 * MiB)).toBe(want);
  });
  it('refuses a volume smaller than its source (OUT_OF_RANGE)', () => {
    expect(() => sizeForSource({ requiredBytes: 32 * MiB }, 64 * MiB)).toThrow(
      expect.objectContaining({
        code: 'OUT_OF_RANGE',
        message:
          "requested 33554432 bytes is less than the source's 67108864 bytes: a volume made from it must hold it",
      }),
    );
    expect(() => sizeForSource({ limitBytes: 32 * MiB }, 64 * MiB)).toThrow(
      expect.objectContaining({
        code: 'OUT_OF_RANGE',
        message: "limit bytes 33554432 are less than the source's 67108864 bytes",
      }),
    );
  });
});

describe('contentSourceOf', () => {
  it('answers the content source the volume was made from', () => {
    expect(contentSourceOf(volume('snap://a/s1'))).toEqual({ snapshot: { snapshotId: 'snap://a/s1' } });
    expect(contentSourceOf(volume('vol://a'))).toEqual({ volume: { volumeId: 'a' } });
    expect(contentSourceOf(volume(undefined))).toBeUndefined();
  });
});

describe('cloneGate', () => {
  it('lets a plain or completed volume through', () => {
    expect(() => cloneGate(volume(undefined))).not.toThrow();
    expect(() => cloneGate(volume('vol://a', 'completed'))).not.toThrow();
  });
  it('holds a volume while it is cloned (BUSY, retried) and refuses a failed clone', () => {
    expect(() => cloneGate(volume('vol://a', 'initiated'))).toThrow(
      expect.objectContaining({
        code: 'BUSY',
        message: 'volume v is being cloned from vol://a (initiated); retry',
      }),
    );
    expect(() => cloneGate(volume('vol://a'))).toThrow(expect.objectContaining({ code: 'BUSY' }));
    expect(() => cloneGate(volume('snap://a/s', 'failed'))).toThrow(
      expect.objectContaining({
        code: 'FAILED_PRECONDITION',
        message: expect.stringMatching(/could not be cloned from snap:\/\/a\/s/),
      }),
    );
  });
});
