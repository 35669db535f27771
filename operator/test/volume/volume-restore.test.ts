import { describe, expect, it } from 'vitest';
import { AttacherType } from '../../src/volume/attachment-tickets.js';
import {
  backupOfLayer,
  heldForRestore,
  MAX_RESTORE_ATTEMPTS,
  parseFromBackup,
  pollIntervalMs,
  type RestoreFacts,
  type RestoreJobFacts,
  restoreLayerName,
  restoreStep,
  restoreTicketId,
  ticketsWhileRestoring,
} from '../../src/volume/volume-restore.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const URL_B1 = 's3://bucket@us-east-1/store?backup=backup-1&volume=src';
const MiB = 1 << 20;

/** A restore of backup-1 into "new", initiated, attached, nothing restored yet. */
function facts(
  volume: Partial<RestoreFacts['volume']> = {},
  over: Partial<Omit<RestoreFacts, 'volume'>> = {},
): RestoreFacts {
  return {
    now: NOW,
    volume: {
      name: 'new',
      fromBackup: URL_B1,
      standby: false,
      size: 64 * MiB,
      deleting: false,
      restoreRequired: true,
      restoreInitiated: true,
      isStandby: false,
      lastBackup: 'backup-1',
      failure: '',
      ...volume,
    },
    target: { ok: true, size: 64 * MiB, lastBackup: 'backup-1', backupFound: true },
    ticket: true,
    ready: true,
    chain: { headParent: '', layers: [] },
    pollMs: 30_000,
    ...over,
  };
}

const job = (over: Partial<RestoreJobFacts> = {}): RestoreJobFacts => ({
  backup: 'backup-1',
  from: '',
  state: 'running',
  percent: 40,
  error: '',
  permanent: false,
  attempts: 1,
  finishedAt: 0,
  ...over,
});

const NEW = { restoreRequired: false, restoreInitiated: false, lastBackup: '' };
/** A snapshot layer of the replicas. */
const L = (name: string, parent = '', userCreated = true) => ({ name, parent, userCreated });

describe('parseFromBackup', () => {
  it('splits a Longhorn backup URL into target, backup volume and backup', () => {
    expect(parseFromBackup(URL_B1)).toEqual({
      targetUrl: 's3://bucket@us-east-1/store',
      backupVolume: 'src',
      backup: 'backup-1',
    });
    expect(parseFromBackup('vfs:///srv/bk?volume=src')).toEqual({
      targetUrl: 'vfs:///srv/bk',
      backupVolume: 'src',
      backup: '',
    });
    expect(parseFromBackup('')).toBeUndefined();
  });
  it.each([
    ['s3://bucket@r/p', /has no \?backup=NAME&volume=NAME/],
    ['s3://bucket@r/p?backup=b1', /names no backup volume|volume/],
    ['s3://bucket@r/p?backup=b%2F1&volume=v', /fromBackup/],
  ])('says what is wrong with %s', (url, want) => {
    const got = parseFromBackup(url);
    expect(typeof got).toBe('string');
    expect(got).toMatch(want);
  });
});

