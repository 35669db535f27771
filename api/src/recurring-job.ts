/** RecurringJob (lhrj): snapshots, backups and trims on a cron schedule. Schema now, controller later. */
import type { LonghornResource } from './object-meta.js';
import { arr, enumOf, int, map, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer, Schema } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const RECURRING_JOB_TASKS = [
  'snapshot',
  'snapshot-force-create',
  'snapshot-cleanup',
  'snapshot-delete',
  'backup',
  'backup-force-create',
  'filesystem-trim',
  'system-backup',
] as const;
export type RecurringJobTask = (typeof RECURRING_JOB_TASKS)[number];

export const RECURRING_JOB_RETENTION_POLICIES = ['count-based', 'age-based'] as const;
export type RecurringJobRetentionPolicy = (typeof RECURRING_JOB_RETENTION_POLICIES)[number];

/** A volume without any job label is in this group. */
export const DEFAULT_RECURRING_JOB_GROUP = 'default';

export interface RecurringJobSpec {
  name?: string;
  groups?: string[];
  task?: RecurringJobTask;
  /** Five-field cron expression, e.g. `0 2 * * *` (02:00 every day). */
  cron?: string;
  /** How many snapshots/backups to keep (count-based retention). */
  retain?: number;
  /** Go duration such as `24h`: older snapshots/backups are removed (age-based retention). */
  retainAge?: string;
  retentionPolicy?: RecurringJobRetentionPolicy;
  /** How many volumes the job works on at once. */
  concurrency?: number;
  labels?: Record<string, string>;
  /** e.g. `full-backup-interval`, `volume-backup-policy`. */
  parameters?: Record<string, string>;
}

export interface RecurringJobStatus {
  ownerID?: string;
  executionCount?: number;
}

export type RecurringJob = LonghornResource<'RecurringJob', RecurringJobSpec, RecurringJobStatus>;

const retainAge: Schema<string> = {
  ...str(),
  'x-kubernetes-validations': [
    { rule: "!self.startsWith('-')", message: 'retainAge must be a positive duration' },
  ],
};

const recurringJobSpec = obj({
  name: str(),
  groups: arr(str()),
  task: enumOf(RECURRING_JOB_TASKS),
  cron: str(),
  retain: int({ min: 0 }),
  retainAge,
  retentionPolicy: enumOf(RECURRING_JOB_RETENTION_POLICIES, { default: 'count-based' }),
  concurrency: int({ min: 0 }),
  labels: map(str()),
  parameters: map(str()),
});

const recurringJobStatus = obj({ ownerID: str(), executionCount: int() });

type _SpecCheck = Expect<SameShape<RecurringJobSpec, Infer<typeof recurringJobSpec>>>;
type _StatusCheck = Expect<SameShape<RecurringJobStatus, Infer<typeof recurringJobStatus>>>;

export const recurringJobResource: ResourceDefinition = {
  kind: 'RecurringJob',
  plural: 'recurringjobs',
  shortNames: ['lhrj'],
  description: 'A snapshot, backup or trim task run on a cron schedule for the volumes of its groups.',
  properties: { spec: recurringJobSpec, status: recurringJobStatus },
  printerColumns: [
    { name: 'Groups', type: 'string', jsonPath: '.spec.groups', description: 'The groups of the job' },
    { name: 'Task', type: 'string', jsonPath: '.spec.task', description: 'What the job does' },
    { name: 'Cron', type: 'string', jsonPath: '.spec.cron', description: 'When the job runs' },
    {
      name: 'RetentionPolicy',
      type: 'string',
      jsonPath: '.spec.retentionPolicy',
      description: 'Keep snapshots/backups by count or by age',
    },
    {
      name: 'RetainCount',
      type: 'integer',
      jsonPath: '.spec.retain',
      description: 'How many snapshots/backups to keep per volume',
    },
    {
      name: 'RetainAge',
      type: 'string',
      jsonPath: '.spec.retainAge',
      description: 'Snapshots/backups older than this go (age-based policy)',
    },
    {
      name: 'Concurrency',
      type: 'integer',
      jsonPath: '.spec.concurrency',
      description: 'How many volumes the job works on at once',
    },
    AGE_COLUMN,
    {
      name: 'Labels',
      type: 'string',
      jsonPath: '.spec.labels',
      description: 'Labels put on what the job makes',
    },
  ],
};
