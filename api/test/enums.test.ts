import { describe, expect, it } from 'vitest';
import {
  BACKUP_BLOCK_SIZES,
  BACKUP_COMPRESSION_METHODS,
  BACKUP_MODES,
  BACKUP_STATES,
} from '../src/backup.js';
import { CONDITION_STATUSES } from '../src/condition.js';
import { DATA_ENGINES } from '../src/data-engine.js';
import { REPLICA_MODES } from '../src/engine.js';
import { INSTANCE_STATES } from '../src/instance.js';
import { INSTANCE_MANAGER_STATES, INSTANCE_MANAGER_TYPES, INSTANCE_TYPES } from '../src/instance-manager.js';
import { DISK_DRIVERS, DISK_TYPES } from '../src/node.js';
import { RECURRING_JOB_RETENTION_POLICIES, RECURRING_JOB_TASKS } from '../src/recurring-job.js';
import { SHARE_MANAGER_STATES } from '../src/share-manager.js';
import {
  ACCESS_MODES,
  CLONE_MODES,
  DATA_LOCALITIES,
  REPLICA_AUTO_BALANCES,
  SETTING_OVERRIDES,
  SNAPSHOT_DATA_INTEGRITIES,
  VOLUME_FRONTENDS,
  VOLUME_ROBUSTNESSES,
  VOLUME_STATES,
} from '../src/volume.js';
import { ATTACHER_TYPES } from '../src/volume-attachment.js';
import { schemaAt } from './schema-at.js';

/** [kind, path, the TypeScript list, whether the schema also admits ""]. */
const ENUMS: [string, string, readonly string[], boolean][] = [
  ['Volume', 'spec.dataLocality', DATA_LOCALITIES, false],
  ['Volume', 'spec.accessMode', ACCESS_MODES, false],
  ['Volume', 'spec.frontend', VOLUME_FRONTENDS, true],
  ['Volume', 'spec.replicaAutoBalance', REPLICA_AUTO_BALANCES, false],
  ['Volume', 'spec.replicaSoftAntiAffinity', SETTING_OVERRIDES, false],
  ['Volume', 'spec.replicaZoneSoftAntiAffinity', SETTING_OVERRIDES, false],
  ['Volume', 'spec.replicaDiskSoftAntiAffinity', SETTING_OVERRIDES, false],
  ['Volume', 'spec.unmapMarkSnapChainRemoved', SETTING_OVERRIDES, false],
  ['Volume', 'spec.snapshotDataIntegrity', SNAPSHOT_DATA_INTEGRITIES, false],
  ['Volume', 'spec.backupCompressionMethod', BACKUP_COMPRESSION_METHODS, false],
  ['Volume', 'spec.backupBlockSize', BACKUP_BLOCK_SIZES, false],
  ['Volume', 'spec.dataEngine', DATA_ENGINES, false],
  ['Volume', 'spec.cloneMode', CLONE_MODES, true],
  ['Volume', 'status.state', VOLUME_STATES, true],
  ['Volume', 'status.robustness', VOLUME_ROBUSTNESSES, true],
  ['Volume', 'status.shareState', SHARE_MANAGER_STATES, true],
  ['Volume', 'status.conditions[].status', CONDITION_STATUSES, false],
  ['Engine', 'spec.frontend', VOLUME_FRONTENDS, true],
  ['Engine', 'spec.desireState', INSTANCE_STATES, true],
  ['Engine', 'status.currentState', INSTANCE_STATES, true],
  ['Engine', 'status.replicaModeMap.*', REPLICA_MODES, false],
  ['Replica', 'spec.dataEngine', DATA_ENGINES, false],
  ['Replica', 'status.currentState', INSTANCE_STATES, true],
  ['Node', 'spec.disks.*.diskType', DISK_TYPES, false],
  ['Node', 'spec.disks.*.diskDriver', DISK_DRIVERS, true],
  ['VolumeAttachment', 'spec.attachmentTickets.*.type', ATTACHER_TYPES, false],
  ['InstanceManager', 'spec.type', INSTANCE_MANAGER_TYPES, false],
  ['InstanceManager', 'status.currentState', INSTANCE_MANAGER_STATES, true],
  ['InstanceManager', 'status.instanceEngines.*.status.type', INSTANCE_TYPES, true],
  ['Backup', 'status.state', BACKUP_STATES, true],
  ['Backup', 'spec.backupMode', BACKUP_MODES, true],
  ['RecurringJob', 'spec.task', RECURRING_JOB_TASKS, false],
  ['RecurringJob', 'spec.retentionPolicy', RECURRING_JOB_RETENTION_POLICIES, false],
  ['ShareManager', 'status.state', SHARE_MANAGER_STATES, true],
];

describe('schema enums', () => {
  it.each(ENUMS)('%s %s is the TypeScript list', (kind, path, values, withEmpty) => {
    expect(schemaAt(kind, path).enum).toEqual(withEmpty ? [...values, ''] : [...values]);
  });

  it('hold the Longhorn values the issue names', () => {
    expect(DATA_LOCALITIES).toEqual(['disabled', 'best-effort', 'strict-local']);
    expect(ACCESS_MODES).toEqual(['rwo', 'rwop', 'rwx']);
    expect(VOLUME_FRONTENDS).toEqual(expect.arrayContaining(['blockdev', 'nbd']));
    expect(REPLICA_AUTO_BALANCES).toEqual(['ignored', 'disabled', 'least-effort', 'best-effort']);
    expect([...SETTING_OVERRIDES].sort()).toEqual(['disabled', 'enabled', 'ignored']);
    expect(VOLUME_STATES).toEqual(['creating', 'attached', 'detached', 'attaching', 'detaching', 'deleting']);
    expect(VOLUME_ROBUSTNESSES).toEqual(['healthy', 'degraded', 'faulted', 'unknown']);
    expect(REPLICA_MODES).toEqual(['RW', 'WO', 'ERR']);
  });

  it('default the retention policy to count-based, as Longhorn', () => {
    expect(schemaAt('RecurringJob', 'spec.retentionPolicy').default).toBe('count-based');
  });
});
