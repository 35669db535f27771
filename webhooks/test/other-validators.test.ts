import type { BackupTarget, Node, RecurringJob, Setting, Snapshot } from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { staticContext } from '../src/admission/context.js';
import { validateRequest } from '../src/admit.js';
import { backupTargetUrlProblem } from '../src/validators/backup-target.js';
import { quantityBytes } from '../src/validators/quantity.js';
import { GiB, node, replica, request, volume } from './fixtures.js';

const ctx = staticContext();

describe('Node', () => {
  const disk = {
    path: '/var/lib/longhorn',
    allowScheduling: true,
    diskType: 'filesystem' as const,
    storageReserved: 0,
  };
  const status = { storageMaximum: 100 * GiB, diskUUID: 'uuid-a', scheduledReplica: {} };

  function update(before: Node, after: Node) {
    return validateRequest(request('Node', 'UPDATE', after, before), ctx);
  }

  it('allows removing a disk with scheduling off and no replicas', () => {
    const before = node('node-1', { a: { ...disk, allowScheduling: false } }, { a: status });
    expect(update(before, node('node-1', {}, { a: status })).allowed).toBe(true);
  });

  it.each<[string, Node, Node, string]>([
    [
      'removing a disk that still takes replicas',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', {}),
      'disk a (/var/lib/longhorn) cannot be removed while scheduling is on for it; set spec.disks.a.allowScheduling false, let its replicas move away, then remove it',
    ],
    [
      'removing a disk that holds replicas',
      node(
        'node-1',
        { a: { ...disk, allowScheduling: false } },
        { a: { ...status, scheduledReplica: { 'r-1': GiB, 'r-2': GiB } } },
      ),
      node('node-1', {}),
      'disk a (/var/lib/longhorn) still holds 2 replica(s) (r-1, r-2); evict them (spec.disks.a.evictionRequested true) or delete them, then remove the disk',
    ],
    [
      'reserving more than the disk',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: { ...disk, storageReserved: 200 * GiB } }, { a: status }),
      `disk a: storageReserved ${200 * GiB} is more than the disk holds (storageMaximum ${100 * GiB}); set it to at most ${100 * GiB}`,
    ],
    [
      'a negative reservation',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: { ...disk, storageReserved: -1 } }, { a: status }),
      "disk a: storageReserved -1 is negative; set 0 or a number of bytes up to the disk's size",
    ],
    [
      'two disks on one path',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: disk, b: { ...disk, path: '/var/lib/longhorn/' } }, { a: status }),
      'disks a and b both use the path /var/lib/longhorn; give each disk its own directory or remove one',
    ],
    [
      'evicting a disk that still takes replicas',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: { ...disk, evictionRequested: true } }, { a: status }),
      'disk a: evictionRequested needs allowScheduling false; disable scheduling on the disk to evict it, or cancel the eviction',
    ],
    [
      'changing a disk type',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: { ...disk, diskType: 'block' } }, { a: status }),
      'disk a is a block disk, which only data engine v2 uses, and the setting v2-data-engine is false; enable it or use diskType filesystem',
    ],
    [
      'a relative disk path',
      node('node-1', { a: disk }, { a: status }),
      node('node-1', { a: { ...disk, path: 'data' } }, { a: status }),
      'spec.disks.a.path "data" is not an absolute path; write the directory, e.g. /var/lib/longhorn',
    ],
  ])('denies %s', (_what, before, after, message) => {
    const verdict = update(before, after);
    expect(verdict.message).toBe(message);
    expect(verdict.allowed).toBe(false);
  });

  it('denies a changed disk type when v2 is on', () => {
    const v2 = staticContext({ settings: { 'v2-data-engine': 'true' } });
    const before = node('node-1', { a: disk }, { a: status });
    const after = node('node-1', { a: { ...disk, diskType: 'block' } }, { a: status });
    expect(validateRequest(request('Node', 'UPDATE', after, before), v2).message).toBe(
      'disk a: diskType cannot change from filesystem to block; remove the disk and add it again with the new type',
    );
  });
});

describe('Setting', () => {
  function setting(name: string, value: unknown): Setting {
    return { apiVersion: 'longhorn.io/v1beta2', kind: 'Setting', metadata: { name }, value: value as string };
  }
  it('allows a known setting with a good value', () => {
    expect(
      validateRequest(request('Setting', 'CREATE', setting('default-replica-count', '2')), ctx).allowed,
    ).toBe(true);
  });
  it.each([
    [
      'default-replica-count',
      '21',
      'setting default-replica-count: 21 is above the maximum 20; use an integer from 1 to 20',
    ],
    [
      'default-replica-count',
      3,
      'setting default-replica-count: value 3 is not a string; quote it, e.g. value: "3"',
    ],
  ])('denies %s = %s', (name, value, message) => {
    expect(validateRequest(request('Setting', 'CREATE', setting(name, value)), ctx).message).toBe(message);
  });
  it('denies an unknown name, suggesting the near one', () => {
    const verdict = validateRequest(request('Setting', 'CREATE', setting('default-replica-cuont', '3')), ctx);
    expect(verdict.message).toMatch(
      /^unknown setting "default-replica-cuont"; did you mean "default-replica-count"\?/,
    );
  });
});

