import type { Backup, BackupVolume } from '@longhorn-ts/api';
import type { BackupListEntry } from '@longhorn-ts/dataplane/backup/index';
import { describe, expect, it } from 'vitest';
import {
  type BackupFacts,
  nextBackupStep,
  SNAPSHOT_WAIT_MS,
  statusFromStore,
} from '../../src/backup/backup-status.js';
import { formatGoDuration, parseGoDuration } from '../../src/backup/go-duration.js';
import { backupVolumeName, planStoreSync } from '../../src/backup/store-sync-plan.js';
import { settingsUpdate } from '../../src/backup/target-from-settings.js';

describe('Go durations', () => {
  it.each([
    ['5m0s', 300_000],
    ['30s', 30_000],
    ['1h2m3s', 3_723_000],
    ['0s', 0],
    ['0', 0],
    ['1.5s', 1_500],
    ['250ms', 250],
  ])('parses %s', (text, ms) => expect(parseGoDuration(text)).toBe(ms));

  it.each(['', '5', 'm', '5 m', '5x', '-1s'])('refuses %j', (text) =>
    expect(() => parseGoDuration(text)).toThrow(/expected a Go duration/),
  );

  it.each([
    [300, '5m0s'],
    [30, '30s'],
    [3723, '1h2m3s'],
    [0, '0s'],
    [3600, '1h0m0s'],
  ])('formats %d s as %s', (s, text) => {
    expect(formatGoDuration(s)).toBe(text);
    expect(parseGoDuration(text)).toBe(s * 1000);
  });
});

describe('Settings -> default BackupTarget', () => {
  const minio = {
    backupTarget: 's3://b@us-east-1/',
    credentialSecret: 'minio-secret',
    pollIntervalSeconds: 300,
  };
  const defaults = { backupTarget: '', credentialSecret: '', pollIntervalSeconds: 300 };

  it('copies the Settings the first time they name a URL', () => {
    const u = settingsUpdate({ pollInterval: '5m0s' }, undefined, minio);
    expect(u?.spec).toEqual({ backupTargetURL: 's3://b@us-east-1/', credentialSecret: 'minio-secret' });
    expect(JSON.parse(u!.annotation)).toEqual({
      backupTargetURL: 's3://b@us-east-1/',
      credentialSecret: 'minio-secret',
      pollInterval: '5m0s',
    });
  });

  it('leaves a URL set on the CR itself alone while the Settings are at their defaults', () => {
    const u = settingsUpdate({ backupTargetURL: 's3://x@r/', pollInterval: '1m0s' }, undefined, defaults);
    expect(u?.spec).toEqual({});
    expect(settingsUpdate(undefined, undefined, defaults)?.spec).toEqual({ pollInterval: '5m0s' });
  });

  it('does nothing while the Settings are as last applied, even when the CR was edited', () => {
    const applied = settingsUpdate(undefined, undefined, minio)!.annotation;
    expect(settingsUpdate({ backupTargetURL: 's3://other@r/' }, applied, minio)).toBeUndefined();
  });

  it('changes only the fields whose Setting changed', () => {
    const applied = settingsUpdate(undefined, undefined, minio)!.annotation;
    const u = settingsUpdate(
      { backupTargetURL: 's3://edited@r/', credentialSecret: 'minio-secret', pollInterval: '5m0s' },
      applied,
      { ...minio, credentialSecret: 'other' },
    );
    expect(u?.spec).toEqual({ credentialSecret: 'other' });
  });
});

const bv = (volume: string, target = 'default', deleting = false): BackupVolume => ({
  apiVersion: 'longhorn.io/v1beta2',
  kind: 'BackupVolume',
  metadata: { name: backupVolumeName(target, volume), ...(deleting ? { deletionTimestamp: 'x' } : {}) },
  spec: { volumeName: volume, backupTargetName: target },
});
const backup = (name: string, volume: string, state = 'Completed', snapshotName = ''): Backup =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Backup',
    metadata: { name, labels: { 'backup-volume': volume } },
    spec: { snapshotName },
    status: { state },
  }) as Backup;
const volumeOf = (b: Backup) => b.metadata.labels?.['backup-volume'] ?? '';

