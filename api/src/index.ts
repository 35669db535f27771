// @longhorn-ts/api: the longhorn.io/v1beta2 kinds (types, schemas, CRDs), labels, finalizers
// and the Settings registry, as Longhorn has them.
export * from './backup.js';
export * from './backup-target.js';
export * from './backup-volume.js';
export * from './condition.js';
export * from './crds.js';
export * from './cron.js';
export * from './csi-driver.js';
export * from './data-engine.js';
export * from './engine.js';
export * from './finalizers.js';
export * from './group.js';
export * from './instance.js';
export * from './instance-manager.js';
export * from './labels.js';
export * from './node.js';
export * from './object-meta.js';
export * from './recurring-job.js';
export * from './replica.js';
export * from './schema/index.js';
export * from './setting.js';
export * from './settings.js';
export * from './share-manager.js';
export * from './snapshot.js';
export * from './snapshot-revert.js';
export * from './volume.js';
export * from './volume-attachment.js';
