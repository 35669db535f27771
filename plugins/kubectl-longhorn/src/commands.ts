/**
 * Every command, by oclif id (`volume:list` is `kubectl longhorn volume list`): oclif's explicit
 * command discovery reads this table, so no directory is scanned at start.
 */
import VolumeAttach from './commands/volume/attach.js';
import VolumeCreate from './commands/volume/create.js';
import VolumeDelete from './commands/volume/delete.js';
import VolumeDetach from './commands/volume/detach.js';
import VolumeExpand from './commands/volume/expand.js';
import VolumeGet from './commands/volume/get.js';
import VolumeList from './commands/volume/list.js';
import VolumeReplicaRemove from './commands/volume/replica/remove.js';

export const COMMANDS = {
  'volume:list': VolumeList,
  'volume:get': VolumeGet,
  'volume:create': VolumeCreate,
  'volume:delete': VolumeDelete,
  'volume:attach': VolumeAttach,
  'volume:detach': VolumeDetach,
  'volume:expand': VolumeExpand,
  'volume:replica:remove': VolumeReplicaRemove,
};
