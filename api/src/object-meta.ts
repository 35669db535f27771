/** The envelope every longhorn.io/v1beta2 object shares. */
import { API_GROUP, API_VERSION } from './group.js';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** The parts of metav1.ObjectMeta our code reads and writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
}

/** `longhorn.io/v1beta2`. */
export const LONGHORN_API_VERSION = `${API_GROUP}/${API_VERSION}` as const;

/** A Longhorn custom resource with a spec and a status subresource. */
export interface LonghornResource<Kind extends string, Spec, Status> {
  apiVersion: typeof LONGHORN_API_VERSION;
  kind: Kind;
  metadata: ObjectMeta;
  spec: Spec;
  status?: Status;
}
