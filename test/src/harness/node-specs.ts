/** One node of the local cluster: a Node object (kubelet played by kwok) plus our processes. */
export interface NodeSpec {
  name: string;
  /** Loopback address our processes on this node bind to (127.0.0.x). */
  address: string;
  zone: string;
  region: string;
  labels?: Record<string, string>;
}

export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const REGION_LABEL = 'topology.kubernetes.io/region';

/**
 * `count` nodes spread round-robin over `zones` zones of one region: node-1..node-N at
 * 127.0.0.11.. (node i at 127.0.0.(10+i)).
 */
export function defaultNodeSpecs(count = 3, zones = Math.min(count, 3)): NodeSpec[] {
  if (count < 1 || count > 200) throw new RangeError(`node count ${count} is outside 1..200`);
  return Array.from({ length: count }, (_, i) => ({
    name: `node-${i + 1}`,
    address: `127.0.0.${11 + i}`,
    zone: `zone-${String.fromCharCode(97 + (i % zones))}`,
    region: 'region-1',
  }));
}

/** The Node object kwok will manage: labels for topology, status addresses for our processes. */
export function nodeManifest(spec: NodeSpec): object {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name: spec.name,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: {
        'kubernetes.io/hostname': spec.name,
        'kubernetes.io/os': 'linux',
        'kubernetes.io/arch': 'amd64',
        type: 'kwok',
        [ZONE_LABEL]: spec.zone,
        [REGION_LABEL]: spec.region,
        ...spec.labels,
      },
    },
    spec: {},
    status: {
      addresses: [
        { type: 'InternalIP', address: spec.address },
        { type: 'Hostname', address: spec.name },
      ],
      allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
      capacity: { cpu: '32', memory: '256Gi', pods: '110' },
    },
  };
}
