/**
 * RecurringJob rules (longhorn-manager webhook/resources/recurringjob and
 * datastore.ValidateRecurringJob): cron syntax, task and retention policy enums, retain within
 * the setting recurring-job-max-retention (100 by default), concurrency at least 1, the
 * parameters backup tasks take.
 */
import {
  RECURRING_JOB_RETENTION_POLICIES,
  RECURRING_JOB_TASKS,
  type RecurringJob,
  type RecurringJobTask,
  validateCron,
} from '@longhorn-ts/api';
import { enumProblem, GO_DURATION, listOf, type Rule } from './rules.js';

/** Longhorn's longest job name. */
export const MAX_JOB_NAME_LENGTH = 40;

/** Tasks that remove things rather than keep them: a retain count means nothing to them. */
const CLEANUP_TASKS: readonly RecurringJobTask[] = ['snapshot-cleanup', 'snapshot-delete', 'filesystem-trim'];
const BACKUP_TASKS: readonly RecurringJobTask[] = ['backup', 'backup-force-create'];
const VOLUME_BACKUP_POLICIES = ['always', 'if-not-present', 'disabled'];
const GROUP_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

const required: Rule<RecurringJob> = ({ object: { spec } }) => {
  if (!spec.task) return `spec.task is missing; set one of ${listOf(RECURRING_JOB_TASKS)}`;
  if (!spec.cron) return 'spec.cron is missing; set a schedule such as "0 2 * * *" (02:00 every day)';
  return undefined;
};

const enums: Rule<RecurringJob> = ({ object: { spec } }) =>
  enumProblem('spec.task', spec.task, RECURRING_JOB_TASKS) ??
  enumProblem('spec.retentionPolicy', spec.retentionPolicy, RECURRING_JOB_RETENTION_POLICIES);

const cron: Rule<RecurringJob> = ({ object: { spec } }) => {
  if (typeof spec.cron !== 'string') return undefined;
  const check = validateCron(spec.cron);
  return check.ok ? undefined : `spec.cron: ${check.error}`;
};

const names: Rule<RecurringJob> = ({ object: { spec } }) => {
  if (spec.name !== undefined && spec.name.length > MAX_JOB_NAME_LENGTH) {
    return `spec.name is ${spec.name.length} characters long; use at most ${MAX_JOB_NAME_LENGTH}`;
  }
  for (const group of spec.groups ?? []) {
    if (!GROUP_NAME.test(group)) {
      return `spec.groups: "${group}" is not a valid group name; use letters, digits, "-", "_" and "."`;
    }
  }
  return undefined;
};

const retention: Rule<RecurringJob> = ({ object: { spec }, ctx }) => {
  const retain = spec.retain ?? 0;
  const max = ctx.setting('recurring-job-max-retention');
  if (retain > max) {
    return `spec.retain ${retain} is more than the ${max} the setting recurring-job-max-retention allows; keep at most ${max}`;
  }
  if (retain < 0) return `spec.retain ${retain} is negative; keep at least 1`;
  if (spec.retainAge !== undefined && spec.retainAge !== '') {
    if (!GO_DURATION.test(spec.retainAge)) {
      return `spec.retainAge "${spec.retainAge}" is not a duration; write e.g. "168h" (a week)`;
    }
    if (spec.retainAge.startsWith('-'))
      return `spec.retainAge "${spec.retainAge}" is negative; write e.g. "168h"`;
  }
  const task = spec.task as RecurringJobTask;
  const cleanup = CLEANUP_TASKS.includes(task);
  const policy = spec.retentionPolicy ?? 'count-based';
  if (policy === 'count-based' && !cleanup && retain <= 0) {
    return `spec.retain must be at least 1 for task ${task} (count-based retention); set how many to keep, e.g. 7`;
  }
  if (policy === 'age-based' && cleanup) {
    return `spec.retentionPolicy age-based does not apply to task ${task}; use count-based`;
  }
  return undefined;
};

const concurrency: Rule<RecurringJob> = ({ object: { spec } }) => {
  if (spec.concurrency === undefined || spec.concurrency >= 1) return undefined;
  return `spec.concurrency ${spec.concurrency} would run no volume at a time; set it to 1 or more`;
};

const parameters: Rule<RecurringJob> = ({ object: { spec } }) => {
  const task = spec.task as RecurringJobTask;
  if (!BACKUP_TASKS.includes(task)) return undefined;
  for (const [key, value] of Object.entries(spec.parameters ?? {})) {
    if (key === 'full-backup-interval') {
      if (!/^-?\d+$/.test(value)) {
        return `spec.parameters.full-backup-interval "${value}" is not a number; write how many incremental backups between full ones, e.g. "5"`;
      }
    } else if (key === 'volume-backup-policy') {
      if (!VOLUME_BACKUP_POLICIES.includes(value)) {
        return `spec.parameters.volume-backup-policy "${value}" is not valid; use ${listOf(VOLUME_BACKUP_POLICIES)}`;
      }
    } else {
      return `spec.parameters.${key} is not a parameter of task ${task}; use full-backup-interval or volume-backup-policy`;
    }
  }
  return undefined;
};

export const RECURRING_JOB_RULES: readonly Rule<RecurringJob>[] = [
  required,
  enums,
  cron,
  names,
  retention,
  concurrency,
  parameters,
];
