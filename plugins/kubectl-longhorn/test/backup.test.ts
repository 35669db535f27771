import type { Backup, BackupTarget, Engine, Volume } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { PluginError } from '../src/errors.js';
import { backupStep, isRestoring, restoreStep, targetStep } from '../src/kube/backup-progress.js';
import { backupName, backupObject, backupVolumeOf, restoreVolumeObject } from '../src/kube/backup-spec.js';
import {
  backupTargetObject,
  backupTargetPatch,
  backupTargetUrlProblem,
  formatGoDuration,
  missingCredentialKeys,
  parseGoDuration,
  pollIntervalValue,
} from '../src/kube/backup-target-spec.js';
import { renderBackupDetail, renderBackupList, renderBackupTarget } from '../src/render/backup.js';
import { backupLines } from '../src/render/volume.js';
import { engine, NOW, volume } from './fixtures.js';

const URL = 's3://backups@us-east-1/longhorn?backup=backup-0123456789abcdef&volume=vol';

function backup(name: string, status: Backup['status'] = {}, volumeName = 'vol'): Backup {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Backup',
    metadata: {
      name,
      namespace: 'longhorn-system',
      labels: { 'backup-volume': volumeName, 'longhorn.io/backup-target': 'default' },
      creationTimestamp: '2026-01-01T23:00:00Z',
    },
    spec: { snapshotName: `${volumeName}-snap` },
    status,
  };
}

function target(status: BackupTarget['status'] = {}): BackupTarget {
  return {
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'BackupTarget',
    metadata: { name: 'default', namespace: 'longhorn-system' },
    spec: { backupTargetURL: 's3://backups@us-east-1/', credentialSecret: 'minio', pollInterval: '5m0s' },
    status,
  };
}

describe('backup target URL, poll interval and credentials', () => {
  it.each([
    ['s3://backups@us-east-1/', undefined],
    ['s3://backups@us-east-1/longhorn/path', undefined],
    ['nfs://nfs.example.com:/exports/backups', undefined],
    ['nfs://[fd00::1]:/exports', undefined],
    ['cifs://fileserver/backups$', undefined],
    ['azblob://backups@core.windows.net/', undefined],
    [
      '',
      'the backup target URL is empty; write one of s3://BUCKET@REGION/PATH, nfs://SERVER:/PATH, cifs://SERVER/SHARE, azblob://CONTAINER@ENDPOINT/PATH',
    ],
    [
      'backups',
      'backup target URL "backups" is not a URL; write one of s3://BUCKET@REGION/PATH, nfs://SERVER:/PATH, cifs://SERVER/SHARE, azblob://CONTAINER@ENDPOINT/PATH',
    ],
    [
      'http://minio:9000/backups',
      'backup target URL scheme "http" is not supported; write one of s3://BUCKET@REGION/PATH, nfs://SERVER:/PATH, cifs://SERVER/SHARE, azblob://CONTAINER@ENDPOINT/PATH',
    ],
    [
      's3://backups/longhorn',
      'backup target URL "s3://backups/longhorn" is not a valid s3 URL; write s3://BUCKET@REGION/PATH, e.g. s3://backups@us-east-1/longhorn',
    ],
    [
      'nfs://server/exports',
      'backup target URL "nfs://server/exports" is not a valid nfs URL; write nfs://SERVER:/PATH, e.g. nfs://nfs.example.com:/exports/backups',
    ],
    [
      'nfs://server:/a$b',
      'backup target URL "nfs://server:/a$b": its path holds "$", which the backup store cannot use',
    ],
    [
      's3://b@r/x,y',
      'backup target URL "s3://b@r/x,y": its path holds ",", which the backup store cannot use',
    ],
  ])('%j', (url, problem) => {
    expect(backupTargetUrlProblem(url)).toBe(problem);
  });

  it.each([
    ['5m', 300, '5m0s'],
    ['300s', 300, '5m0s'],
    ['1h30m', 5400, '1h30m0s'],
    ['0s', 0, '0s'],
    ['0', 0, '0s'],
    ['45s', 45, '45s'],
    ['2h', 7200, '2h0m0s'],
  ])('duration %s is %i s, stored as %s', (text, seconds, stored) => {
    expect(parseGoDuration(text)).toBe(seconds);
    expect(formatGoDuration(seconds)).toBe(stored);
    expect(pollIntervalValue(text)).toBe(stored);
  });

  it('refuses durations that are not Go durations or not whole seconds', () => {
    expect(parseGoDuration('5 minutes')).toBeUndefined();
    expect(parseGoDuration('-5m')).toBeUndefined();
    expect(parseGoDuration('300')).toBeUndefined();
    expect(pollIntervalValue('soon')).toEqual({
      error: '--poll-interval "soon" is not a duration; write e.g. 5m, 300s or 1h, or 0s to stop polling',
    });
    expect(pollIntervalValue('1500ms')).toEqual({
      error: '--poll-interval "1500ms" is not a whole number of seconds',
    });
  });

  it('an S3 Secret needs both AWS keys or an IAM role; other schemes need none', () => {
    expect(missingCredentialKeys('s3://b@r/', ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'])).toEqual([]);
    expect(missingCredentialKeys('s3://b@r/', ['AWS_ACCESS_KEY_ID', 'AWS_ENDPOINTS'])).toEqual([
      'AWS_SECRET_ACCESS_KEY',
    ]);
    expect(missingCredentialKeys('s3://b@r/', [])).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    expect(missingCredentialKeys('s3://b@r/', ['AWS_IAM_ROLE_ARN'])).toEqual([]);
    expect(missingCredentialKeys('nfs://s:/e', [])).toEqual([]);
  });

  it('a new target gets the 5m0s default; a patch only carries what was given', () => {
    expect(backupTargetObject('default', 'longhorn-system', { url: 's3://b@r/' })).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'BackupTarget',
      metadata: { name: 'default', namespace: 'longhorn-system' },
      spec: { backupTargetURL: 's3://b@r/', credentialSecret: '', pollInterval: '5m0s' },
    });
    expect(backupTargetPatch({ url: 'nfs://s:/e' })).toEqual({ spec: { backupTargetURL: 'nfs://s:/e' } });
    expect(backupTargetPatch({ url: 'nfs://s:/e', syncRequestedAt: '2026-01-02T00:00:00Z' })).toEqual({
      spec: { backupTargetURL: 'nfs://s:/e', syncRequestedAt: '2026-01-02T00:00:00Z' },
    });
    expect(backupTargetPatch({ url: 's3://b@r/', credentialSecret: 'minio', pollInterval: '1m0s' })).toEqual({
      spec: { backupTargetURL: 's3://b@r/', credentialSecret: 'minio', pollInterval: '1m0s' },
    });
  });
});