describe('RecurringJob', () => {
  function job(spec: RecurringJob['spec']): RecurringJob {
    return {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'RecurringJob',
      metadata: { name: 'daily' },
      spec: { name: 'daily', task: 'snapshot', cron: '0 2 * * *', retain: 7, concurrency: 2, ...spec },
    };
  }
  it('allows a daily snapshot job', () => {
    expect(validateRequest(request('RecurringJob', 'CREATE', job({})), ctx).allowed).toBe(true);
  });
  it.each<[string, RecurringJob['spec'], string]>([
    [
      'a bad cron',
      { cron: '0 25 * * *' },
      'spec.cron: cron "0 25 * * *": hour "25" is not a value from 0 to 23; write five fields, e.g. "0 2 * * *" (02:00 every day) or "@every 6h"',
    ],
    [
      'an unknown task',
      { task: 'defrag' as never },
      'spec.task "defrag" is not valid; use one of snapshot, snapshot-force-create, snapshot-cleanup, snapshot-delete, backup, backup-force-create, filesystem-trim or system-backup',
    ],
    [
      'retain 101',
      { retain: 101 },
      'spec.retain 101 is more than the 100 the setting recurring-job-max-retention allows; keep at most 100',
    ],
    [
      'retain 0 on a snapshot job',
      { retain: 0 },
      'spec.retain must be at least 1 for task snapshot (count-based retention); set how many to keep, e.g. 7',
    ],
    [
      'concurrency 0',
      { concurrency: 0 },
      'spec.concurrency 0 would run no volume at a time; set it to 1 or more',
    ],
    [
      'a missing cron',
      { cron: '' },
      'spec.cron is missing; set a schedule such as "0 2 * * *" (02:00 every day)',
    ],
    [
      'age-based cleanup',
      { task: 'snapshot-cleanup', retentionPolicy: 'age-based' },
      'spec.retentionPolicy age-based does not apply to task snapshot-cleanup; use count-based',
    ],
    [
      'a bad backup parameter',
      { task: 'backup', parameters: { 'full-backup-interval': 'often' } },
      'spec.parameters.full-backup-interval "often" is not a number; write how many incremental backups between full ones, e.g. "5"',
    ],
    ['a long name', { name: 'x'.repeat(41) }, 'spec.name is 41 characters long; use at most 40'],
  ])('denies %s', (_what, spec, message) => {
    expect(validateRequest(request('RecurringJob', 'UPDATE', job(spec), job({})), ctx).message).toBe(message);
  });
  it('follows the setting recurring-job-max-retention', () => {
    const c = staticContext({ settings: { 'recurring-job-max-retention': '150' } });
    expect(validateRequest(request('RecurringJob', 'CREATE', job({ retain: 120 })), c).allowed).toBe(true);
  });
});

describe('Snapshot', () => {
  function snapshot(volumeName: string): Snapshot {
    return {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Snapshot',
      metadata: { name: 'snap-1' },
      spec: { volume: volumeName },
    };
  }
  it('denies changing spec.volume', () => {
    expect(validateRequest(request('Snapshot', 'UPDATE', snapshot('b'), snapshot('a')), ctx).message).toBe(
      'spec.volume cannot change (was a, now b); set it back, or create a new Snapshot of b',
    );
  });
  it('denies a snapshot without a volume', () => {
    expect(validateRequest(request('Snapshot', 'CREATE', snapshot('')), ctx).message).toBe(
      'spec.volume is missing; name the volume to snapshot',
    );
  });
});

describe('BackupTarget', () => {
  it.each([
    '',
    's3://backups@us-east-1/',
    's3://b@r/path/x',
    'nfs://nfs.example.com:/exports/b',
    'nfs://10.0.0.1:/opt/backupstore?nfsOptions=soft',
    'cifs://fs/share',
    'cifs://fs/share$/x',
    'azblob://c@core.windows.net/',
  ])('accepts %j', (url) => expect(backupTargetUrlProblem(url)).toBeUndefined());
  it.each([
    [
      's3://backups/path',
      'backupTargetURL "s3://backups/path" is not a s3 target; write s3://<bucket>@<region>/<path>, e.g. s3://backups@us-east-1/',
    ],
    [
      'nfs://server/exports',
      'backupTargetURL "nfs://server/exports" is not a nfs target; write nfs://<server>:/<path>, e.g. nfs://nfs.example.com:/exports/backups',
    ],
    [
      'ftp://x/y',
      'backupTargetURL scheme "ftp" is not supported; use s3 (s3://<bucket>@<region>/<path>), nfs (nfs://<server>:/<path>), cifs (cifs://<server>/<share>), azblob (azblob://<container>@<endpoint>/<path>)',
    ],
    [
      'backups',
      'backupTargetURL "backups" is not a URL; write one of s3 (s3://<bucket>@<region>/<path>), nfs (nfs://<server>:/<path>), cifs (cifs://<server>/<share>), azblob (azblob://<container>@<endpoint>/<path>), or leave it empty for no target',
    ],
    [
      'nfs://server:/a$b',
      'backupTargetURL "nfs://server:/a$b": the path holds "$", which the backup store cannot use; rename that directory',
    ],
  ])('refuses %j', (url, message) => expect(backupTargetUrlProblem(url)).toBe(message));

  it('denies a BackupTarget with a bad URL or poll interval', () => {
    const target = (spec: BackupTarget['spec']): BackupTarget => ({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'BackupTarget',
      metadata: { name: 'default' },
      spec,
    });
    expect(
      validateRequest(request('BackupTarget', 'CREATE', target({ backupTargetURL: 's3://x' })), ctx).allowed,
    ).toBe(false);
    expect(
      validateRequest(request('BackupTarget', 'CREATE', target({ pollInterval: 'often' })), ctx).message,
    ).toBe('spec.pollInterval "often" is not a duration; write e.g. "5m0s", or "0s" to stop polling');
  });
});

