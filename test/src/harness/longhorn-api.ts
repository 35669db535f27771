import { CRDS_YAML_PATH, longhornCrds, NAMESPACE } from '@longhorn-ts/api';
import type { Kubectl } from './kubectl.js';

/** The names of longhorn-ts's CRDs (`volumes.longhorn.io`, ...). */
export function longhornCrdNames(): string[] {
  return longhornCrds().map((crd) => crd.metadata.name);
}

/**
 * Creates the namespace longhorn-system and applies the generated CRDs
 * (api/crds/longhorn-ts-crds.yaml), then waits until every one is Established.
 */
export async function installLonghornApi(kubectl: Kubectl, timeoutMs = 60_000): Promise<void> {
  await kubectl.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
  await kubectl.applyFile(CRDS_YAML_PATH);
  await kubectl.waitForCondition(
    longhornCrdNames().map((name) => `crd/${name}`),
    'Established',
    { timeoutMs },
  );
}
