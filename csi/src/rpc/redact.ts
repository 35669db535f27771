/** Fields csi.proto marks `csi_secret` are all called `secrets` (camelCase keeps the name). */
const SECRET_FIELDS = new Set(['secrets']);
export const REDACTED = '***stripped***';

/** A copy of a request fit for a log: every secret value replaced, keys kept. */
export function redactSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactSecrets);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (SECRET_FIELDS.has(key) && v !== null && typeof v === 'object') {
      out[key] = Object.fromEntries(Object.keys(v).map((k) => [k, REDACTED]));
    } else {
      out[key] = redactSecrets(v);
    }
  }
  return out;
}
