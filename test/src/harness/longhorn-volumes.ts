import {
  attachmentTicketId,
  type Condition,
  type Engine,
  NAMESPACE,
  type Replica,
  type Snapshot,
  type Volume,
  type VolumeAttachment,
} from '@longhorn-ts/api';
import type { Kubectl } from './kubectl.js';
import { waitFor } from './wait.js';

/**
 * Longhorn objects as a user handles them with kubectl: Volumes applied as YAML, attached and
 * detached through VolumeAttachment tickets, watched until the operator reports a state. Shared by
 * the e2e suites and the README's tour. Resources are fully qualified (`volumeattachments` alone
 * would be storage.k8s.io's).
 */
export const LH = {
  volumes: 'volumes.longhorn.io',
  engines: 'engines.longhorn.io',
  replicas: 'replicas.longhorn.io',
  snapshots: 'snapshots.longhorn.io',
  attachments: 'volumeattachments.longhorn.io',
  nodes: 'nodes.longhorn.io',
  settings: 'settings.longhorn.io',
  instanceManagers: 'instancemanagers.longhorn.io',
  backupTargets: 'backuptargets.longhorn.io',
  backupVolumes: 'backupvolumes.longhorn.io',
  backups: 'backups.longhorn.io',
} as const;

export interface VolumeYamlOptions {
  size: string;
  numberOfReplicas?: number;
  /** Extra spec lines, already YAML (`key: value`), e.g. `replicaSoftAntiAffinity: disabled`. */
  extra?: Record<string, string | number | boolean>;
  /** metadata.annotations, e.g. the crypto Secret of an encrypted volume. */
  annotations?: Record<string, string>;
}

/** A Volume as a Longhorn user writes it (apiVersion longhorn.io/v1beta2, size in bytes). */
export function volumeYaml(name: string, options: VolumeYamlOptions): string {
  const extra = Object.entries(options.extra ?? {}).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return [
    'apiVersion: longhorn.io/v1beta2',
    'kind: Volume',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${NAMESPACE}`,
    ...(options.annotations
      ? [
          '  annotations:',
          ...Object.entries(options.annotations).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`),
        ]
      : []),
    'spec:',
    `  size: "${options.size}"`,
    `  numberOfReplicas: ${options.numberOfReplicas ?? 3}`,
    '  frontend: blockdev',
    '  dataLocality: disabled',
    '  accessMode: rwo',
    ...extra,
    '',
  ].join('\n');
}

/** The id of the Longhorn API's ticket for a volume (`longhorn-api-<volume>`). */
export function apiTicketId(volume: string): string {
  return attachmentTicketId('longhorn-api', volume);
}

/** A VolumeAttachment holding the Longhorn API's ticket for `volume` on `nodeID`. */
export function apiTicketYaml(volume: string, nodeID: string): string {
  const id = apiTicketId(volume);
  return [
    'apiVersion: longhorn.io/v1beta2',
    'kind: VolumeAttachment',
    'metadata:',
    `  name: ${volume}`,
    `  namespace: ${NAMESPACE}`,
    'spec:',
    `  volume: ${volume}`,
    '  attachmentTickets:',
    `    ${id}:`,
    `      id: ${id}`,
    '      type: longhorn-api',
    `      nodeID: ${nodeID}`,
    '      parameters:',
    '        disableFrontend: "false"',
    '',
  ].join('\n');
}

/** A Snapshot the operator is asked to take. */
export function snapshotYaml(name: string, volume: string): string {
  return [
    'apiVersion: longhorn.io/v1beta2',
    'kind: Snapshot',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${NAMESPACE}`,
    'spec:',
    `  volume: ${volume}`,
    '  createSnapshot: true',
    '',
  ].join('\n');
}

/** `kubectl apply -f -` of YAML text (one object, sent as it is). */
export function applyYaml(kubectl: Kubectl, yaml: string): Promise<string> {
  return kubectl.run(['apply', '-f', '-'], { input: yaml });
}

/** Attaches `volume` to `nodeID` with a longhorn-api ticket; returns the ticket id. */
export async function attachByTicket(kubectl: Kubectl, volume: string, nodeID: string): Promise<string> {
  await applyYaml(kubectl, apiTicketYaml(volume, nodeID));
  return apiTicketId(volume);
}

/** Removes a ticket from the volume's VolumeAttachment (a JSON merge patch with null). */
export async function removeTicket(kubectl: Kubectl, volume: string, ticketId: string): Promise<void> {
  await kubectl.run([
    'patch',
    LH.attachments,
    volume,
    '-n',
    NAMESPACE,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { attachmentTickets: { [ticketId]: null } } }),
  ]);
}

export function condition(
  obj: { status?: { conditions?: Condition[] } } | undefined,
  type: string,
): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

export function getVolume(kubectl: Kubectl, name: string): Promise<Volume | undefined> {
  return kubectl.tryGet<Volume>(LH.volumes, name, NAMESPACE);
}

export function getAttachment(kubectl: Kubectl, volume: string): Promise<VolumeAttachment | undefined> {
  return kubectl.tryGet<VolumeAttachment>(LH.attachments, volume, NAMESPACE);
}

/** The volume's Replica CRs (spec.volumeName). */
export async function replicasOf(kubectl: Kubectl, volume: string): Promise<Replica[]> {
  const all = await kubectl.list<Replica>(LH.replicas, NAMESPACE);
  return all.filter((r) => r.spec.volumeName === volume);
}

/** The volume's Engine CRs (spec.volumeName). */
export async function enginesOf(kubectl: Kubectl, volume: string): Promise<Engine[]> {
  const all = await kubectl.list<Engine>(LH.engines, NAMESPACE);
  return all.filter((e) => e.spec.volumeName === volume);
}

export async function snapshotsOf(kubectl: Kubectl, volume: string): Promise<Snapshot[]> {
  const all = await kubectl.list<Snapshot>(LH.snapshots, NAMESPACE);
  return all.filter((s) => s.spec.volume === volume);
}

/** Waits until the Volume satisfies `predicate`; the timeout names the last state seen. */
export async function waitForVolume(
  kubectl: Kubectl,
  name: string,
  what: string,
  predicate: (v: Volume) => boolean,
  timeoutMs = 60_000,
): Promise<Volume> {
  let last: Volume | undefined;
  try {
    return await waitFor(
      `volume ${name} to be ${what}`,
      async () => {
        last = await getVolume(kubectl, name);
        return last !== undefined && predicate(last) ? last : undefined;
      },
      { timeoutMs, maxIntervalMs: 250 },
    );
  } catch (err) {
    if (err instanceof Error) err.message += `; last status: ${JSON.stringify(last?.status ?? null)}`;
    throw err;
  }
}

export const isAttachedHealthy =
  (nodeID: string) =>
  (v: Volume): boolean =>
    v.status?.state === 'attached' && v.status.robustness === 'healthy' && v.status.currentNodeID === nodeID;

/** The NBD URI of the volume's engine once it serves (`status.endpoint` of its Engine CR). */
export async function waitForEndpoint(kubectl: Kubectl, volume: string, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    `the engine of ${volume} to report an nbd:// endpoint`,
    async () => {
      const endpoint = (await enginesOf(kubectl, volume)).map((e) => e.status?.endpoint ?? '').find(Boolean);
      return endpoint?.startsWith('nbd://') ? endpoint : undefined;
    },
    { timeoutMs, maxIntervalMs: 250 },
  );
}
