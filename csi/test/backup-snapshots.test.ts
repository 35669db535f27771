import type { Backup, Snapshot, Volume } from '@longhorn-ts/api';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { backupSnapshots } from '../src/controller/backup-snapshots.js';
import { backupNameFor } from '../src/controller/snapshot-ids.js';
import { CsiError } from '../src/errors.js';
import type { LonghornObjects } from '../src/k8s/longhorn-objects.js';
import type { CallContext } from '../src/rpc/edge.js';

/**
 * The `bak` flow's decisions over an in-memory object store (get/list/create/delete by kind and
 * name, label selectors `k=v`): what is created, in which order, what is answered and which
 * attachments are released. The real API server path is the e2e test in test/e2e/csi.test.ts.
 */
type Obj = { metadata: { name: string; labels?: Record<string, string>; deletionTimestamp?: string } };

function store(initial: Record<string, Obj[]> = {}) {
  const kinds = new Map<string, Map<string, Obj>>();
  const of = (kind: string) => {
    const m = kinds.get(kind) ?? new Map<string, Obj>();
    kinds.set(kind, m);
    return m;
  };
  for (const [kind, objs] of Object.entries(initial)) for (const o of objs) of(kind).set(o.metadata.name, o);
  const created: string[] = [];
  const deleted: string[] = [];
  const objects = {
    get: async (kind: string, name: string) => structuredClone(of(kind).get(name)),
    list: async (kind: string, selector?: string) => {
      const [k, v] = (selector ?? '').split('=');
      return [...of(kind).values()].filter((o) => !selector || o.metadata.labels?.[k!] === v);
    },
    create: async (kind: string, body: Obj) => {
      if (of(kind).has(body.metadata.name)) throw new CsiError('ALREADY_EXISTS', `${kind} exists`);
      of(kind).set(body.metadata.name, body);
      created.push(`${kind}/${body.metadata.name}`);
      return body;
    },
    delete: async (kind: string, name: string) => {
      deleted.push(`${kind}/${name}`);
      of(kind).delete(name);
    },
  } as unknown as LonghornObjects;
  return { objects, of, created, deleted };
}

const ctx: CallContext = { deadline: undefined, log: pino({ level: 'silent' }) };
const MiB = 1024 * 1024;

const volume = (name: string, extra: Partial<Volume['spec']> = {}): Volume =>
  ({ metadata: { name }, spec: { size: String(64 * MiB), ...extra } }) as Volume;
const target = (name: string, url: string) => ({ metadata: { name }, spec: { backupTargetURL: url } });
const backupOf = (
  vol: string,
  snap: string,
  status: Backup['status'],
  name = backupNameFor(vol, snap),
): Backup =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Backup',
    metadata: { name, labels: { 'backup-volume': vol } },
    spec: { snapshotName: snap },
    status,
  }) as Backup;

function harness(initial: Record<string, Obj[]>, snapshotReady = true) {
  const s = store(initial);
  const calls: string[] = [];
  const service = backupSnapshots({
    objects: s.objects,
    timeouts: { snapshotMs: 200, backupMs: 200 },
    takeSnapshot: async (v, name) => {
      calls.push(`snapshot ${v.metadata.name}/${name}`);
      return snapshotReady
        ? ({ metadata: { name }, spec: { volume: v.metadata.name } } as Snapshot)
        : undefined;
    },
    release: async (v, snap) => {
      calls.push(`release ${v}/${snap}`);
    },
  });
  return { ...s, calls, service };
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CsiError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'OK';
}

