/** The kinds the webhooks judge, keyed `group/Kind` (`core` for the core group). */
import { API_GROUP } from '@longhorn-ts/api';
import type { GroupVersionKind } from './admission/review.js';

export type KindKey = string;

export function kindKey(kind: Pick<GroupVersionKind, 'group' | 'kind'>): KindKey {
  return `${kind.group || 'core'}/${kind.kind}`;
}

export function longhornKind(kind: string): KindKey {
  return `${API_GROUP}/${kind}`;
}

export const PVC_KIND: KindKey = 'core/PersistentVolumeClaim';
