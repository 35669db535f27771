/** The mutator table: kind -> edit of a clone (the dispatcher diffs it into a JSON patch). */
import { type KindKey, longhornKind } from '../kinds.js';
import { mutateEngine, mutateReplica } from './instances.js';
import type { Mutator } from './mutator.js';
import { mutateNode, mutateRecurringJob, mutateSnapshot, mutateVolumeAttachment } from './others.js';
import { mutateVolume } from './volume.js';

export const MUTATORS: ReadonlyMap<KindKey, Mutator<never>> = new Map<KindKey, Mutator<never>>([
  [longhornKind('Volume'), mutateVolume as Mutator<never>],
  [longhornKind('Engine'), mutateEngine as Mutator<never>],
  [longhornKind('Replica'), mutateReplica as Mutator<never>],
  [longhornKind('Node'), mutateNode as Mutator<never>],
  [longhornKind('Snapshot'), mutateSnapshot as Mutator<never>],
  [longhornKind('RecurringJob'), mutateRecurringJob as Mutator<never>],
  [longhornKind('VolumeAttachment'), mutateVolumeAttachment as Mutator<never>],
]);