describe('bak CreateSnapshot', () => {
  it('snapshot first, then a Backup labelled with volume and target; not ready while the backup runs', async () => {
    const h = harness({ Volume: [volume('pvc-1')], BackupTarget: [target('default', 's3://b@r/')] });
    const snap = await h.service.create('pvc-1', 'snapshot-AB', { type: 'bak' }, ctx);
    const name = backupNameFor('pvc-1', 'snapshot-ab');
    expect(snap).toMatchObject({
      snapshotId: `bak://pvc-1/${name}`,
      sourceVolumeId: 'pvc-1',
      readyToUse: false,
    });
    expect(snap.sizeBytes).toBe(64 * MiB);
    expect(h.calls).toEqual(['snapshot pvc-1/snapshot-ab']);
    expect(h.created).toEqual([`Backup/${name}`]);
    expect(h.of('Backup').get(name)).toMatchObject({
      metadata: { labels: { 'backup-volume': 'pvc-1', 'longhorn.io/backup-target': 'default' } },
      spec: { snapshotName: 'snapshot-ab', labels: { type: 'bak' } },
    });
  });

  it('a repeated call answers the Backup’s state, releases the attachment once it is done, creates nothing', async () => {
    const h = harness({
      Volume: [volume('pvc-1')],
      BackupTarget: [target('default', 's3://b@r/')],
      Backup: [backupOf('pvc-1', 'snapshot-1', { state: 'Completed', volumeSize: String(64 * MiB) })],
    });
    const snap = await h.service.create('pvc-1', 'snapshot-1', {}, ctx);
    expect(snap.readyToUse).toBe(true);
    expect(h.calls).toEqual(['release pvc-1/snapshot-1']);
    expect(h.created).toEqual([]);
  });

  it('finds a backup of the snapshot whoever named it, also when the volume is gone', async () => {
    const h = harness({
      Backup: [backupOf('pvc-1', 'snapshot-1', { state: 'InProgress' }, 'backup-made-elsewhere')],
    });
    const snap = await h.service.create('pvc-1', 'snapshot-1', {}, ctx);
    expect(snap).toMatchObject({ snapshotId: 'bak://pvc-1/backup-made-elsewhere', readyToUse: false });
    expect(h.calls).toEqual([]);
  });

  it('a failed backup is INTERNAL with its error, the attachment released', async () => {
    const h = harness({
      Volume: [volume('pvc-1')],
      Backup: [backupOf('pvc-1', 'snapshot-1', { state: 'Error', error: 'no space in bucket' })],
    });
    expect(await refusal(h.service.create('pvc-1', 'snapshot-1', {}, ctx))).toMatch(
      /^INTERNAL: backup backup-[0-9a-f]{16} of snapshot snapshot-1 of volume pvc-1 failed: no space in bucket; delete the VolumeSnapshot/,
    );
    expect(h.calls).toEqual(['release pvc-1/snapshot-1']);
  });

  it('refuses before any snapshot: unknown volume NOT_FOUND, no target URL FAILED_PRECONDITION', async () => {
    const h = harness({ Volume: [volume('pvc-1'), volume('pvc-2', { backupTargetName: 'offsite' })] });
    expect(await refusal(h.service.create('pvc-9', 's', {}, ctx))).toBe('NOT_FOUND: volume pvc-9 not found');
    expect(await refusal(h.service.create('pvc-1', 's', {}, ctx))).toMatch(
      /^FAILED_PRECONDITION: volume pvc-1 cannot be backed up: backup target "default" has no URL/,
    );
    expect(await refusal(h.service.create('pvc-2', 's', {}, ctx))).toMatch(
      /backup target "offsite" has no URL/,
    );
    expect(h.calls).toEqual([]);
    expect(h.created).toEqual([]);
  });

  it('the default target’s URL may come from the backup-target Setting (Longhorn before 1.8)', async () => {
    const h = harness({
      Volume: [volume('pvc-1')],
      Setting: [{ metadata: { name: 'backup-target' }, value: 's3://b@r/' } as Obj],
    });
    expect((await h.service.create('pvc-1', 's', {}, ctx)).readyToUse).toBe(false);
  });

  it('a snapshot not ready in time is ABORTED (BUSY), no Backup yet', async () => {
    const h = harness({ Volume: [volume('pvc-1')], BackupTarget: [target('default', 's3://b@r/')] }, false);
    expect(await refusal(h.service.create('pvc-1', 's1', {}, ctx))).toBe(
      'BUSY: snapshot s1 of volume pvc-1 is not ready yet; its backup starts once it is (retry)',
    );
    expect(h.created).toEqual([]);
  });
});

