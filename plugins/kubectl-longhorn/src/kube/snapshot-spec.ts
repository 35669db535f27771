/** A Snapshot CR the operator is asked to take (pure). */
import { LABEL_VOLUME, LONGHORN_API_VERSION, type Snapshot } from '@longhorn-ts/api';

/** Longhorn names snapshots with a UUID; a time-ordered name reads better in a tree. */
export function snapshotName(volume: string, now: number, random: () => number = Math.random): string {
  const stamp = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const suffix = Math.floor(random() * 0x10000)
    .toString(16)
    .padStart(4, '0');
  return `${volume}-${stamp}-${suffix}`.slice(0, 63).replace(/-+$/, '');
}

export function snapshotObject(
  name: string,
  volume: string,
  namespace: string,
  labels: Record<string, string>,
): Snapshot {
  return {
    apiVersion: LONGHORN_API_VERSION,
    kind: 'Snapshot',
    metadata: { name, namespace, labels: { [LABEL_VOLUME]: volume } },
    spec: { volume, createSnapshot: true, ...(Object.keys(labels).length > 0 && { labels }) },
  };
}

/** `--label k=v` flags to a map; undefined for a malformed one. */
export function parseLabels(flags: readonly string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const f of flags) {
    const i = f.indexOf('=');
    if (i <= 0) return f;
    out[f.slice(0, i)] = f.slice(i + 1);
  }
  return out;
}