describe('Backup CR and restored Volume, as Longhorn builds them', () => {
  it('names a backup backup-<16 hex>', () => {
    let i = 0;
    expect(backupName(() => (i++ % 16) / 16)).toBe('backup-0123456789abcdef');
    expect(backupName()).toMatch(/^backup-[0-9a-f]{16}$/);
  });

  it('labels the backup with its volume and target, spec.snapshotName and labels', () => {
    const b = backupObject({
      name: 'backup-1',
      namespace: 'longhorn-system',
      volume: 'vol',
      snapshot: 'snap-1',
      labels: { app: 'db' },
    });
    expect(b).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Backup',
      metadata: {
        name: 'backup-1',
        namespace: 'longhorn-system',
        labels: { 'backup-volume': 'vol', 'longhorn.io/backup-target': 'default' },
      },
      spec: { snapshotName: 'snap-1', labels: { app: 'db' } },
    });
    const full = backupObject({ name: 'b', namespace: 'n', volume: 'v', snapshot: 's', mode: 'full' });
    expect(full.spec).toEqual({ snapshotName: 's', backupMode: 'full' });
    const dr = backupObject({
      name: 'b',
      namespace: 'n',
      volume: 'v',
      snapshot: 's',
      target: 'dr',
      labels: {},
    });
    expect(dr.metadata.labels?.['longhorn.io/backup-target']).toBe('dr');
    expect(dr.spec).toEqual({ snapshotName: 's' });
    expect(backupVolumeOf(dr)).toBe('v');
  });

  const done = backup('backup-1', {
    state: 'Completed',
    url: URL,
    volumeSize: '67108864',
    backupTargetName: 'default',
  });

  it('restores into a Volume with fromBackup = the URL and the backed-up size', () => {
    expect(
      restoreVolumeObject({ name: 'vol-r', namespace: 'longhorn-system', backup: done, replicas: 2 }),
    ).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'vol-r', namespace: 'longhorn-system' },
      spec: {
        size: '67108864',
        fromBackup: URL,
        frontend: 'blockdev',
        numberOfReplicas: 2,
        backupTargetName: 'default',
      },
    });
    const unsized = backup('backup-4', { state: 'Completed', url: URL });
    expect(restoreVolumeObject({ name: 'vol-r', namespace: 'n', backup: unsized }).spec).toEqual({
      fromBackup: URL,
      frontend: 'blockdev',
      backupTargetName: 'default',
    });
    const dr = restoreVolumeObject({ name: 'vol-dr', namespace: 'n', backup: done, standby: true });
    expect(dr.spec).toMatchObject({ Standby: true, frontend: '', fromBackup: URL });
    expect(dr.spec.numberOfReplicas).toBeUndefined();
  });

  it.each<[string, Partial<Parameters<typeof restoreVolumeObject>[0]>, string, string]>([
    [
      'a bad name',
      { name: 'Vol_R' },
      'USAGE',
      `volume name "Vol_R" must be lower-case letters, digits and '-', at most 63`,
    ],
    ['too many replicas', { replicas: 21 }, 'USAGE', '--replicas 21 is out of range; use 1 to 20'],
    [
      'a running backup',
      { backup: backup('backup-2', { state: 'InProgress', progress: 40 }) },
      'REFUSED',
      'backup backup-2 is InProgress and has no URL yet; only a Completed backup can be restored',
    ],
    [
      'a failed backup',
      { backup: backup('backup-3', { state: 'Error', url: URL }) },
      'REFUSED',
      'backup backup-3 is Error; only a Completed backup can be restored',
    ],
  ])('refuses %s', (_what, over, code, message) => {
    const input = { name: 'vol-r', namespace: 'n', backup: done, ...over };
    let err: unknown;
    try {
      restoreVolumeObject(input);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PluginError);
    expect((err as PluginError).code).toBe(code);
    expect((err as PluginError).message).toBe(message);
  });
});

