import type { BackupTarget } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { targetUnusableReason } from '../../src/backup/target-unusable.js';

const bt = (spec: BackupTarget['spec'], status?: BackupTarget['status']) =>
  ({ metadata: { name: 'default' }, spec, status }) as BackupTarget;

describe('why a backup target cannot clean up its store now', () => {
  it('names a missing target, a missing URL and an unavailable one with its reason; none for a usable one', () => {
    expect(targetUnusableReason(undefined, 'x')).toBe('backup target x does not exist');
    expect(targetUnusableReason(bt({}), 'default')).toBe('backup target default has no URL');
    expect(
      targetUnusableReason(
        bt({ backupTargetURL: 's3://b@r/' }, {
          available: false,
          conditions: [{ type: 'Unavailable', status: 'True', message: 'unreachable (ECONNREFUSED)' }],
        } as BackupTarget['status']),
        'default',
      ),
    ).toBe('backup target default is unavailable (unreachable (ECONNREFUSED))');
    expect(targetUnusableReason(bt({ backupTargetURL: 's3://b@r/' }, { available: true }), 'default')).toBe(
      undefined,
    );
  });
});
