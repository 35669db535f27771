import type { Backup, Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import {
  backupFailure,
  backupProgress,
  backupRestoreSize,
  csiSnapshotOfBackup,
  noBackupTarget,
  restoreUrlOf,
} from '../src/controller/backup-snapshot.js';
import { restoreGate } from '../src/controller/restore-gate.js';
import { snapshotClassKind } from '../src/controller/snapshot-class.js';
import {
  backupNameFor,
  backupSnapshotId,
  parseBackupSnapshotId,
  parseSnapshotId,
  volumeOfSnapshotId,
} from '../src/controller/snapshot-ids.js';

const MiB = 1024 * 1024;

const backup = (status: Backup['status'], labels: Record<string, string> = { 'backup-volume': 'pvc-1' }) =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Backup',
    metadata: { name: 'backup-0123456789abcdef', labels, creationTimestamp: '2026-12-01T10:00:00Z' },
    spec: { snapshotName: 'snapshot-1' },
    status,
  }) as Backup;

function refusal(f: () => unknown): { code: string; message: string } {
  try {
    f();
  } catch (err) {
    return err as { code: string; message: string };
  }
  return { code: 'OK', message: '' };
}

describe('bak:// snapshot ids', () => {
  it('are bak://<volume>/<backup>, Longhorn’s form; bs:// (deprecated) reads the same', () => {
    expect(backupSnapshotId('pvc-1', 'backup-1')).toBe('bak://pvc-1/backup-1');
    expect(parseBackupSnapshotId('bak://pvc-1/backup-1')).toEqual({ volume: 'pvc-1', backup: 'backup-1' });
    expect(parseBackupSnapshotId('bs://pvc-1/backup-1')).toEqual({ volume: 'pvc-1', backup: 'backup-1' });
  });
  it.each(['snap://pvc-1/s', 'bak://pvc-1', 'bak://pvc-1/b/c', 'bak:///b', 'pvc-1/b', ''])(
    '%j is no backup id',
    (id) => {
      expect(parseBackupSnapshotId(id)).toBeUndefined();
    },
  );
  it('name the volume the edge serialises on, for either kind', () => {
    expect(volumeOfSnapshotId('bak://pvc-1/b1')).toBe('pvc-1');
    expect(volumeOfSnapshotId('snap://pvc-2/s1')).toBe('pvc-2');
    expect(volumeOfSnapshotId('bi://backing?x=1')).toBeUndefined();
    expect(parseSnapshotId('bak://pvc-1/b1')).toBeUndefined();
  });
  it('a snapshot’s Backup has a stable Longhorn-shaped name (backup-<16 hex>), per volume and snapshot', () => {
    const a = backupNameFor('pvc-1', 'snapshot-1');
    expect(a).toMatch(/^backup-[0-9a-f]{16}$/);
    expect(backupNameFor('pvc-1', 'snapshot-1')).toBe(a);
    expect(backupNameFor('pvc-1', 'snapshot-2')).not.toBe(a);
    expect(backupNameFor('pvc-2', 'snapshot-1')).not.toBe(a);
  });
});

describe('VolumeSnapshotClass type', () => {
  it.each([
    [{ type: 'snap' }, 'snap'],
    [{ type: 'bak' }, 'bak'],
    [{}, 'bak'],
    [{ type: '' }, 'bak'],
    [{ type: 'bs' }, 'bak'],
    [{ type: 'bak', 'csi.storage.k8s.io/volumesnapshot/name': 'vs1' }, 'bak'],
  ])('%j → %s', (parameters, kind) => {
    expect(snapshotClassKind(parameters)).toBe(kind);
  });
  it.each([
    [
      { type: 'backup' },
      'INVALID_ARGUMENT',
      'parameter type: "backup" is not one of snap, bak (or unset: bak)',
    ],
    [
      { type: 'snap', colour: 'red' },
      'INVALID_ARGUMENT',
      'unknown VolumeSnapshotClass parameter(s) colour (known: type)',
    ],
    [
      { type: 'bi' },
      'FAILED_PRECONDITION',
      'parameter type: "bi" (a backing image) is not available: longhorn-ts has no backing images',
    ],
  ])('refuses %j', (parameters, code, message) => {
    expect(refusal(() => snapshotClassKind(parameters))).toMatchObject({ code, message });
  });
});