describe('progress of backups, targets and restores', () => {
  it.each<[Backup['status'], ReturnType<typeof backupStep>]>([
    [{}, { kind: 'waiting', step: 'waiting for the operator' }],
    [{ error: 'snapshot not found yet' }, { kind: 'waiting', step: 'waiting: snapshot not found yet' }],
    [{ state: 'Pending' }, { kind: 'waiting', step: 'pending', percent: 0 }],
    [
      { state: 'Pending', error: 'snapshot s not in the engine yet' },
      { kind: 'waiting', step: 'pending: snapshot s not in the engine yet', percent: 0 },
    ],
    [
      { state: 'InProgress', progress: 42 },
      { kind: 'waiting', step: 'uploading', percent: 42 },
    ],
    [
      { state: 'Completed', progress: 100, url: URL },
      { kind: 'done', step: 'completed' },
    ],
    [
      { state: 'Error', error: 'target unreachable' },
      { kind: 'failed', error: 'backup backup-1 failed: target unreachable' },
    ],
    [{ state: 'Error' }, { kind: 'failed', error: 'backup backup-1 failed: the operator gave no reason' }],
  ])('backup %j', (status, step) => {
    expect(backupStep(backup('backup-1', status))).toEqual(step);
  });

  const since = '2026-01-02T00:00:00Z';
  const unavailable = (message: string, transition: string) => ({
    available: false,
    conditions: [
      {
        type: 'Unavailable',
        status: 'True' as const,
        reason: 'Unavailable',
        message,
        lastTransitionTime: transition,
      },
    ],
  });
  const earlier = '2026-01-01T23:59:00Z';
  const later = '2026-01-02T00:00:03Z';
  it.each<[string, BackupTarget['status'], string | undefined, ReturnType<typeof targetStep>]>([
    [
      'synced available since',
      { available: true, lastSyncedAt: later },
      undefined,
      { kind: 'done', step: 'available' },
    ],
    [
      'available from an earlier sync (the old URL)',
      { available: true, lastSyncedAt: earlier },
      undefined,
      { kind: 'waiting', step: 'checking the target' },
    ],
    ['not yet checked', {}, undefined, { kind: 'waiting', step: 'checking the target' }],
    [
      'still the same unavailable status as before',
      unavailable('backup target URL is empty', earlier),
      'backup target URL is empty',
      { kind: 'waiting', step: 'checking (was: backup target URL is empty)' },
    ],
    [
      'unavailable with another message',
      unavailable('bucket backups not found', earlier),
      'backup target URL is empty',
      { kind: 'failed', error: 'backup target default is unavailable: bucket backups not found' },
    ],
    [
      'unavailable since, after being available',
      unavailable('access denied', later),
      undefined,
      { kind: 'failed', error: 'backup target default is unavailable: access denied' },
    ],
  ])('target %s', (_what, status, before, step) => {
    expect(targetStep(target(status), since, before)).toEqual(step);
  });

  const restoring = (progress: Record<string, number>, extra: Partial<Engine['status']> = {}) =>
    engine(
      { r1: 'RW', r2: 'RW' },
      {
        restoreStatus: Object.fromEntries(
          Object.entries(progress).map(([k, p]) => [k, { isRestoring: p < 100, progress: p }]),
        ),
        ...extra,
      },
    );
  const vol = (status: Partial<Volume['status']>, spec: Partial<Volume['spec']> = {}) =>
    volume('vol-r', status, { fromBackup: URL, ...spec });

  it('a restore: waiting for the operator, restoring with the mean percent, then restored', () => {
    expect(restoreStep(vol({ state: 'creating' }), undefined, 'backup-1', false)).toEqual({
      kind: 'waiting',
      step: 'waiting for the operator (creating)',
    });
    const e = restoring({ 'a:1': 40, 'b:2': 60 });
    const v = vol({ state: 'attached', restoreRequired: true });
    expect(isRestoring(v, e)).toBe(true);
    expect(restoreStep(v, e, 'backup-1', true)).toEqual({
      kind: 'waiting',
      step: 'restoring (attached)',
      percent: 50,
    });
    const fin = restoring({ 'a:1': 100, 'b:2': 100 }, { lastRestoredBackup: 'backup-1' });
    expect(restoreStep(vol({ state: 'attached', restoreRequired: false }), fin, 'backup-1', true)).toEqual({
      kind: 'done',
      step: 'restored',
    });
  });

  it('restoreRequired false before any restore was seen is not done (a controller that has not started)', () => {
    expect(
      restoreStep(vol({ state: 'detached', restoreRequired: false }), undefined, 'backup-1', false).kind,
    ).toBe('waiting');
  });

  it('a standby volume is done once its engine restored a backup and is not restoring', () => {
    const v = vol(
      { state: 'attached', restoreRequired: true, isStandby: true },
      { Standby: true, frontend: '' },
    );
    expect(restoreStep(v, restoring({ 'a:1': 30 }), 'backup-1', true)).toEqual({
      kind: 'waiting',
      step: 'restoring (standby)',
      percent: 30,
    });
    expect(
      restoreStep(v, restoring({ 'a:1': 100 }, { lastRestoredBackup: 'backup-1' }), 'backup-1', true),
    ).toEqual({ kind: 'done', step: 'standby, holds backup-1' });
    // It follows the newest backup of the volume, whichever was asked for.
    expect(
      restoreStep(v, restoring({ 'a:1': 100 }, { lastRestoredBackup: 'backup-2' }), 'backup-1', true),
    ).toEqual({ kind: 'done', step: 'standby, holds backup-2' });
    expect(
      restoreStep(v, restoring({ 'a:1': 10 }, { lastRestoredBackup: 'backup-1' }), 'backup-1', true).kind,
    ).toBe('waiting');
  });

  it('fails with the Restore condition; a replica error alone is retried', () => {
    const failed = vol({
      state: 'attached',
      restoreRequired: true,
      conditions: [
        { type: 'Restore', status: 'False', reason: 'RestoreFailure', message: 'backup cfg not found' },
      ],
    });
    expect(restoreStep(failed, undefined, 'backup-1', true)).toEqual({
      kind: 'failed',
      error: 'volume vol-r: restore failed: backup cfg not found',
    });
    const e = engine({ r1: 'RW' }, { restoreStatus: { 'a:1': { error: 'connection reset', progress: 20 } } });
    expect(restoreStep(vol({ restoreRequired: true }), e, 'backup-1', true)).toEqual({
      kind: 'waiting',
      step: 'retrying after: connection reset',
      percent: 20,
    });
  });
});

