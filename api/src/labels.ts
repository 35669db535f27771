/**
 * Label and annotation keys as Longhorn writes them, so selectors written for Longhorn
 * (`kubectl get lhr -l longhornvolume=pvc-...`) work here too.
 */

/** Prefix of Longhorn's namespaced label keys: `longhorn.io/<name>`. */
export const LONGHORN_LABEL_PREFIX = 'longhorn.io';

export function longhornLabelKey(name: string): string {
  return `${LONGHORN_LABEL_PREFIX}/${name}`;
}

/** On Replica, Engine and Snapshot objects: the volume they belong to (no prefix, as Longhorn has it). */
export const LABEL_VOLUME = 'longhornvolume';
/** On Replica and Engine objects: the node of their instance. */
export const LABEL_NODE = 'longhornnode';
/** On Replica objects: the UUID of the disk holding the data. */
export const LABEL_DISK_UUID = 'longhorndiskuuid';
export const LABEL_ENGINE = 'longhornengine';
export const LABEL_REPLICA = 'longhornreplica';
export const LABEL_INSTANCE_MANAGER = 'longhorninstancemanager';

/** Longhorn's newer, prefixed node and disk keys (instance managers, backing image managers). */
export const LABEL_LONGHORN_NODE = longhornLabelKey('node');
export const LABEL_LONGHORN_DISK_UUID = longhornLabelKey('disk-uuid');

/** What a system-managed object is: `instance-manager`, `share-manager`, ... */
export const LABEL_COMPONENT = longhornLabelKey('component');
export const LABEL_MANAGED_BY = longhornLabelKey('managed-by');
export const LABEL_INSTANCE_MANAGER_TYPE = longhornLabelKey('instance-manager-type');
export const LABEL_DATA_ENGINE = longhornLabelKey('data-engine');
export const LABEL_BACKUP_TARGET = longhornLabelKey('backup-target');
export const LABEL_BACKUP_VOLUME = 'backup-volume';
export const LABEL_SHARE_MANAGER = longhornLabelKey('share-manager');

export const COMPONENT_INSTANCE_MANAGER = 'instance-manager';
export const COMPONENT_SHARE_MANAGER = 'share-manager';
export const COMPONENT_ENGINE_IMAGE = 'engine-image';

/** Longhorn's value of `longhorn.io/managed-by` for what its manager creates. */
export const MANAGED_BY_MANAGER = 'longhorn-manager';

/** On a Kubernetes Node: create the default disk only there (setting create-default-disk-labeled-nodes). */
export const NODE_CREATE_DEFAULT_DISK_LABEL = 'node.longhorn.io/create-default-disk';
/** Values: `true` (a disk at default-data-path) or `config` (disks from the annotation below). */
export const NODE_CREATE_DEFAULT_DISK_VALUES = ['true', 'config'] as const;
/** On a Kubernetes Node: JSON list of default disks. */
export const NODE_DEFAULT_DISKS_CONFIG_ANNOTATION = 'node.longhorn.io/default-disks-config';
/** On a Kubernetes Node: JSON list of default node tags. */
export const NODE_DEFAULT_NODE_TAGS_ANNOTATION = 'node.longhorn.io/default-node-tags';

/** Where Node `status.zone` and `status.region` come from. */
export const TOPOLOGY_ZONE_LABEL = 'topology.kubernetes.io/zone';
export const TOPOLOGY_REGION_LABEL = 'topology.kubernetes.io/region';

/** Value of a recurring-job label on a volume. */
export const RECURRING_JOB_LABEL_ENABLED = 'enabled';

/**
 * The label that puts a volume in a recurring job (`recurring-job.longhorn.io/<job>`) or a job
 * group (`recurring-job-group.longhorn.io/<group>`), value `enabled`.
 */
export function recurringJobLabelKey(name: string, isGroup: boolean): string {
  return `recurring-job${isGroup ? '-group' : ''}.longhorn.io/${name}`;
}

/** `setting.longhorn.io/<setting>` on a volume: a per-volume value for a setting. */
export function volumeSettingLabelKey(settingName: string): string {
  return `setting.longhorn.io/${settingName}`;
}

/** Labels of a volume's Engine. */
export function engineLabels(volumeName: string, nodeID: string): Record<string, string> {
  return { [LABEL_VOLUME]: volumeName, [LABEL_NODE]: nodeID };
}

/** Labels of a volume's Replica. */
export function replicaLabels(volumeName: string, nodeID: string, diskUUID: string): Record<string, string> {
  return { [LABEL_VOLUME]: volumeName, [LABEL_NODE]: nodeID, [LABEL_DISK_UUID]: diskUUID };
}

/** Labels of an InstanceManager of a node. */
export function instanceManagerLabels(nodeID: string, dataEngine: string): Record<string, string> {
  return {
    [LABEL_COMPONENT]: COMPONENT_INSTANCE_MANAGER,
    [LABEL_INSTANCE_MANAGER_TYPE]: 'aio',
    [LABEL_LONGHORN_NODE]: nodeID,
    [LABEL_DATA_ENGINE]: dataEngine,
    [LABEL_MANAGED_BY]: MANAGED_BY_MANAGER,
  };
}
