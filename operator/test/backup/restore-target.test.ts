import type { BackupTarget as BackupTargetResource } from '@longhorn-ts/api';
import { BackupError } from '@longhorn-ts/dataplane/backup/errors';
import { describe, expect, it } from 'vitest';
import { isPermanentRestoreError } from '../../src/backup/restore-job.js';
import { matchRestoreTarget } from '../../src/backup/restore-target.js';

function target(name: string, url: string): BackupTargetResource {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'BackupTarget',
    metadata: { name },
    spec: { backupTargetURL: url },
  };
}

describe('matchRestoreTarget', () => {
  const crs = [target('default', 's3://bkt@us-east-1/'), target('dr', 's3://other@us-east-1/dr')];
  it('finds the BackupTarget serving a backup URL’s target, trailing slashes aside', () => {
    expect(matchRestoreTarget(crs, 's3://bkt@us-east-1')).toMatchObject({ metadata: { name: 'default' } });
    expect(matchRestoreTarget(crs, 's3://other@us-east-1/dr/')).toMatchObject({ metadata: { name: 'dr' } });
  });
  it('prefers the volume’s backupTargetName among targets with the same URL', () => {
    const twins = [...crs, target('twin', 's3://bkt@us-east-1')];
    expect(matchRestoreTarget(twins, 's3://bkt@us-east-1', 'twin')).toMatchObject({
      metadata: { name: 'twin' },
    });
  });
  it('says which targets exist when none serves the URL', () => {
    expect(matchRestoreTarget(crs, 'vfs:///srv/x')).toBe(
      'no BackupTarget has URL vfs:///srv/x (default=s3://bkt@us-east-1/, dr=s3://other@us-east-1/dr): create one with that spec.backupTargetURL and its credentialSecret',
    );
    expect(matchRestoreTarget([], 'vfs:///srv/x')).toMatch(/there is no BackupTarget/);
  });
});

describe('isPermanentRestoreError', () => {
  it.each([
    ['NOT_FOUND', true],
    ['CORRUPT_BLOCK', true],
    ['ACCESS_DENIED', true],
    ['INVALID_ARGUMENT', true],
    ['UNREACHABLE', false],
    ['BUSY', false],
    ['EIO', false],
  ] as const)('%s -> %s', (code, permanent) =>
    expect(isPermanentRestoreError(new BackupError(code, 'x'))).toBe(permanent),
  );
  it('a replica or engine failure is worth another try', () => {
    expect(isPermanentRestoreError(new Error('connection reset'))).toBe(false);
  });
});