describe('backup renderers', () => {
  const backups = [
    backup('backup-old', {
      state: 'Completed',
      size: String(12 * 1024 * 1024),
      snapshotName: 'snap-a',
      backupCreatedAt: '2026-01-01T22:00:00Z',
    }),
    backup('backup-new', { state: 'InProgress', progress: 42, snapshotName: 'snap-b' }, 'other'),
  ];

  it('lists newest first with volume, snapshot, size, state (progress while running) and age', () => {
    expect(renderBackupList(backups, false, NOW)).toBe(
      [
        'NAME         VOLUME   SNAPSHOT   SIZE     STATE            CREATED',
        'backup-new   other    snap-b     -        InProgress 42%   60m',
        'backup-old   vol      snap-a     12 MiB   Completed        2h',
      ].join('\n'),
    );
    const wide = renderBackupList(
      [backup('b', { state: 'Completed', url: URL, compressionMethod: 'lz4', backupTargetName: 'default' })],
      true,
      NOW,
    );
    expect(wide.split('\n')[0]).toMatch(/TARGET\s+COMPRESSION\s+URL$/);
    expect(wide).toContain(`default   lz4           ${URL}`);
  });

  it('shows one backup in full', () => {
    const text = renderBackupDetail(
      backup('backup-1', {
        state: 'Completed',
        progress: 100,
        url: URL,
        size: '12582912',
        volumeSize: '67108864',
        snapshotName: 'snap-a',
        snapshotCreatedAt: '2026-01-01T21:59:00Z',
        backupCreatedAt: '2026-01-01T22:00:00Z',
        compressionMethod: 'lz4',
        newlyUploadDataSize: '8388608',
        reUploadedDataSize: '0',
        backupTargetName: 'default',
        labels: { app: 'db' },
      }),
      NOW,
    );
    expect(text).toContain('Volume:          vol (64 MiB)');
    expect(text).toContain('Snapshot:        snap-a (taken 2026-01-01T21:59:00Z)');
    expect(text).toContain('State:           Completed');
    expect(text).toContain('Size:            12 MiB (12582912 bytes)');
    expect(text).toContain('Uploaded:        8 MiB new, 0 B re-uploaded');
    expect(text).toContain(`URL:             ${URL}`);
    expect(text).toContain('Labels:          app=db');
    expect(text).toContain('Created:         2026-01-01T22:00:00Z (2h ago)');
    expect(renderBackupDetail(backup('b', { state: 'Error', error: 'no space' }), NOW)).toContain(
      'Error:           no space',
    );
  });

  it('shows a target, available or why not', () => {
    const ok = renderBackupTarget(target({ available: true, lastSyncedAt: '2026-01-01T23:59:30Z' }), NOW);
    expect(ok).toContain('URL:                s3://backups@us-east-1/');
    expect(ok).toContain('Credential secret:  minio');
    expect(ok).toContain('Poll interval:      5m0s');
    expect(ok).toContain('Available:          true');
    expect(ok).toContain('Message:            -');
    expect(ok).toContain('Last synced:        2026-01-01T23:59:30Z (30s ago)');
    const bad = renderBackupTarget(target(unavailableStatus()), NOW);
    expect(bad).toContain('Available:          false');
    expect(bad).toContain('Message:            bucket backups not found');
    expect(bad).toMatch(/Unavailable\s+True\s+Unavailable\s+bucket backups not found/);
  });
});

