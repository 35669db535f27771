/**
 * The JSON kube-scheduler exchanges with an extender (k8s.io/kube-scheduler/extender/v1): the Go
 * structs have no json tags, so the keys are the Go field names (`Pod`, `NodeNames`, `Host`...),
 * while the Pod and Node objects inside use the usual API field names.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';

/** The scores an extender may give (MinExtenderPriority..MaxExtenderPriority). */
export const MIN_EXTENDER_PRIORITY = 0;
export const MAX_EXTENDER_PRIORITY = 10;

export interface ExtenderArgs {
  Pod: V1Pod;
  /** Set when the extender is not nodeCacheCapable. */
  Nodes?: { items?: V1Node[] } | null;
  /** Set when the extender is nodeCacheCapable (ours is). */
  NodeNames?: string[] | null;
}

export type FailedNodesMap = Record<string, string>;

export interface ExtenderFilterResult {
  Nodes?: { items: V1Node[] } | null;
  NodeNames?: string[] | null;
  FailedNodes: FailedNodesMap;
  /** Failures preemption cannot fix (evicting pods never moves a replica); wins over FailedNodes. */
  FailedAndUnresolvableNodes?: FailedNodesMap;
  Error: string;
}

export interface HostPriority {
  Host: string;
  Score: number;
}

export type HostPriorityList = HostPriority[];

/** A request checked for the shape we rely on; the pod keeps every other field as sent. */
export interface CheckedArgs {
  pod: V1Pod;
  nodeNames: string[];
  /** The scheduler sent whole Node objects (not nodeCacheCapable): answer with Nodes too. */
  nodes?: V1Node[];
}

export type ArgsCheck = { ok: true; args: CheckedArgs } | { ok: false; error: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/** Checks a decoded ExtenderArgs body; the error says which field is wrong. */
export function checkExtenderArgs(body: unknown): ArgsCheck {
  if (!isObject(body)) return { ok: false, error: 'ExtenderArgs must be a JSON object' };
  const pod = body.Pod;
  if (!isObject(pod)) return { ok: false, error: 'ExtenderArgs.Pod is missing or not an object' };
  const meta = pod.metadata;
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '')
    return { ok: false, error: 'ExtenderArgs.Pod.metadata.name is missing' };
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string')
    return { ok: false, error: 'ExtenderArgs.Pod.metadata.namespace must be a string' };
  if (meta.labels !== undefined && meta.labels !== null && !isObject(meta.labels))
    return { ok: false, error: 'ExtenderArgs.Pod.metadata.labels must be an object' };
  if (meta.ownerReferences !== undefined && meta.ownerReferences !== null) {
    if (!Array.isArray(meta.ownerReferences) || !meta.ownerReferences.every(isObject))
      return { ok: false, error: 'ExtenderArgs.Pod.metadata.ownerReferences must be a list of objects' };
  }
  if (pod.spec !== undefined && pod.spec !== null) {
    if (!isObject(pod.spec)) return { ok: false, error: 'ExtenderArgs.Pod.spec must be an object' };
    const volumes = pod.spec.volumes;
    if (volumes !== undefined && volumes !== null) {
      if (!Array.isArray(volumes) || !volumes.every(isObject))
        return { ok: false, error: 'ExtenderArgs.Pod.spec.volumes must be a list of objects' };
    }
  }
  if (body.NodeNames !== undefined && body.NodeNames !== null) {
    if (!isStringArray(body.NodeNames))
      return { ok: false, error: 'ExtenderArgs.NodeNames must be a list of strings' };
    return { ok: true, args: { pod: pod as V1Pod, nodeNames: body.NodeNames } };
  }
  if (body.Nodes !== undefined && body.Nodes !== null) {
    const items = isObject(body.Nodes) ? (body.Nodes.items ?? []) : undefined;
    if (!Array.isArray(items)) return { ok: false, error: 'ExtenderArgs.Nodes.items must be a list' };
    const names: string[] = [];
    for (const item of items) {
      const name = isObject(item) && isObject(item.metadata) ? item.metadata.name : undefined;
      if (typeof name !== 'string' || name === '')
        return { ok: false, error: 'ExtenderArgs.Nodes.items[] needs metadata.name' };
      names.push(name);
    }
    return { ok: true, args: { pod: pod as V1Pod, nodeNames: names, nodes: items as V1Node[] } };
  }
  return { ok: false, error: 'ExtenderArgs needs NodeNames (nodeCacheCapable) or Nodes' };
}
