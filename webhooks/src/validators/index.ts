/**
 * The validator table: kind -> (request, context) -> verdict. Each entry runs its rules in
 * order; the first message denies. Warnings come with allowed requests too.
 */
import type { AdmissionContext } from '../admission/context.js';
import type { AdmissionRequest, KubeObject } from '../admission/review.js';
import { allow, deny, type Verdict } from '../admission/verdict.js';
import { type KindKey, longhornKind, PVC_KIND } from '../kinds.js';
import { BACKUP_TARGET_RULES } from './backup-target.js';
import { NODE_RULES, nodeWarnings } from './node.js';
import { PVC_RULES } from './pvc.js';
import { RECURRING_JOB_RULES } from './recurring-job.js';
import { firstDenial, type Rule, type RuleInput } from './rules.js';
import { SETTING_RULES } from './setting.js';
import { SNAPSHOT_RULES } from './snapshot.js';
import { VOLUME_CREATE_RULES, VOLUME_UPDATE_RULES, volumeWarnings } from './volume.js';

export type Validator = (request: AdmissionRequest, ctx: AdmissionContext) => Verdict;

interface RuleSet<T> {
  create: readonly Rule<T>[];
  update: readonly Rule<T>[];
  warnings?: (input: RuleInput<T>) => string[];
  /** The object has a spec (every kind but Setting). */
  hasSpec?: boolean;
}

function ruleValidator<T>(set: RuleSet<T>): Validator {
  return (request, ctx) => {
    const object = request.object as KubeObject;
    const name = object.metadata?.name;
    if (typeof object.metadata !== 'object' || object.metadata === null || typeof name !== 'string') {
      return deny('metadata.name is missing; every object needs a name');
    }
    if (
      set.hasSpec !== false &&
      (typeof object.spec !== 'object' || object.spec === null || Array.isArray(object.spec))
    ) {
      return deny(`${request.kind.kind} ${name} has no spec object; add spec: {...}`);
    }
    const input: RuleInput<T> = {
      operation: request.operation,
      object: object as T,
      old: request.oldObject as T | undefined,
      ctx,
    };
    const rules = request.operation === 'CREATE' ? set.create : set.update;
    const message = firstDenial(rules, input);
    const warnings = set.warnings?.(input) ?? [];
    return message === undefined ? allow(warnings) : deny(message, 400, warnings);
  };
}

function same<T>(
  rules: readonly Rule<T>[],
  warnings?: (input: RuleInput<T>) => string[],
  hasSpec = true,
): RuleSet<T> {
  return { create: rules, update: rules, ...(warnings && { warnings }), hasSpec };
}

export const VALIDATORS: ReadonlyMap<KindKey, Validator> = new Map([
  [
    longhornKind('Volume'),
    ruleValidator({ create: VOLUME_CREATE_RULES, update: VOLUME_UPDATE_RULES, warnings: volumeWarnings }),
  ],
  [longhornKind('Node'), ruleValidator(same(NODE_RULES, nodeWarnings))],
  [longhornKind('Setting'), ruleValidator(same(SETTING_RULES, undefined, false))],
  [longhornKind('RecurringJob'), ruleValidator(same(RECURRING_JOB_RULES))],
  [longhornKind('Snapshot'), ruleValidator(same(SNAPSHOT_RULES))],
  [longhornKind('BackupTarget'), ruleValidator(same(BACKUP_TARGET_RULES))],
  [PVC_KIND, ruleValidator({ create: [], update: PVC_RULES })],
]);
