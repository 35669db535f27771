import type { AccessMode } from '@longhorn-ts/api';
import type { AccessModeName, VolumeCapability } from '../csi-types.js';
import { isFilesystem } from '../node/filesystems.js';

/** Access modes served now; multi-node (RWX) comes with the share manager. */
const SINGLE_NODE_MODES: ReadonlySet<AccessModeName> = new Set([
  'SINGLE_NODE_WRITER',
  'SINGLE_NODE_READER_ONLY',
  'SINGLE_NODE_SINGLE_WRITER',
  'SINGLE_NODE_MULTI_WRITER',
]);

/** Why a capability cannot be served, or undefined when it can. */
export function capabilityProblem(cap: VolumeCapability | null | undefined): string | undefined {
  if (!cap) return 'a volume capability is empty';
  const mode = cap.accessMode?.mode;
  if (!mode || mode === 'UNKNOWN') return 'volume capability access mode is missing';
  if (!SINGLE_NODE_MODES.has(mode)) {
    return `access mode ${mode} is not supported: multi-node access (RWX) needs the share manager, which longhorn-ts does not have yet`;
  }
  if (cap.accessType === 'block') return undefined;
  if (cap.accessType !== 'mount') return 'volume capability access type (mount or block) is missing';
  const fsType = cap.mount?.fsType ?? '';
  if (fsType !== '' && !isFilesystem(fsType)) return `file system ${fsType} is not supported (ext4, xfs)`;
  return undefined;
}

/** The first problem among `caps`, if any. */
export function capabilitiesProblem(caps: readonly (VolumeCapability | null)[]): string | undefined {
  for (const cap of caps) {
    const problem = capabilityProblem(cap);
    if (problem) return problem;
  }
  return undefined;
}

/** The Volume spec.accessMode for the requested capabilities (rwop for single-node-single-writer). */
export function volumeAccessMode(caps: readonly VolumeCapability[]): AccessMode {
  return caps.length > 0 && caps.every((c) => c.accessMode?.mode === 'SINGLE_NODE_SINGLE_WRITER')
    ? 'rwop'
    : 'rwo';
}
