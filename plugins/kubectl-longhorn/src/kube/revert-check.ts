/** When a snapshot revert must be refused (pure): Longhorn reverts only in maintenance mode. */
import type { Volume } from '@longhorn-ts/api';

export function revertRefusal(volume: Volume, snapshot: string): string | undefined {
  const name = volume.metadata.name;
  const state = volume.status?.state ?? '';
  const node = volume.status?.currentNodeID ?? '';
  if (state === 'attached' && volume.status?.frontendDisabled !== true) {
    return (
      `volume ${name} is attached to ${node} with its frontend: a revert would change data under its users. ` +
      `Stop the workload, then: kubectl longhorn volume detach ${name} && ` +
      `kubectl longhorn volume attach ${name} --node ${node || '<node>'} --no-frontend, and revert to ${snapshot} again`
    );
  }
  if (state !== 'attached') {
    return `volume ${name} is ${state || 'not attached'}: attach it without a frontend first (kubectl longhorn volume attach ${name} --node <node> --no-frontend)`;
  }
  return undefined;
}
