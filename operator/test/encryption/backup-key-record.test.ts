import type { Volume } from '@longhorn-ts/api';
import { PARAM_KEY_RECORD } from '@longhorn-ts/dataplane/backup/config';
import { describe, expect, it } from 'vitest';
import {
  backupKeyProblem,
  carriedKeyRecord,
  cloneKeyProblem,
  restoreKeyProblem,
} from '../../src/encryption/backup-key-record.js';
import { CRYPTO_SECRET_ANNOTATION } from '../../src/encryption/crypto-secret-ref.js';
import type { RotationMark } from '../../src/encryption/data-key-rotation-step.js';
import { VolumeKeyStore } from '../../src/encryption/volume-key-store.js';
import { fakeCore } from './fake-core.js';

const encryptedVolume = (name: string, secret: string) =>
  ({
    metadata: { name, uid: `u-${name}`, annotations: { [CRYPTO_SECRET_ANNOTATION]: `ns/${secret}` } },
    spec: { encrypted: true },
  }) as unknown as Volume;

const mark = (m: Partial<RotationMark>): RotationMark => ({
  request: 't',
  node: 'node-1',
  from: 'dk-old',
  to: 'dk-new',
  startedAt: '2026-12-02T01:00:00Z',
  ...m,
});
const PREVIOUS = { keyId: 'k', cipher: 'aes-256-xts', wrapped: 'x' } as unknown as RotationMark['previous'];

describe('backups of encrypted volumes: which snapshots carry the key record', () => {
  it('any snapshot when no data-key rotation left a previous key', () => {
    expect(backupKeyProblem('v', 's', '2026-12-02T00:00:00Z', undefined)).toBeNull();
    expect(backupKeyProblem('v', 's', undefined, mark({ doneAt: '2026-12-02T02:00:00Z' }))).toBeNull();
  });

  it('none while a rotation runs', () => {
    expect(backupKeyProblem('v', 's', '2026-12-02T03:00:00Z', mark({ previous: PREVIOUS }))).toBe(
      'volume v: its data is being re-encrypted from data key dk-old to dk-new; back it up once that is done',
    );
  });

  it('not a snapshot taken before the rotation finished, nor one of unknown age; one taken after, yes', () => {
    const m = mark({ previous: PREVIOUS, doneAt: '2026-12-02T02:00:00Z' });
    expect(backupKeyProblem('v', 'old', '2026-12-02T01:30:00Z', m)).toBe(
      'volume v: snapshot old was taken before the volume was re-encrypted to data key dk-new (some of its blocks are under data key dk-old); back up a snapshot taken after 2026-12-02T02:00:00Z',
    );
    expect(backupKeyProblem('v', 'x', undefined, m)).toMatch(/snapshot x has no creation time/);
    expect(backupKeyProblem('v', 'x', 'yesterday-ish', m)).toMatch(/snapshot x has no creation time/);
    expect(backupKeyProblem('v', 'new', '2026-12-02T02:00:01Z', m)).toBeNull();
  });
});

describe('cloning: the new volume and its source agree on encryption', () => {
  it('refuses either mismatch; a clone snapshot is judged like a backup one', () => {
    expect(cloneKeyProblem({ name: 'c', encrypted: false }, { name: 's', encrypted: true })).toBe(
      'volume s is encrypted (its blocks are ciphertext): clone it into a volume with spec.encrypted: true and a crypto Secret that opens its key (volume c is not encrypted)',
    );
    expect(cloneKeyProblem({ name: 'c', encrypted: true }, { name: 's', encrypted: false })).toBe(
      'volume s is not encrypted: clone it into a volume without spec.encrypted (volume c is encrypted)',
    );
    expect(cloneKeyProblem({ name: 'c', encrypted: true }, { name: 's', encrypted: true })).toBeNull();
    const m = mark({ previous: PREVIOUS, doneAt: '2026-12-02T02:00:00Z' });
    expect(backupKeyProblem('s', 'old', '2026-12-02T01:00:00Z', m, 'clone')).toMatch(
      /; clone a snapshot taken after 2026-12-02T02:00:00Z$/,
    );
  });
});