describe('bak DeleteSnapshot, ListSnapshots, content source', () => {
  const completed = backupOf('pvc-1', 'snapshot-1', {
    state: 'Completed',
    url: 's3://b@r/?backup=backup-x&volume=pvc-1',
    volumeSize: String(40 * MiB),
  });

  it('DeleteSnapshot releases the attachment and deletes the Backup; another volume’s or a gone one is left', async () => {
    const h = harness({ Backup: [completed] });
    const id = `bak://pvc-1/${completed.metadata.name}`;
    await h.service.remove(`bak://pvc-2/${completed.metadata.name}`, ctx);
    expect(h.deleted).toEqual([]);
    await h.service.remove(id, ctx);
    expect(h.calls).toEqual(['release pvc-1/snapshot-1']);
    expect(h.deleted).toEqual([`Backup/${completed.metadata.name}`]);
    await h.service.remove(id, ctx);
    expect(h.deleted).toHaveLength(1);
  });

  it('lists backups of a volume or by id, without failed or deleting ones', async () => {
    const h = harness({
      Backup: [
        completed,
        backupOf('pvc-1', 'snapshot-2', { state: 'Error' }),
        {
          ...backupOf('pvc-1', 'snapshot-3', {}),
          metadata: { name: 'b3', labels: { 'backup-volume': 'pvc-1' }, deletionTimestamp: 'x' },
        } as Backup,
        backupOf('pvc-2', 'snapshot-1', { state: 'InProgress' }),
      ],
    });
    const sizes = new Map([['pvc-1', 64 * MiB]]);
    const ids = async (f: { volume?: string; id?: string }) =>
      (await h.service.list(f, sizes)).map((s) => `${s.snapshotId} ${s.readyToUse}`);
    expect(await ids({ volume: 'pvc-1' })).toEqual([`bak://pvc-1/${completed.metadata.name} true`]);
    expect((await ids({})).length).toBe(2);
    expect(await ids({ id: `bak://pvc-1/${completed.metadata.name}` })).toHaveLength(1);
    expect(await ids({ id: `bak://pvc-9/${completed.metadata.name}` })).toEqual([]);
    expect(await ids({ id: `bak://pvc-1/${completed.metadata.name}`, volume: 'pvc-2' })).toEqual([]);
  });

  it('a bak:// content source is spec.fromBackup, at least the backup’s size; pending ABORTED, failed FAILED_PRECONDITION', async () => {
    const pending = backupOf('pvc-1', 'snapshot-2', { state: 'InProgress', progress: 30 }, 'backup-p');
    const failed = backupOf('pvc-1', 'snapshot-3', { state: 'Error', error: 'boom' }, 'backup-f');
    const noUrl = backupOf('pvc-1', 'snapshot-4', { state: 'Completed' }, 'backup-n');
    const h = harness({
      Backup: [completed, pending, failed, noUrl],
      BackupTarget: [target('default', 's3://b@r/')],
    });
    const id = `bak://pvc-1/${completed.metadata.name}`;
    expect(await h.service.resolveSource(id)).toEqual({
      fromBackup: 's3://b@r/?backup=backup-x&volume=pvc-1',
      sourceSize: 40 * MiB,
      contentSource: { snapshot: { snapshotId: id } },
    });
    expect((await h.service.resolveSource('bak://pvc-1/backup-n')).fromBackup).toBe(
      's3://b@r/?backup=backup-n&volume=pvc-1',
    );
    expect(await refusal(h.service.resolveSource('bak://pvc-1/backup-p'))).toBe(
      'BUSY: source snapshot bak://pvc-1/backup-p is not ready to use yet (backup InProgress, 30%)',
    );
    expect(await refusal(h.service.resolveSource('bak://pvc-1/backup-f'))).toBe(
      'FAILED_PRECONDITION: source snapshot bak://pvc-1/backup-f cannot be restored: its backup failed: boom',
    );
    expect(await refusal(h.service.resolveSource('bak://pvc-2/backup-p'))).toBe(
      'NOT_FOUND: source snapshot bak://pvc-2/backup-p not found (no Backup backup-p of volume pvc-2)',
    );
    expect(await h.service.sizeOfBackupUrl('s3://b@r/?backup=backup-x&volume=pvc-1')).toBeUndefined();
    expect(await h.service.sizeOfBackupUrl(`s3://b@r/?backup=${completed.metadata.name}&volume=pvc-1`)).toBe(
      40 * MiB,
    );
  });
});