describe('store -> CR sync plan', () => {
  it('makes CRs for what the store has and removes those of what it lost', () => {
    const plan = planStoreSync(
      [
        { name: 'vol-a', backups: ['backup-1', 'backup-2'] },
        { name: 'vol-b', backups: ['backup-3'] },
      ],
      [bv('vol-a'), bv('vol-gone')],
      [backup('backup-1', 'vol-a'), backup('backup-old', 'vol-a'), backup('backup-9', 'vol-gone')],
      volumeOf,
    );
    expect(plan).toEqual({
      createVolumes: ['vol-b'],
      deleteVolumes: [backupVolumeName('default', 'vol-gone')],
      createBackups: [
        { volume: 'vol-a', backup: 'backup-2' },
        { volume: 'vol-b', backup: 'backup-3' },
      ],
      deleteBackups: ['backup-9', 'backup-old'],
    });
  });

  it('never removes a backup being made, a failed one, or one already going', () => {
    const gone = {
      ...backup('backup-d', 'v'),
      metadata: { name: 'backup-d', deletionTimestamp: 'x', labels: { 'backup-volume': 'v' } },
    };
    const plan = planStoreSync(
      [{ name: 'v', backups: [] }],
      [bv('v'), bv('w', 'default', true)],
      [
        backup('backup-new', 'v', '', 'snap-1'),
        backup('backup-p', 'v', 'Pending', 'snap-1'),
        backup('backup-i', 'v', 'InProgress', 'snap-1'),
        backup('backup-e', 'v', 'Error', 'snap-1'),
        gone as Backup,
      ],
      volumeOf,
    );
    expect(plan).toEqual({ createVolumes: [], deleteVolumes: [], createBackups: [], deleteBackups: [] });
  });

  it('does not make a CR for a backup whose name a CR already has', () => {
    const plan = planStoreSync(
      [{ name: 'v', backups: ['backup-1'] }],
      [bv('v')],
      [backup('backup-1', '')],
      volumeOf,
    );
    expect(plan.createBackups).toEqual([]);
  });

  it('names backup volumes per target and volume, as DNS names', () => {
    expect(backupVolumeName('default', 'v')).toMatch(/^bv-[0-9a-f]{20}$/);
    expect(backupVolumeName('default', 'v')).not.toBe(backupVolumeName('other', 'v'));
  });
});

describe('Backup status', () => {
  const facts: BackupFacts = {
    jobRunning: false,
    engineRunningHere: true,
    volumeExists: true,
    snapshotExists: true,
    replicaAvailable: true,
    ageMs: 0,
  };
  const b = (
    state = '',
    snapshotName = 'snap-1',
    labels: Record<string, string> = { 'backup-volume': 'v' },
  ) => ({
    metadata: { name: 'backup-1', labels },
    spec: { snapshotName },
    status: { state: state as 'InProgress' },
  });

  it.each([
    ['a new backup starts', b(), facts, { do: 'start', retry: false }],
    ['an InProgress one without a job is run again', b('InProgress'), facts, { do: 'start', retry: true }],
    ['one whose job runs is left alone', b('InProgress'), { ...facts, jobRunning: true }, { do: 'nothing' }],
    ['a Completed one is done', b('Completed'), facts, { do: 'nothing' }],
    ['an Error one is done', b('Error'), facts, { do: 'nothing' }],
    ['a CR made by the sync waits for it', b('', ''), facts, { do: 'nothing' }],
    [
      'no volume label fails',
      b('', 'snap-1', {}),
      facts,
      { do: 'fail', message: 'the Backup has no backup-volume label naming its volume' },
    ],
    [
      'a missing volume fails',
      b(),
      { ...facts, volumeExists: false },
      { do: 'fail', message: 'volume v not found' },
    ],
  ] as const)('%s', (_l, backupCr, f, step) => expect(nextBackupStep(backupCr, f)).toEqual(step));

  it('waits for an attach, a snapshot and a healthy replica; a snapshot that never shows fails', () => {
    expect(nextBackupStep(b(), { ...facts, engineRunningHere: false })).toMatchObject({
      do: 'wait',
      message: expect.stringContaining('waiting for volume v to be attached'),
    });
    expect(nextBackupStep(b(), { ...facts, snapshotExists: false })).toMatchObject({
      do: 'wait',
      message: 'waiting for snapshot snap-1 of volume v',
    });
    expect(nextBackupStep(b(), { ...facts, snapshotExists: false, ageMs: SNAPSHOT_WAIT_MS + 1 })).toEqual({
      do: 'fail',
      message: 'snapshot snap-1 not found in volume v',
    });
    expect(nextBackupStep(b(), { ...facts, replicaAvailable: false })).toMatchObject({
      do: 'wait',
      message: 'volume v has no healthy (RW) replica to read from',
    });
  });

  it('says on the CR what the store says of a completed backup', () => {
    const e: BackupListEntry = {
      volume: 'v',
      name: 'backup-1',
      url: 's3://b@r/?backup=backup-1&volume=v',
      state: 'Completed',
      snapshot: 'snap-1',
      snapshotCreatedAt: '2026-01-01T00:00:00Z',
      created: '2026-01-01T00:00:05Z',
      size: 4194304,
      volumeSize: 16777216,
      incremental: false,
      compression: 'lz4',
      newlyUploadedBytes: 1000,
      blocks: 2,
      labels: { a: 'b' },
    };
    expect(
      statusFromStore(undefined, e, { node: 'n1', target: 'default', now: '2026-01-02T00:00:00Z' }),
    ).toEqual({
      ownerID: 'n1',
      state: 'Completed',
      progress: 100,
      error: '',
      url: e.url,
      snapshotName: 'snap-1',
      snapshotCreatedAt: '2026-01-01T00:00:00Z',
      backupCreatedAt: '2026-01-01T00:00:05Z',
      size: '4194304',
      labels: { a: 'b' },
      volumeName: 'v',
      volumeSize: '16777216',
      compressionMethod: 'lz4',
      newlyUploadDataSize: '1000',
      backupTargetName: 'default',
      lastSyncedAt: '2026-01-02T00:00:00Z',
    });
  });
});