describe('a Backup as a CSI snapshot', () => {
  it('is ready once Completed, pending before, failed on Error with its message', () => {
    expect(backupProgress(backup({ state: 'Completed' }))).toEqual({ state: 'ready' });
    expect(backupProgress(backup({ state: 'InProgress', progress: 40 }))).toEqual({
      state: 'pending',
      detail: 'InProgress, 40%',
    });
    expect(backupProgress(backup(undefined))).toEqual({ state: 'pending', detail: 'not started' });
    expect(backupProgress(backup({ state: 'Error', error: 'lock held' }))).toEqual({
      state: 'failed',
      error: 'lock held',
    });
    expect(backupProgress(backup({ state: 'Error' }))).toMatchObject({ state: 'failed' });
  });

  it('answers id, source volume, size rounded up to 2 MiB, snapshot time and readiness', () => {
    const b = backup({
      state: 'Completed',
      volumeSize: String(63 * MiB),
      snapshotCreatedAt: '2026-12-01T09:59:58Z',
    });
    expect(csiSnapshotOfBackup(b, 10 * MiB)).toEqual({
      snapshotId: 'bak://pvc-1/backup-0123456789abcdef',
      sourceVolumeId: 'pvc-1',
      sizeBytes: 64 * MiB,
      creationTime: { seconds: Date.parse('2026-12-01T09:59:58Z') / 1000, nanos: 0 },
      readyToUse: true,
    });
    // Before the backup controller filled the status in: the volume's size, not ready.
    const pending = csiSnapshotOfBackup(backup({ state: 'InProgress' }), 32 * MiB);
    expect(pending).toMatchObject({ sizeBytes: 32 * MiB, readyToUse: false });
    expect(pending.creationTime.seconds).toBe(Date.parse('2026-12-01T10:00:00Z') / 1000);
    // The volume from the status when the label is missing (a backup synced from the target).
    expect(
      csiSnapshotOfBackup(backup({ state: 'Completed', volumeName: 'pvc-9' }, {}), 0).sourceVolumeId,
    ).toBe('pvc-9');
    expect(backupRestoreSize(backup({ volumeSize: 'n/a' }), 2 * MiB + 1)).toBe(4 * MiB);
  });

  it('restores from status.url, else the target URL with backup and volume (Longhorn’s order)', () => {
    expect(restoreUrlOf(backup({ url: 's3://b@r/?backup=x1&volume=pvc-1' }), 's3://other@r/')).toBe(
      's3://b@r/?backup=x1&volume=pvc-1',
    );
    expect(restoreUrlOf(backup({ state: 'Completed' }), 's3://backupbucket@us-east-1/')).toBe(
      's3://backupbucket@us-east-1/?backup=backup-0123456789abcdef&volume=pvc-1',
    );
    expect(restoreUrlOf(backup({ state: 'Completed' }), undefined)).toBeUndefined();
  });

  it('says what failed and how to set a backup target', () => {
    expect(backupFailure(backup({ state: 'Error' }), 'upload refused')).toMatchObject({
      code: 'INTERNAL',
      message:
        'backup backup-0123456789abcdef of snapshot snapshot-1 of volume pvc-1 failed: upload refused; delete the VolumeSnapshot and take a new one',
    });
    const none = noBackupTarget('default', 'pvc-1');
    expect(none.code).toBe('FAILED_PRECONDITION');
    expect(none.message).toMatch(
      /^volume pvc-1 cannot be backed up: backup target "default" has no URL\. Set one, e\.g\. kubectl -n longhorn-system patch backuptarget default --type merge -p '\{"spec":\{"backupTargetURL":"s3:\/\/<bucket>@<region>\/"/,
    );
    expect(none.message).toMatch(/or use a VolumeSnapshotClass with parameters\.type: snap$/);
  });
});

describe('restoreGate', () => {
  const url = 's3://b@r/?backup=x1&volume=pvc-1';
  const volume = (status: Volume['status'], fromBackup = url): Volume =>
    ({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'pvc-2' },
      spec: { fromBackup },
      status,
    }) as Volume;

  it('lets a plain volume and a finished restore through', () => {
    expect(() => restoreGate(volume({}, ''))).not.toThrow();
    expect(() => restoreGate(volume({ restoreInitiated: true, restoreRequired: false }))).not.toThrow();
  });
  it('holds a volume until its restore is done (BUSY: the attacher retries)', () => {
    expect(refusal(() => restoreGate(volume({})))).toMatchObject({
      code: 'BUSY',
      message: `volume pvc-2 is being restored from ${url} (not started); retry`,
    });
    expect(
      refusal(() => restoreGate(volume({ restoreRequired: true, restoreInitiated: true }))),
    ).toMatchObject({
      code: 'BUSY',
      message: `volume pvc-2 is being restored from ${url} (in progress); retry`,
    });
    expect(
      refusal(() =>
        restoreGate(
          volume({
            restoreRequired: true,
            conditions: [{ type: 'Restore', status: 'True', reason: 'RestoreInProgress', message: '40%' }],
          }),
        ),
      ),
    ).toMatchObject({ code: 'BUSY', message: `volume pvc-2 is being restored from ${url} (40%); retry` });
  });
  it('refuses a standby volume until it is activated', () => {
    expect(
      refusal(() => restoreGate(volume({ restoreInitiated: true, restoreRequired: false, isStandby: true }))),
    ).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: `volume pvc-2 is a standby volume restoring from ${url}: activate it (spec.Standby false) before using it`,
    });
  });
  it('refuses a failed restore for good (FAILED_PRECONDITION)', () => {
    expect(
      refusal(() =>
        restoreGate(
          volume({
            restoreRequired: true,
            conditions: [
              { type: 'Restore', status: 'False', reason: 'RestoreFailure', message: 'block missing' },
            ],
          }),
        ),
      ),
    ).toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: `volume pvc-2 could not be restored from ${url}: block missing (see its Events); it holds no usable data: delete it`,
    });
  });
});
