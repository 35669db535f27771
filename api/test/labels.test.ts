import { describe, expect, it } from 'vitest';
import {
  hasLonghornFinalizer,
  LONGHORN_FINALIZER,
  withLonghornFinalizer,
  withoutLonghornFinalizer,
} from '../src/finalizers.js';
import {
  engineLabels,
  LABEL_COMPONENT,
  recurringJobLabelKey,
  replicaLabels,
  volumeSettingLabelKey,
} from '../src/labels.js';

describe('labels', () => {
  it('are spelled as Longhorn spells them', () => {
    expect(replicaLabels('pvc-1', 'node-1', 'uuid-1')).toEqual({
      longhornvolume: 'pvc-1',
      longhornnode: 'node-1',
      longhorndiskuuid: 'uuid-1',
    });
    expect(engineLabels('pvc-1', 'node-1')).toEqual({ longhornvolume: 'pvc-1', longhornnode: 'node-1' });
    expect(LABEL_COMPONENT).toBe('longhorn.io/component');
    expect(recurringJobLabelKey('daily', false)).toBe('recurring-job.longhorn.io/daily');
    expect(recurringJobLabelKey('default', true)).toBe('recurring-job-group.longhorn.io/default');
    expect(volumeSettingLabelKey('replica-auto-balance')).toBe('setting.longhorn.io/replica-auto-balance');
  });
});

describe('the finalizer', () => {
  it('is longhorn.io, added once and removed', () => {
    expect(LONGHORN_FINALIZER).toBe('longhorn.io');
    const once = withLonghornFinalizer(['other']);
    expect(once).toEqual(['other', 'longhorn.io']);
    expect(withLonghornFinalizer(once)).toEqual(once);
    expect(hasLonghornFinalizer({ finalizers: once })).toBe(true);
    expect(withoutLonghornFinalizer(once)).toEqual(['other']);
    expect(hasLonghornFinalizer({})).toBe(false);
  });
});
