/** Every longhorn.io plural the CRDs define (the support bundle takes all of them, even unused ones). */
export const ALL_LONGHORN_PLURALS = [
  'volumes',
  'engines',
  'replicas',
  'snapshots',
  'nodes',
  'settings',
  'volumeattachments',
  'instancemanagers',
  'backups',
  'backuptargets',
  'backupvolumes',
  'recurringjobs',
  'sharemanagers',
] as const;
