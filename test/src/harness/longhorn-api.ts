import { CRDS_YAML_PATH, LONGHORN_API_VERSION, longhornCrds, NAMESPACE } from '@longhorn-ts/api';
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
  await kubectl.apply(LOCAL_SETTINGS.map(([name, value]) => localSetting(name, value)));
}

/**
 * Settings where the local mode differs from Longhorn's defaults. Every simulated node's disk is
 * a directory on the one host file system, which the build caches and other tests also fill:
 * with Longhorn's 25 % floor a host disk a little fuller than three quarters would take no
 * replica at all, and every volume would fail to schedule for a reason that has nothing to do
 * with it. Applied before the operators start, so they keep them (they only add missing ones).
 */
const LOCAL_SETTINGS: [string, string][] = [['storage-minimal-available-percentage', '5']];

function localSetting(name: string, value: string): object {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Setting',
    metadata: { name, namespace: NAMESPACE },
    value,
  };
}
