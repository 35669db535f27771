/** Snapshot rules (longhorn-manager webhook/resources/snapshot): a volume, and the same one for good. */
import { LABEL_VOLUME, type Snapshot } from '@longhorn-ts/api';
import { type Rule, sameJson } from './rules.js';

const hasVolume: Rule<Snapshot> = ({ object: { spec } }) =>
  typeof spec.volume === 'string' && spec.volume !== ''
    ? undefined
    : 'spec.volume is missing; name the volume to snapshot';

const volumeFixed: Rule<Snapshot> = ({ object, old }) => {
  if (!old) return undefined;
  if (object.spec.volume !== old.spec.volume) {
    return `spec.volume cannot change (was ${old.spec.volume}, now ${object.spec.volume}); set it back, or create a new Snapshot of ${object.spec.volume}`;
  }
  const oldLabel = old.metadata.labels?.[LABEL_VOLUME];
  if (oldLabel !== undefined && object.metadata.labels?.[LABEL_VOLUME] !== oldLabel) {
    return `label ${LABEL_VOLUME} cannot change (was ${oldLabel}); set it back to ${oldLabel}`;
  }
  const oldOwners = old.metadata.ownerReferences ?? [];
  if (oldOwners.length > 0 && !sameJson(oldOwners, object.metadata.ownerReferences)) {
    return 'metadata.ownerReferences of a Snapshot cannot change once set; set them back';
  }
  return undefined;
};

export const SNAPSHOT_RULES: readonly Rule<Snapshot>[] = [hasVolume, volumeFixed];
