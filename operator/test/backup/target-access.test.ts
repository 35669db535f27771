import type { BackupTarget as BackupTargetResource } from '@longhorn-ts/api';
import { isBackupError } from '@longhorn-ts/dataplane/backup/index';
import { describe, expect, it } from 'vitest';
import {
  decodeSecretData,
  openClusterTarget,
  resolveClusterTarget,
  type TargetReader,
} from '../../src/backup/target-access.js';

function target(name: string, spec: BackupTargetResource['spec']): BackupTargetResource {
  return { apiVersion: 'longhorn.io/v1beta2', kind: 'BackupTarget', metadata: { name }, spec };
}

function reader(
  targets: BackupTargetResource[],
  secrets: Record<string, Record<string, string>> = {},
): TargetReader {
  return {
    backupTarget: async (name) => targets.find((t) => t.metadata.name === name),
    secret: async (name) => secrets[name],
  };
}

const creds = { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 'b', AWS_ENDPOINTS: 'http://127.0.0.1:9' };

describe('resolveClusterTarget', () => {
  it('resolves the default target and its secret', async () => {
    const r = reader(
      [target('default', { backupTargetURL: 's3://bkt@us-east-1/', credentialSecret: 'minio' })],
      { minio: creds },
    );
    const got = await resolveClusterTarget(r);
    expect(got).toEqual({
      name: 'default',
      url: 's3://bkt@us-east-1/',
      credentialSecret: 'minio',
      credentials: creds,
    });
  });

  it.each([
    ['a missing target', [], {}, 'NOT_FOUND', 'backup target default does not exist'],
    [
      'no URL',
      [target('default', { backupTargetURL: '' })],
      {},
      'INVALID_ARGUMENT',
      'backup target default has no URL',
    ],
    [
      'a missing secret',
      [target('default', { backupTargetURL: 's3://b@r/', credentialSecret: 'nope' })],
      {},
      'INVALID_ARGUMENT',
      'credential secret nope not found in namespace longhorn-system',
    ],
    [
      's3 without a secret',
      [target('default', { backupTargetURL: 's3://b@r/' })],
      {},
      'INVALID_ARGUMENT',
      'an s3 target needs spec.credentialSecret',
    ],
    [
      'cifs',
      [target('default', { backupTargetURL: 'cifs://srv/share' })],
      {},
      'INVALID_ARGUMENT',
      'cifs:// targets are not supported yet (s3://, nfs:// and vfs:// are)',
    ],
    [
      'nfs without the colon of Longhorn form',
      [target('default', { backupTargetURL: 'nfs://srv/export' })],
      {},
      'INVALID_ARGUMENT',
      'expected nfs://SERVER:/EXPORT/PATH',
    ],
    [
      'garbage',
      [target('default', { backupTargetURL: 'ftp://x/' })],
      {},
      'INVALID_ARGUMENT',
      'unsupported URL "ftp://x/"',
    ],
  ] as const)('refuses %s', async (_label, targets, secrets, code, message) => {
    const err = await resolveClusterTarget(reader([...targets], secrets)).catch((e: unknown) => e);
    expect(isBackupError(err, code)).toBe(true);
    expect((err as Error).message).toContain(message);
  });

  it('opens a named vfs target without a secret', async () => {
    const t = await openClusterTarget(
      reader([target('local', { backupTargetURL: 'vfs:///tmp/lh-target-access' })]),
      'local',
    );
    expect(t.kind).toBe('vfs');
    await t.close();
  });

  it('opens an nfs target (no secret needed); nothing is contacted until a call', async () => {
    const t = await openClusterTarget(reader([target('default', { backupTargetURL: 'nfs://srv:/export' })]));
    expect(t.kind).toBe('nfs');
    await t.close();
  });

  it('decodes Secret data', () => {
    expect(decodeSecretData({ K: Buffer.from('v=1').toString('base64') })).toEqual({ K: 'v=1' });
    expect(decodeSecretData(undefined)).toEqual({});
  });
});