describe('names, tickets, holding', () => {
  it('a restore layer names its backup, also when cut at 63 characters', () => {
    expect(restoreLayerName('backup-1')).toBe('restore-backup-1');
    expect(backupOfLayer('restore-backup-1')).toBe('backup-1');
    expect(backupOfLayer('snap-1')).toBeUndefined();
    const long = `backup-${'x'.repeat(70)}`;
    expect(restoreLayerName(long)).toHaveLength(63);
    expect(backupOfLayer(restoreLayerName(long), [long])).toBe(long);
    expect(restoreTicketId('new')).toBe('volume-restore-controller-new');
  });
  it('holds a volume from creation until its restore or activation completed', () => {
    const v = (spec: { Standby?: boolean }, status: Record<string, boolean>) => ({
      spec: { fromBackup: URL_B1, ...spec },
      status,
    });
    expect(heldForRestore({ spec: {}, status: {} })).toBe(false);
    expect(heldForRestore(v({}, {}))).toBe(true);
    expect(heldForRestore(v({}, { restoreInitiated: true, restoreRequired: true }))).toBe(true);
    expect(heldForRestore(v({}, { restoreInitiated: true, restoreRequired: false }))).toBe(false);
    expect(heldForRestore(v({ Standby: true }, { restoreInitiated: true, isStandby: true }))).toBe(true);
    expect(heldForRestore(v({ Standby: false }, { restoreInitiated: true, isStandby: true }))).toBe(true);
    // Standby set again on an activated volume does not hold it.
    expect(heldForRestore(v({ Standby: true }, { restoreInitiated: true, restoreRequired: false }))).toBe(
      false,
    );
  });
  it('only restore tickets count while held', () => {
    const tickets = {
      'csi-1': { type: AttacherType.csiAttacher },
      r: { type: AttacherType.volumeRestoreController },
    };
    expect(Object.keys(ticketsWhileRestoring(tickets, true))).toEqual(['r']);
    expect(Object.keys(ticketsWhileRestoring(tickets, false))).toEqual(['csi-1', 'r']);
  });
  it.each([
    ['5m0s', 300_000],
    ['30s', 30_000],
    ['1h2m', 3_720_000],
    ['500ms', 500],
    ['1.5s', 1_500],
    ['', 300_000],
    ['soon', 300_000],
    ['0s', undefined],
  ])('poll interval %s is %s ms', (s, ms) => expect(pollIntervalMs(s)).toBe(ms));
});

