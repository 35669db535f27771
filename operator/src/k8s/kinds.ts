/** The custom resource coordinates of the kinds the controllers read and write. */

import { API_GROUP, API_VERSION } from '@longhorn-ts/api';
import type { CustomResourceType } from '../runtime/informer.js';

export type KindType = CustomResourceType & { kind: string };

const kind = (k: string, plural: string): KindType => ({
  kind: k,
  plural,
  group: API_GROUP,
  version: API_VERSION,
});

export const KINDS = {
  volume: kind('Volume', 'volumes'),
  engine: kind('Engine', 'engines'),
  replica: kind('Replica', 'replicas'),
  node: kind('Node', 'nodes'),
  snapshot: kind('Snapshot', 'snapshots'),
  setting: kind('Setting', 'settings'),
  volumeAttachment: kind('VolumeAttachment', 'volumeattachments'),
  instanceManager: kind('InstanceManager', 'instancemanagers'),
  backupTarget: kind('BackupTarget', 'backuptargets'),
  backupVolume: kind('BackupVolume', 'backupvolumes'),
  backup: kind('Backup', 'backups'),
} as const;
