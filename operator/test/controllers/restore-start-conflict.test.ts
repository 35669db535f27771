import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Engine, Volume, VolumeAttachment } from '@longhorn-ts/api';
import { encodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';
import { createBackup } from '@longhorn-ts/dataplane/backup/create-backup';
import { StoreSnapshotSource } from '@longhorn-ts/dataplane/backup/snapshot-source';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { openTarget } from '@longhorn-ts/dataplane/backup/target-url';
import { Replica } from '@longhorn-ts/dataplane/replica/index';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ControllerContext } from '../../src/controllers/context.js';
import type { EngineController } from '../../src/controllers/engine-controller.js';
import { RestoreController } from '../../src/controllers/restore-controller.js';
import { ConflictError } from '../../src/runtime/api-errors.js';
import { restoreLayerName, restoreTicketId } from '../../src/volume/volume-restore.js';
import { testNodeId } from './test-node-id.js';

const NS = 'longhorn-system';
const MiB = 1024 * 1024;
const LOCKS = { settleMs: 10, refreshMs: 60_000, expiryMs: 150_000 };

let dir = '';
let store: BackupTarget;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lh-restore-conflict-'));
  await mkdir(join(dir, 'store'));
  store = openTarget(join(dir, 'store'));
});

afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/** Two backups of a small source volume in the directory store; their names, oldest first. */
async function twoBackups(): Promise<[string, string]> {
  const source = await Replica.create(join(dir, 'source'), { size: 8 * MiB });
  const names: string[] = [];
  try {
    for (const snap of ['s1', 's2']) {
      await source.write(0, randomBytes(MiB));
      await source.snapshot(snap);
      const r = await createBackup({
        target: store,
        source: new StoreSnapshotSource(source),
        volume: 'src',
        snapshot: snap,
        lockTiming: LOCKS,
      });
      names.push(r.backup.Name);
    }
  } finally {
    await source.close();
  }
  return names as [string, string];
}

describe('RestoreController: a standby volume whose restore start loses a status write race', () => {
  it('starts the restore again on the next reconcile instead of showing a job that never ran at 0%', async () => {
    const [b1, b2] = await twoBackups();
    const fromBackup = encodeBackupUrl(join(dir, 'store'), 'src', b1);
    const volume: Volume = {
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Volume',
      metadata: { name: 'dr', namespace: NS, resourceVersion: '10' },
      spec: { size: String(8 * MiB), fromBackup, Standby: true, numberOfReplicas: 1 },
      status: {
        ownerID: 'n1',
        state: 'attached',
        currentNodeID: 'n1',
        restoreRequired: true,
        restoreInitiated: true,
        isStandby: true,
        lastBackup: b1,
      },
    } as Volume;
    const ticketId = restoreTicketId('dr');
    const va = {
      metadata: { name: 'dr', namespace: NS },
      spec: {
        volume: 'dr',
        attachmentTickets: { [ticketId]: { id: ticketId, nodeID: 'n1', type: 'volume-restore-controller' } },
      },
    } as unknown as VolumeAttachment;
    const engine = {
      metadata: { name: 'dr-e-0', namespace: NS },
      // A replica address nothing listens on: the job itself fails later; this test is about its start.
      spec: { volumeName: 'dr', nodeID: 'n1', replicaAddressMap: { r1: '127.0.0.1:1' } },
      status: { currentState: 'running', port: 1, replicaModeMap: { r1: 'RW' } },
    } as unknown as Engine;

    const writes: Array<Record<string, unknown>> = [];
    let conflicts = 1;
    const ctx = {
      id: testNodeId(dir, NS),
      caches: {
        volumes: { get: () => volume, list: () => [volume] },
        volumeAttachments: { get: () => va, list: () => [va] },
        engines: { get: () => engine, list: () => [engine] },
      },
      client: {
        patchStatus: async (_kind: unknown, _obj: unknown, fields: Record<string, unknown>) => {
          if (conflicts-- > 0)
            throw new ConflictError(
              { kind: 'Volume', namespace: NS, name: 'dr' },
              'the object has been modified',
            );
          writes.push(fields);
        },
        patch: async () => {},
      },
      events: { record: () => {} },
      settings: {
        get: (name: string) => (name === 'concurrent-volume-backup-restore-per-node-limit' ? 5 : 2),
      },
      dispatcher: { watch: () => {}, add: () => {} },
      clock: { now: () => Date.now() },
      log: pino({ level: 'silent' }),
    } as unknown as ControllerContext;
    // The replicas sit on the restore of b1: the standby volume is one backup behind.
    const service = {
      snapshotList: async () => [
        { name: restoreLayerName(b1), parent: '', head: false, removed: false, userCreated: true },
        { name: 'head', parent: restoreLayerName(b1), head: true, removed: false, userCreated: false },
      ],
    };
    const engines = { service: async () => service } as unknown as EngineController;
    const targets = {
      open: async () => ({ name: 'default', target: openTarget(join(dir, 'store')), pollMs: 60_000 }),
    };
    const controller = new RestoreController(ctx, engines, targets);

    // First reconcile: it decides to restore b2 incrementally, and its status write meets a 409.
    await expect(controller.reconcile(`${NS}/dr`)).rejects.toThrow(/modified/);
    expect(writes).toEqual([]);

    // The requeued reconcile starts it (status names the backup and where it restores from).
    await controller.reconcile(`${NS}/dr`);
    expect(writes.length).toBeGreaterThan(0);
    expect(writes[0]!.lastBackup).toBe(b2);
    const cond = (writes[0]!.conditions as Array<{ type: string; reason: string; message: string }>).find(
      (c) => c.type === 'Restore',
    );
    expect(cond?.reason).toBe('RestoreInProgress');
    expect(cond?.message).toBe(`restoring backup ${b2} (incremental from ${b1}): 0%`);
  }, 60_000);
});
