/**
 * The two admission entry points over the tables, pure: a request and a context in, a verdict
 * (and a patch) out. Requests that must never be blocked pass here before any rule runs:
 * DELETE and CONNECT, and updates of an object already being deleted (its finalizers are being
 * removed; blocking that is how a webhook wedges an uninstall).
 */
import type { AdmissionContext } from './admission/context.js';
import { diffToPatch } from './admission/json-patch.js';
import type { AdmissionRequest, KubeObject } from './admission/review.js';
import { allow, deny, type MutationResult, type Verdict } from './admission/verdict.js';
import { kindKey } from './kinds.js';
import { MUTATORS } from './mutators/index.js';
import type { Mutator } from './mutators/mutator.js';
import { VALIDATORS } from './validators/index.js';

function describe(request: AdmissionRequest): string {
  const { group, version, kind } = request.kind;
  return `${group ? `${group}/` : ''}${version} ${kind}`;
}

/** A verdict before any rule: allow, deny, or undefined to go on. */
function gate(request: AdmissionRequest, known: boolean): Verdict | undefined {
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return allow();
  if (!known) {
    return deny(
      `this webhook has no rules for ${describe(request)}; it serves longhorn.io kinds and PersistentVolumeClaims only (check the webhook configuration's rules)`,
    );
  }
  const object = request.object;
  if (object === undefined) return deny(`request.object is missing for ${request.operation}`);
  if (request.operation === 'UPDATE') {
    if (request.oldObject === undefined) return deny('request.oldObject is missing for UPDATE');
    if (object.metadata?.deletionTimestamp) return allow();
  }
  return undefined;
}

function failure(request: AdmissionRequest, err: unknown): Verdict {
  const name = request.object?.metadata?.name ?? request.name ?? '';
  const reason = err instanceof Error ? err.message : String(err);
  return deny(
    `internal error judging ${request.kind.kind} ${name}: ${reason}; check the object's fields and retry`,
    500,
  );
}

export function validateRequest(request: AdmissionRequest, ctx: AdmissionContext): Verdict {
  const validator = VALIDATORS.get(kindKey(request.kind));
  const early = gate(request, validator !== undefined);
  if (early !== undefined || validator === undefined) return early ?? allow();
  try {
    return validator(request, ctx);
  } catch (err) {
    return failure(request, err);
  }
}

export function mutateRequest(request: AdmissionRequest, ctx: AdmissionContext): MutationResult {
  const mutator = MUTATORS.get(kindKey(request.kind)) as Mutator<KubeObject> | undefined;
  // Kinds we judge but do not default (Setting, PVC...) pass the mutating webhook unchanged.
  const early = gate(request, mutator !== undefined || VALIDATORS.has(kindKey(request.kind)));
  if (early !== undefined || mutator === undefined) return { verdict: early ?? allow(), patch: [] };
  const original = request.object as KubeObject;
  if (
    typeof original.metadata !== 'object' ||
    original.metadata === null ||
    typeof original.metadata.name !== 'string'
  ) {
    return { verdict: deny('metadata.name is missing; every object needs a name'), patch: [] };
  }
  if (
    original.spec !== undefined &&
    (typeof original.spec !== 'object' || original.spec === null || Array.isArray(original.spec))
  ) {
    return {
      verdict: deny(
        `${request.kind.kind} ${original.metadata.name}: spec is not an object; write spec: {...}`,
      ),
      patch: [],
    };
  }
  try {
    const object = structuredClone(original);
    const warnings =
      mutator({
        operation: request.operation,
        object,
        old: request.oldObject,
        ctx,
      }) ?? [];
    return { verdict: allow(warnings), patch: diffToPatch(original, object) };
  } catch (err) {
    return { verdict: failure(request, err), patch: [] };
  }
}
