/**
 * Every command, by oclif id (`volume:list` is `kubectl longhorn volume list`): oclif's explicit
 * command discovery reads this table, so no directory is scanned at start.
 */
import BackupCreate from './commands/backup/create.js';
import BackupDelete from './commands/backup/delete.js';
import BackupGet from './commands/backup/get.js';
import BackupList from './commands/backup/list.js';
import BackupRestore from './commands/backup/restore.js';
import BackupTargetGet from './commands/backup-target/get.js';
import BackupTargetSet from './commands/backup-target/set.js';
import Doctor from './commands/doctor.js';
import NodeDiskAdd from './commands/node/disk/add.js';
import NodeDiskRemove from './commands/node/disk/remove.js';
import NodeEvict from './commands/node/evict.js';
import NodeList from './commands/node/list.js';
import NodeScheduling from './commands/node/scheduling.js';
import SettingGet from './commands/setting/get.js';
import SettingList from './commands/setting/list.js';
import SettingSet from './commands/setting/set.js';
import SnapshotCreate from './commands/snapshot/create.js';
import SnapshotDelete from './commands/snapshot/delete.js';
import SnapshotList from './commands/snapshot/list.js';
import SnapshotPurge from './commands/snapshot/purge.js';
import SnapshotRevert from './commands/snapshot/revert.js';
import SupportBundle from './commands/support-bundle.js';
import VolumeAttach from './commands/volume/attach.js';
import VolumeCreate from './commands/volume/create.js';
import VolumeDelete from './commands/volume/delete.js';
import VolumeDetach from './commands/volume/detach.js';
import VolumeExpand from './commands/volume/expand.js';
import VolumeGet from './commands/volume/get.js';
import VolumeList from './commands/volume/list.js';
import VolumeReplicaRemove from './commands/volume/replica/remove.js';
import VolumeRotateKey from './commands/volume/rotate-key.js';
import VolumeSalvage from './commands/volume/salvage.js';

export const COMMANDS = {
  'volume:list': VolumeList,
  'volume:get': VolumeGet,
  'volume:create': VolumeCreate,
  'volume:delete': VolumeDelete,
  'volume:attach': VolumeAttach,
  'volume:detach': VolumeDetach,
  'volume:expand': VolumeExpand,
  'volume:salvage': VolumeSalvage,
  'volume:rotate-key': VolumeRotateKey,
  'volume:replica:remove': VolumeReplicaRemove,
  'snapshot:create': SnapshotCreate,
  'snapshot:list': SnapshotList,
  'snapshot:delete': SnapshotDelete,
  'snapshot:revert': SnapshotRevert,
  'snapshot:purge': SnapshotPurge,
  'backup:create': BackupCreate,
  'backup:list': BackupList,
  'backup:get': BackupGet,
  'backup:restore': BackupRestore,
  'backup:delete': BackupDelete,
  'backup-target:get': BackupTargetGet,
  'backup-target:set': BackupTargetSet,
  'node:list': NodeList,
  'node:scheduling': NodeScheduling,
  'node:evict': NodeEvict,
  'node:disk:add': NodeDiskAdd,
  'node:disk:remove': NodeDiskRemove,
  'setting:list': SettingList,
  'setting:get': SettingGet,
  'setting:set': SettingSet,
  doctor: Doctor,
  'support-bundle': SupportBundle,
};
