import { describe, expect, it } from 'vitest';
import { engineQosArgs, qosMergePatch } from '../../src/controllers/engine-qos.js';

describe('engine QoS plumbing', () => {
  it('passes limits to the engine process as one --qos argument, none without limits', () => {
    expect(engineQosArgs(undefined)).toEqual([]);
    expect(engineQosArgs({})).toEqual([]);
    expect(engineQosArgs({ iops: 500, writeBandwidth: 1048576 })).toEqual([
      '--qos',
      'iops=500,writeBandwidth=1048576',
    ]);
  });

  it('builds a merge patch that removes limits the volume no longer has', () => {
    expect(qosMergePatch({ iops: 5, bandwidth: 7 }, { iops: 6 })).toEqual({ iops: 6, bandwidth: null });
    expect(qosMergePatch({ iops: 5 }, undefined)).toBeNull();
    expect(qosMergePatch(undefined, { readIops: 1 })).toEqual({ readIops: 1 });
  });
});
