/**
 * Snapshot revert as a request on the Engine CR. Longhorn reverts through its REST API, which
 * calls the engine directly; longhorn-ts has no such API, so the smallest CR-based stand-in is
 * an annotation on the volume's Engine that the operator on the engine's node carries out
 * (engine SnapshotRevert, only in maintenance mode: attached with the frontend down), answering
 * in a second annotation with the request's id. Neither is a Longhorn key.
 */

export const SNAPSHOT_REVERT_REQUEST_ANNOTATION = 'longhorn-ts.io/snapshot-revert-request';
export const SNAPSHOT_REVERT_RESULT_ANNOTATION = 'longhorn-ts.io/snapshot-revert-result';

export interface SnapshotRevertRequest {
  /** Unique per request: the result names it, so a caller never reads an older answer. */
  id: string;
  snapshot: string;
}

export interface SnapshotRevertResult extends SnapshotRevertRequest {
  /** '' when the engine reverted. */
  error: string;
  /** RFC 3339. */
  doneAt: string;
}

function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined || text === '') return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The request in an Engine's annotations; undefined when there is none or it is malformed. */
export function parseRevertRequest(
  annotations: Readonly<Record<string, string>> | undefined,
): SnapshotRevertRequest | undefined {
  const o = parseJsonObject(annotations?.[SNAPSHOT_REVERT_REQUEST_ANNOTATION]);
  if (o === undefined || typeof o.id !== 'string' || typeof o.snapshot !== 'string') return undefined;
  if (o.id === '' || o.snapshot === '') return undefined;
  return { id: o.id, snapshot: o.snapshot };
}

export function parseRevertResult(
  annotations: Readonly<Record<string, string>> | undefined,
): SnapshotRevertResult | undefined {
  const o = parseJsonObject(annotations?.[SNAPSHOT_REVERT_RESULT_ANNOTATION]);
  if (o === undefined || typeof o.id !== 'string' || typeof o.snapshot !== 'string') return undefined;
  return {
    id: o.id,
    snapshot: o.snapshot,
    error: typeof o.error === 'string' ? o.error : '',
    doneAt: typeof o.doneAt === 'string' ? o.doneAt : '',
  };
}
