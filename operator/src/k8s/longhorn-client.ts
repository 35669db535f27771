/**
 * Writes to Longhorn custom objects: create, JSON merge patch (optionally guarded by a
 * resourceVersion), delete. Reads come from the informer caches, never from here. Every failure
 * becomes an ApiCallError (409 a ConflictError, 404 a NotFoundError) in `toApiCallError`.
 */

import { CustomObjectsApi, type KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { toApiCallError } from '../runtime/api-errors.js';
import { FIELD_MANAGER, StatusWriter } from '../runtime/status-writer.js';
import type { KindType } from './kinds.js';

export interface Named {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string };
}

export class LonghornClient {
  readonly api: CustomObjectsApi;
  private readonly writers = new Map<string, StatusWriter<unknown>>();

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  private coords(type: KindType) {
    return { group: type.group, version: type.version, plural: type.plural, namespace: this.namespace };
  }

  async create<T extends { metadata?: { name?: string } }>(type: KindType, body: T): Promise<T> {
    const name = body.metadata?.name ?? '';
    try {
      return (await this.api.createNamespacedCustomObject({
        ...this.coords(type),
        body: { ...body, metadata: { ...body.metadata, namespace: this.namespace } },
        fieldManager: FIELD_MANAGER,
      })) as T;
    } catch (err) {
      throw toApiCallError(err, { kind: type.kind, namespace: this.namespace, name }, 'create');
    }
  }

  /**
   * Merge-patch the object (not its status). With `resourceVersion` the server refuses the patch
   * (409) if the object changed since it was read.
   */
  async patch<T>(
    type: KindType,
    name: string,
    body: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<T> {
    const patchBody =
      resourceVersion === undefined
        ? body
        : { ...body, metadata: { ...((body.metadata as object | undefined) ?? {}), resourceVersion } };
    try {
      return (await this.api.patchNamespacedCustomObject(
        { ...this.coords(type), name, body: patchBody, fieldManager: FIELD_MANAGER },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as T;
    } catch (err) {
      throw toApiCallError(err, { kind: type.kind, namespace: this.namespace, name }, 'patch');
    }
  }

  /** Delete; an object already gone is not an error. */
  async delete(type: KindType, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({ ...this.coords(type), name });
    } catch (err) {
      const e = toApiCallError(err, { kind: type.kind, namespace: this.namespace, name }, 'delete');
      if (e.code !== 'NOT_FOUND') throw e;
    }
  }

  private writer(type: KindType): StatusWriter<unknown> {
    let writer = this.writers.get(type.plural);
    if (writer === undefined) {
      writer = new StatusWriter<unknown>(this.api, type);
      this.writers.set(type.plural, writer);
    }
    return writer;
  }

  /** Merge-patch the status subresource, guarded by the resourceVersion of `obj`. */
  patchStatus<S>(type: KindType, obj: Named, status: Partial<S>): Promise<unknown> {
    return this.writer(type).patchStatus(obj, status as Partial<unknown>);
  }

  /** Replace the whole status (maps lose the keys left out), guarded by the resourceVersion of `obj`. */
  replaceStatus<S>(type: KindType, obj: Named, status: S): Promise<unknown> {
    return this.writer(type).replaceStatus(obj, status as unknown);
  }
}
