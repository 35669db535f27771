/**
 * Status writes with optimistic concurrency. Each write carries the resourceVersion the
 * controller read; if the object changed since, the API server answers 409 and the write
 * rejects with a ConflictError, so the key is requeued and reconciled again from the newer
 * cache instead of overwriting a change it never saw.
 */

import {
  type ConfigurationOptions,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { ApiCallError, type ObjectRef, toApiCallError } from './api-errors.js';
import type { CustomResourceType } from './informer.js';

/** The two calls used, in client-node 1.x's object-parameter form. */
export interface StatusApi {
  replaceNamespacedCustomObjectStatus(param: {
    group: string;
    version: string;
    namespace: string;
    plural: string;
    name: string;
    body: unknown;
    fieldManager?: string;
  }): Promise<unknown>;
  patchNamespacedCustomObjectStatus(
    param: {
      group: string;
      version: string;
      namespace: string;
      plural: string;
      name: string;
      body: unknown;
      fieldManager?: string;
    },
    options?: ConfigurationOptions,
  ): Promise<unknown>;
}

export interface StatusTarget {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export const FIELD_MANAGER = 'longhorn-ts-operator';

export class StatusWriter<S> {
  constructor(
    private readonly api: StatusApi,
    private readonly type: CustomResourceType & { kind: string },
    private readonly fieldManager = FIELD_MANAGER,
  ) {}

  static fromKubeConfig<S>(
    kubeConfig: KubeConfig,
    type: CustomResourceType & { kind: string },
  ): StatusWriter<S> {
    return new StatusWriter<S>(kubeConfig.makeApiClient(CustomObjectsApi), type);
  }

  /**
   * Replace the whole status of the object as read (its resourceVersion guards the write).
   * Resolves with the object the server stored.
   */
  async replaceStatus<T extends StatusTarget>(obj: T, status: S): Promise<T & KubernetesObject> {
    const ref = this.ref(obj);
    const resourceVersion = this.resourceVersionOf(obj, ref);
    const body = { ...obj, metadata: { ...obj.metadata, resourceVersion }, status };
    try {
      return (await this.api.replaceNamespacedCustomObjectStatus({
        ...this.coordinates(ref),
        body,
        fieldManager: this.fieldManager,
      })) as T & KubernetesObject;
    } catch (err) {
      throw toApiCallError(err, ref, 'replace status');
    }
  }

  /**
   * Merge `status` into the object's status (JSON merge patch: a field set to null is
   * removed), guarded by the resourceVersion the caller read.
   */
  async patchStatus<T extends StatusTarget>(obj: T, status: Partial<S>): Promise<T & KubernetesObject> {
    const ref = this.ref(obj);
    const resourceVersion = this.resourceVersionOf(obj, ref);
    try {
      return (await this.api.patchNamespacedCustomObjectStatus(
        {
          ...this.coordinates(ref),
          body: { metadata: { resourceVersion }, status },
          fieldManager: this.fieldManager,
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as T & KubernetesObject;
    } catch (err) {
      throw toApiCallError(err, ref, 'patch status');
    }
  }

  private ref(obj: StatusTarget): ObjectRef {
    return { kind: this.type.kind, namespace: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' };
  }

  private resourceVersionOf(obj: StatusTarget, ref: ObjectRef): string {
    const rv = obj.metadata?.resourceVersion;
    // Without it the server would accept the write blindly: that is exactly what must not happen.
    if (rv === undefined || rv === '') {
      throw new ApiCallError('API_ERROR', ref, 'status write without a resourceVersion');
    }
    return rv;
  }

  private coordinates(ref: ObjectRef) {
    return {
      group: this.type.group,
      version: this.type.version,
      plural: this.type.plural,
      namespace: ref.namespace,
      name: ref.name,
    };
  }
}
