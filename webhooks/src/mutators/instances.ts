/**
 * Engine and Replica: the finalizer, data engine v1, empty address maps on engines, and the
 * labels selectors find them by (longhornvolume, and longhornnode / longhorndiskuuid once placed).
 */
import {
  type Engine,
  LABEL_DISK_UUID,
  LABEL_NODE,
  LABEL_VOLUME,
  type Replica,
  withLonghornFinalizer,
} from '@longhorn-ts/api';
import { fillDefault, type MutatorInput, setLabels } from './mutator.js';

function instanceLabels(
  spec: { volumeName?: string; nodeID?: string },
  diskID?: string,
): Record<string, string> {
  return {
    ...(spec.volumeName && { [LABEL_VOLUME]: spec.volumeName }),
    ...(spec.nodeID && { [LABEL_NODE]: spec.nodeID }),
    ...(diskID && { [LABEL_DISK_UUID]: diskID }),
  };
}

export function mutateEngine({ object }: MutatorInput<Engine>): string[] {
  object.spec ??= {};
  const spec = object.spec;
  spec.replicaAddressMap ??= {};
  spec.upgradedReplicaAddressMap ??= {};
  fillDefault(spec, 'dataEngine', 'v1');
  setLabels(object.metadata, instanceLabels(spec));
  object.metadata.finalizers = withLonghornFinalizer(object.metadata.finalizers);
  return [];
}

export function mutateReplica({ object }: MutatorInput<Replica>): string[] {
  object.spec ??= {};
  const spec = object.spec;
  fillDefault(spec, 'dataEngine', 'v1');
  setLabels(object.metadata, instanceLabels(spec, spec.diskID));
  object.metadata.finalizers = withLonghornFinalizer(object.metadata.finalizers);
  return [];
}