describe('restoreStep: a plain restore', () => {
  it('reads the target first, sizes an unsized volume from the backup, then initiates', () => {
    expect(restoreStep(facts(NEW, { target: undefined }))).toEqual({ kind: 'readTarget' });
    expect(restoreStep(facts({ ...NEW, size: 0 }))).toEqual({ kind: 'setSize', size: 64 * MiB });
    expect(restoreStep(facts({ ...NEW, size: 128 * MiB }))).toEqual({
      kind: 'initiate',
      status: { restoreRequired: true, restoreInitiated: true, isStandby: false, lastBackup: 'backup-1' },
    });
  });
  it('refuses a volume smaller than the backup, a missing backup, a bad URL, a dead target', () => {
    expect(restoreStep(facts({ ...NEW, size: 32 * MiB }))).toMatchObject({
      kind: 'fail',
      terminal: true,
      message: expect.stringMatching(/spec.size 33554432 is smaller than the backup's volume size 67108864/),
    });
    expect(
      restoreStep(facts(NEW, { target: { ok: true, size: 1, lastBackup: 'b0', backupFound: false } })),
    ).toMatchObject({ kind: 'fail', message: 'backup backup-1 of volume src not found' });
    expect(restoreStep(facts({ ...NEW, fromBackup: 's3://b@r/p' }))).toMatchObject({
      kind: 'fail',
      message: expect.stringMatching(/has no \?backup=NAME&volume=NAME/),
    });
    const denied = { ok: false as const, message: 'access denied', permanent: true };
    expect(restoreStep(facts(NEW, { target: denied }))).toMatchObject({
      kind: 'fail',
      message: 'access denied',
    });
    const down = { ok: false as const, message: 'connection refused', permanent: false };
    expect(restoreStep(facts(NEW, { target: down }))).toMatchObject({ kind: 'wait' });
  });
  it('reports a failure once, then lets the volume go (its tickets released)', () => {
    const msg = 'backup backup-1 of volume src not found';
    const missing = { target: { ok: true as const, size: 1, lastBackup: '', backupFound: false } };
    expect(restoreStep(facts({ ...NEW, failure: msg }, { ...missing, ticket: false }))).toEqual({
      kind: 'none',
    });
    expect(restoreStep(facts({ failure: 'x' }))).toEqual({ kind: 'release' });
  });
  it('files its ticket, waits for the attachment, starts a full restore into a fresh volume', () => {
    expect(restoreStep(facts({}, { ticket: false }))).toEqual({ kind: 'addTicket' });
    // The ticket of an owner that went away moves to the new owner.
    expect(restoreStep(facts({}, { ticketElsewhere: true, ready: false }))).toEqual({ kind: 'addTicket' });
    expect(restoreStep(facts({}, { ready: false }))).toMatchObject({ kind: 'wait' });
    expect(restoreStep(facts())).toEqual({
      kind: 'start',
      backup: 'backup-1',
      from: '',
      layer: 'restore-backup-1',
      parent: null,
    });
  });
  it.each([
    ['not attached', { ready: false, chain: undefined }, 'volume new to attach for its restore'],
    ['not attached (a chain listed before)', { ready: false }, 'volume new to attach for its restore'],
    [
      'attached, its engine cannot list the chain',
      { chain: undefined, chainError: 'engine: replica r1: deadline exceeded' },
      'the engine of volume new to answer (engine: replica r1: deadline exceeded)',
    ],
    [
      'attached, its engine cannot list the chain while a job runs',
      { chain: undefined, chainError: 'connection reset', job: job() },
      'the engine of volume new to answer (connection reset)',
    ],
    ['attached, no chain and no error', { chain: undefined }, 'the engine of volume new to answer'],
  ] satisfies Array<[string, Partial<RestoreFacts>, string]>)(
    'says what it waits for: %s',
    (_, over, reason) => {
      expect(restoreStep(facts({}, over))).toEqual({ kind: 'wait', reason, pollMs: 2_000 });
    },
  );
  it('waits for a replica rebuild to finish before staging a layer the new replica would miss', () => {
    expect(restoreStep(facts({}, { rebuilding: true }))).toMatchObject({ kind: 'wait' });
  });
  it('never restores over data it did not put there', () => {
    expect(restoreStep(facts({}, { chain: { headParent: 'snap-a', layers: [L('snap-a')] } }))).toMatchObject({
      kind: 'fail',
      message: expect.stringMatching(/already holds snapshot\(s\) snap-a/),
    });
  });
  it('shows progress while the job runs, retries a transient failure with back-off, fails a permanent one', () => {
    expect(restoreStep(facts({}, { job: job() }))).toMatchObject({
      kind: 'wait',
      progress: { backup: 'backup-1', percent: 40 },
    });
    const failed = job({ state: 'failed', error: 'EIO', finishedAt: NOW - 1_000 });
    expect(restoreStep(facts({}, { job: failed }))).toMatchObject({ kind: 'wait', pollMs: 4_000 });
    expect(restoreStep(facts({}, { job: { ...failed, finishedAt: NOW - 5_000 } }))).toMatchObject({
      kind: 'start',
    });
    expect(
      restoreStep(
        facts({}, { job: { ...failed, finishedAt: NOW - 60_000, attempts: MAX_RESTORE_ATTEMPTS } }),
      ),
    ).toMatchObject({ kind: 'fail', terminal: true, message: 'restore of backup backup-1 failed: EIO' });
    const corrupt = job({ state: 'failed', error: 'missing block abc', permanent: true });
    expect(restoreStep(facts({}, { job: corrupt }))).toMatchObject({
      kind: 'fail',
      message: 'restore of backup backup-1 failed: missing block abc',
    });
  });
  it('moves the head onto a committed layer, then finishes; a finished volume lets its ticket go', () => {
    expect(restoreStep(facts({}, { chain: { headParent: '', layers: [L('restore-backup-1')] } }))).toEqual({
      kind: 'revert',
      layer: 'restore-backup-1',
      backup: 'backup-1',
    });
    const restored = { chain: { headParent: 'restore-backup-1', layers: [L('restore-backup-1')] } };
    expect(restoreStep(facts({}, restored))).toEqual({ kind: 'finish', backup: 'backup-1' });
    expect(restoreStep(facts({ restoreRequired: false }, restored))).toEqual({ kind: 'release' });
    expect(restoreStep(facts({ restoreRequired: false }, { ...restored, ticket: false }))).toEqual({
      kind: 'none',
    });
  });
  it('lets go of a deleted volume', () => {
    expect(restoreStep(facts({ deleting: true }))).toEqual({ kind: 'release' });
  });
});

describe('restoreStep: a standby (DR) volume', () => {
  const standby = { standby: true, isStandby: true };
  const at = (b: string) => ({ headParent: restoreLayerName(b), layers: [L(restoreLayerName(b))] });
  const latest = (b: string) => ({ ok: true as const, size: 64 * MiB, lastBackup: b, backupFound: true });

  it('starts from the backup volume’s last backup and follows it', () => {
    expect(
      restoreStep(facts({ ...NEW, ...standby, isStandby: false }, { target: latest('backup-2') })),
    ).toEqual({
      kind: 'initiate',
      status: { restoreRequired: true, restoreInitiated: true, isStandby: true, lastBackup: 'backup-2' },
    });
    expect(restoreStep(facts(standby, { chain: at('backup-1') }))).toEqual({
      kind: 'following',
      backup: 'backup-1',
      pollMs: 30_000,
    });
  });
  it('restores a newer backup incrementally above the last one, then folds the old layer in', () => {
    expect(restoreStep(facts(standby, { chain: at('backup-1'), target: latest('backup-2') }))).toEqual({
      kind: 'start',
      backup: 'backup-2',
      from: 'backup-1',
      layer: 'restore-backup-2',
      parent: 'restore-backup-1',
    });
    const both = {
      headParent: 'restore-backup-2',
      layers: [L('restore-backup-1'), L('restore-backup-2', 'restore-backup-1')],
    };
    expect(restoreStep(facts(standby, { chain: both, target: latest('backup-2') }))).toEqual({
      kind: 'fold',
      layers: ['restore-backup-1'],
    });
  });
  it('keeps following after a failed incremental restore (retried at the next poll)', () => {
    const failed = job({ backup: 'backup-2', state: 'failed', error: 'corrupt', permanent: true });
    const f = facts(standby, { chain: at('backup-1'), target: latest('backup-2'), job: failed });
    expect(restoreStep(f)).toMatchObject({ kind: 'fail', terminal: false });
    const reported = facts(
      { ...standby, failure: 'restore of backup backup-2 failed: corrupt' },
      { chain: at('backup-1'), target: latest('backup-2'), job: failed },
    );
    expect(restoreStep(reported)).toMatchObject({ kind: 'wait', pollMs: 30_000 });
    // A newer backup is tried at once.
    expect(restoreStep({ ...reported, target: latest('backup-3') })).toMatchObject({
      kind: 'start',
      backup: 'backup-3',
      from: 'backup-1',
    });
  });
  it('a rebuild’s empty system snapshot between the restore and the head changes nothing', () => {
    const rebuilt = {
      headParent: 'sys-1',
      layers: [L('restore-backup-1'), L('sys-1', 'restore-backup-1', false)],
    };
    expect(restoreStep(facts(standby, { chain: rebuilt }))).toMatchObject({ kind: 'following' });
    expect(restoreStep(facts(standby, { chain: rebuilt, target: latest('backup-2') }))).toEqual({
      kind: 'start',
      backup: 'backup-2',
      from: 'backup-1',
      layer: 'restore-backup-2',
      parent: 'sys-1',
    });
    const after = {
      headParent: 'restore-backup-2',
      layers: [...rebuilt.layers, L('restore-backup-2', 'sys-1')],
    };
    expect(restoreStep(facts(standby, { chain: after, target: latest('backup-2') }))).toEqual({
      kind: 'fold',
      layers: ['restore-backup-1', 'sys-1'],
    });
    // A fresh volume with only a system snapshot is still fresh; a user's snapshot is not ours to cover.
    expect(
      restoreStep(facts({}, { chain: { headParent: 'sys-1', layers: [L('sys-1', '', false)] } })),
    ).toMatchObject({
      kind: 'start',
      parent: null,
    });
  });
  it('activation (spec.Standby false) restores the newest backup, then finishes', () => {
    const activating = { standby: false, isStandby: true };
    expect(
      restoreStep(facts(activating, { chain: at('backup-1'), target: latest('backup-3') })),
    ).toMatchObject({
      kind: 'start',
      backup: 'backup-3',
      from: 'backup-1',
    });
    expect(restoreStep(facts(activating, { chain: at('backup-3'), target: latest('backup-3') }))).toEqual({
      kind: 'finish',
      backup: 'backup-3',
    });
  });
});