describe('restoring: the volume and the backup agree on encryption', () => {
  const carried = { envelope: {}, kek: {} } as never;
  it('refuses either mismatch, naming the backup and the volume', () => {
    expect(restoreKeyProblem({ name: 'r', encrypted: true }, 'b1', undefined)).toBe(
      'backup b1 was taken of a volume without encryption: restore it into a volume without spec.encrypted (volume r is encrypted)',
    );
    expect(restoreKeyProblem({ name: 'r', encrypted: false }, 'b1', carried)).toMatch(
      /^backup b1 was taken of an encrypted volume \(its blocks are ciphertext\): restore it into a volume with spec.encrypted: true/,
    );
    expect(restoreKeyProblem({ name: 'r', encrypted: true }, 'b1', carried)).toBeNull();
    expect(restoreKeyProblem({ name: 'r', encrypted: false }, 'b1', undefined)).toBeNull();
  });

  it('a damaged carried record is refused with the backup named', () => {
    expect(carriedKeyRecord(null, 'b1')).toBeUndefined();
    expect(carriedKeyRecord({ 'backup-mode': 'incremental' }, 'b1')).toBeUndefined();
    expect(() => carriedKeyRecord({ [PARAM_KEY_RECORD]: '{nope' }, 'b1')).toThrow(
      'backup b1: the key record is not JSON',
    );
    expect(() => carriedKeyRecord({ [PARAM_KEY_RECORD]: '{"envelope":{},"kek":{}}' }, 'b1')).toThrow(
      /^backup b1: /,
    );
  });
});

describe('VolumeKeyStore: a restored volume takes its backup’s key record', () => {
  it('carries the record (no key in it), adopts it into a new volume with the same data key, refuses a wrong Secret and a volume under another data key', async () => {
    const { core, secrets } = fakeCore({ crypto: 'a unit-test passphrase', other: 'another passphrase!' });
    const store = new VolumeKeyStore(core, 'longhorn-system');
    const src = await store.open(encryptedVolume('src', 'crypto'));
    src.kek.fill(0);
    const params = await store.backupParameters('src', 'snap-1', '2026-12-02T00:00:00Z');
    const carried = carriedKeyRecord(params, 'b1')!;
    expect(carried.envelope).toEqual(src.envelope);
    // The record holds the data key wrapped only.
    expect(params[PARAM_KEY_RECORD]).not.toContain('a unit-test passphrase');

    // A new volume with the same crypto Secret: its record is the backup's, so its engine
    // reads the backup's ciphertext with the source's data key.
    const restored = encryptedVolume('rst', 'crypto');
    expect(await store.adoptBackupRecord(restored, carried, 'b1')).toBe(src.dataKeyId);
    const opened = await store.open(restored);
    opened.kek.fill(0);
    expect(opened.dataKeyId).toBe(src.dataKeyId);
    // Asked again (an operator restarted mid-way): the same answer, nothing rewritten.
    const rv = secrets.get('longhorn-system/longhorn-ts-keys-rst')?.metadata?.resourceVersion;
    expect(await store.adoptBackupRecord(restored, carried, 'b1')).toBe(src.dataKeyId);
    expect(secrets.get('longhorn-system/longhorn-ts-keys-rst')?.metadata?.resourceVersion).toBe(rv);

    // Another passphrase does not open it: refused before any record is written.
    await expect(store.adoptBackupRecord(encryptedVolume('wrong', 'other'), carried, 'b1')).rejects.toThrow(
      /^backup b1's key record: /,
    );
    expect(secrets.has('longhorn-system/longhorn-ts-keys-wrong')).toBe(false);

    // A volume that already holds data under a data key of its own.
    const own = await store.open(encryptedVolume('own', 'crypto'));
    own.kek.fill(0);
    await expect(store.adoptBackupRecord(encryptedVolume('own', 'crypto'), carried, 'b1')).rejects.toThrow(
      `volume own holds data under data key ${own.dataKeyId}, backup b1 under data key ${src.dataKeyId}: restore that backup into a new volume`,
    );
  });

  it('a clone takes its source’s record; one whose source was never attached is refused', async () => {
    const { core } = fakeCore();
    const store = new VolumeKeyStore(core, 'longhorn-system');
    const src = await store.open(encryptedVolume('src', 'crypto'));
    src.kek.fill(0);
    expect(await store.adoptSourceRecord(encryptedVolume('cl', 'crypto'), 'src')).toBe(src.dataKeyId);
    const cl = await store.open(encryptedVolume('cl', 'crypto'));
    cl.kek.fill(0);
    expect(cl.dataKeyId).toBe(src.dataKeyId);
    await expect(store.adoptSourceRecord(encryptedVolume('cl2', 'crypto'), 'never')).rejects.toThrow(
      'encrypted volume never has no key record (it has never been attached): nothing to clone',
    );
    expect(await store.cloneSnapshotProblem('src', 'snap', undefined)).toBeNull();
  });

  it('refuses to back up a volume that has never been attached (no record)', async () => {
    const { core } = fakeCore();
    const store = new VolumeKeyStore(core, 'longhorn-system');
    await expect(store.backupParameters('nope', 's', undefined)).rejects.toThrow(
      'encrypted volume nope has no key record (it has never been attached): nothing to back up',
    );
  });
});
