/** Longhorn's condition shape, shared by every kind that reports conditions. */
import { arr, enumOf, obj, str } from './schema/builders.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export const CONDITION_STATUSES = ['True', 'False', 'Unknown'] as const;
export type ConditionStatus = (typeof CONDITION_STATUSES)[number];

/**
 * Longhorn's condition (not metav1.Condition): it has `lastProbeTime` and no
 * `observedGeneration`. Longhorn leaves every field optional; `type` and `status` are required
 * here because a condition without them says nothing.
 */
export interface Condition {
  type: string;
  status: ConditionStatus;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  /** One CamelCase word: why the condition last changed. */
  reason?: string;
  /** What a person should know, including what to do about it. */
  message?: string;
}

export const conditionSchema = obj(
  {
    type: str(),
    status: enumOf(CONDITION_STATUSES),
    lastProbeTime: str(),
    lastTransitionTime: str(),
    reason: str(),
    message: str(),
  },
  { required: ['type', 'status'] },
);

/** A list of conditions; Longhorn marks these lists nullable. */
export const conditionsSchema = arr(conditionSchema, { nullable: true });

type _ConditionCheck = Expect<SameShape<Condition, Infer<typeof conditionSchema>>>;