describe('volume get: backup lines', () => {
  it.each<[string, Partial<Volume['status']>, Partial<Volume['spec']>, string[]]>([
    ['an ordinary volume', {}, {}, []],
    [
      'a volume backed up',
      { lastBackup: 'backup-1', lastBackupAt: '2026-01-01T22:00:00Z' },
      {},
      ['Last backup:     backup-1 (2026-01-01T22:00:00Z)'],
    ],
    ['a restore not yet started', {}, { fromBackup: URL }, [`From backup:     ${URL} (pending)`]],
    [
      'a restore running',
      { restoreRequired: true, restoreInitiated: true },
      { fromBackup: URL },
      [`From backup:     ${URL} (restoring)`],
    ],
    [
      'a restore done',
      { restoreRequired: false, restoreInitiated: true, lastBackup: 'backup-1' },
      { fromBackup: URL },
      [`From backup:     ${URL} (restored)`, 'Last backup:     backup-1'],
    ],
    [
      'a standby volume',
      { restoreRequired: true, isStandby: true },
      { fromBackup: URL, Standby: true },
      [`From backup:     ${URL} (standby)`],
    ],
  ])('%s', (_what, status, spec, lines) => {
    expect(backupLines(volume('v', status, spec))).toEqual(lines);
  });
});

function unavailableStatus(): BackupTarget['status'] {
  return {
    available: false,
    conditions: [
      { type: 'Unavailable', status: 'True', reason: 'Unavailable', message: 'bucket backups not found' },
    ],
  };
}