describe('PVC resize', () => {
  function pvc(size: string) {
    return {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'data',
        namespace: 'app',
        annotations: { 'volume.kubernetes.io/storage-provisioner': 'driver.longhorn.io' },
      },
      spec: { volumeName: 'pvc-1', resources: { requests: { storage: size } } },
    };
  }
  const disks = { a: { path: '/d', allowScheduling: true, storageReserved: 10 * GiB } };
  const c = staticContext({
    volumes: [volume({ size: String(10 * GiB) }, undefined, 'pvc-1')],
    replicas: [replica('r-1', 'pvc-1', 'node-1', 'uuid-a'), replica('r-2', 'pvc-1', 'node-2', 'uuid-b')],
    nodes: [
      node('node-1', disks, {
        a: {
          diskUUID: 'uuid-a',
          storageMaximum: 100 * GiB,
          storageAvailable: 80 * GiB,
          storageScheduled: 20 * GiB,
        },
      }),
      node('node-2', disks, {
        a: {
          diskUUID: 'uuid-b',
          storageMaximum: 100 * GiB,
          storageAvailable: 40 * GiB,
          storageScheduled: 20 * GiB,
        },
      }),
    ],
  });
  const resize = (from: string, to: string, cx = c) =>
    validateRequest(request('PersistentVolumeClaim', 'UPDATE', pvc(to), pvc(from), ''), cx);

  it('allows growth that fits every disk', () => {
    expect(resize('10Gi', '20Gi').allowed).toBe(true);
  });
  it('denies growth past the free space of one disk, naming the largest size that fits', () => {
    // node-2: 40 GiB free, 25 GiB must stay free -> 15 GiB of growth at most.
    const verdict = resize('10Gi', '30Gi');
    expect(verdict.allowed).toBe(false);
    expect(verdict.message).toBe(
      `PVC app/data cannot grow to ${30 * GiB} bytes: disk a on node node-2 holds 1 replica(s) of volume pvc-1 and ${40 * GiB} bytes are free and 25% of the disk (${25 * GiB}) must stay free; ask for at most ${25 * GiB - 1} bytes, or free space on that disk or add a disk and move the replica`,
    );
  });
  it('denies growth past what the disk may promise (over-provisioning)', () => {
    // (100 - 10) GiB at 50% = 45 GiB schedulable, 20 GiB promised -> 25 GiB of growth at most.
    const roomy = staticContext({
      settings: { 'storage-over-provisioning-percentage': '50' },
      volumes: [volume({}, undefined, 'pvc-1')],
      replicas: [replica('r-1', 'pvc-1', 'node-1', 'uuid-a')],
      nodes: [
        node('node-1', disks, {
          a: {
            diskUUID: 'uuid-a',
            storageMaximum: 100 * GiB,
            storageAvailable: 100 * GiB,
            storageScheduled: 20 * GiB,
          },
        }),
      ],
    });
    expect(resize('10Gi', '40Gi', roomy).message).toBe(
      `PVC app/data cannot grow to ${40 * GiB} bytes: disk a on node node-1 holds 1 replica(s) of volume pvc-1 and ${20 * GiB} bytes are already promised of ${45 * GiB} schedulable (over-provisioning 50%); ask for at most ${35 * GiB} bytes, or free space on that disk or add a disk and move the replica`,
    );
  });
  it('ignores PVCs of other drivers and shrink or no-op edits', () => {
    const other = staticContext();
    const foreign = { ...pvc('20Gi'), metadata: { name: 'x', namespace: 'app' } };
    expect(
      validateRequest(request('PersistentVolumeClaim', 'UPDATE', foreign, pvc('1Gi'), ''), other).allowed,
    ).toBe(true);
    expect(resize('10Gi', '10Gi').allowed).toBe(true);
  });
  it('parses quantities', () => {
    expect(quantityBytes('10Gi')).toBe(BigInt(10 * GiB));
    expect(quantityBytes('1.5G')).toBe(1_500_000_000n);
    expect(quantityBytes('2e3')).toBe(2000n);
    expect(quantityBytes('1500m')).toBe(2n);
    expect(quantityBytes('ten')).toBeUndefined();
  });
});
