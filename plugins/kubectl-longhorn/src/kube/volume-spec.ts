/** `volume create` flags to a Volume object (pure), with Longhorn's rules checked before sending. */
import {
  ACCESS_MODES,
  type AccessMode,
  DATA_LOCALITIES,
  type DataLocality,
  LONGHORN_API_VERSION,
  MAX_REPLICAS,
  MIN_REPLICAS,
  VOLUME_FRONTENDS,
  type Volume,
  type VolumeFrontend,
} from '@longhorn-ts/api';
import { usageError } from '../errors.js';
import { parseSize, roundUpSize } from '../output/format.js';

export interface VolumeCreateInput {
  name: string;
  namespace: string;
  size: string;
  replicas?: number | undefined;
  dataLocality?: string | undefined;
  accessMode?: string | undefined;
  frontend?: string | undefined;
  nodeSelector?: string[] | undefined;
  diskSelector?: string[] | undefined;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function oneOf<T extends string>(
  what: string,
  value: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw usageError(`${what} "${value}" is not one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Bytes for `--size`, rounded up to Longhorn's 2 MiB. */
export function sizeBytes(text: string): number {
  const bytes = parseSize(text);
  if (bytes === undefined)
    throw usageError(`size "${text}" is not a size; write e.g. 10Gi, 512Mi or 1073741824`);
  return roundUpSize(bytes);
}

export function volumeFromFlags(input: VolumeCreateInput): Volume {
  if (!DNS_LABEL.test(input.name)) {
    throw usageError(`volume name "${input.name}" must be lower-case letters, digits and '-', at most 63`);
  }
  const replicas = input.replicas;
  if (replicas !== undefined && (replicas < MIN_REPLICAS || replicas > MAX_REPLICAS)) {
    throw usageError(`--replicas ${replicas} is out of range; use ${MIN_REPLICAS} to ${MAX_REPLICAS}`);
  }
  const dataLocality = oneOf<DataLocality>('--data-locality', input.dataLocality, DATA_LOCALITIES);
  const accessMode = oneOf<AccessMode>('--access-mode', input.accessMode, ACCESS_MODES);
  const frontend = oneOf<VolumeFrontend>('--frontend', input.frontend, VOLUME_FRONTENDS);
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Volume',
    metadata: { name: input.name, namespace: input.namespace },
    spec: {
      size: String(sizeBytes(input.size)),
      ...(replicas !== undefined && { numberOfReplicas: replicas }),
      ...(dataLocality !== undefined && { dataLocality }),
      ...(accessMode !== undefined && { accessMode }),
      frontend: frontend ?? 'blockdev',
      ...(input.nodeSelector?.length && { nodeSelector: input.nodeSelector }),
      ...(input.diskSelector?.length && { diskSelector: input.diskSelector }),
    },
  };
}
