/**
 * Output formats shared by every command (`-o table|wide|json|yaml|name`) and the small
 * formatting helpers the renderers use: columns, byte sizes, ages. All pure.
 */
import { stringify } from 'yaml';

export const OUTPUT_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** kubectl's column layout: upper-case headers, columns padded, three spaces apart. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers.map((h) => h.toUpperCase())), ...rows.map(line)].join('\n');
}

/** `kubectl get` prints this, on stderr, for an empty list. */
export function noResources(namespace: string): string {
  return `No resources found in ${namespace} namespace.`;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units: 0 B, 512 B, 4 KiB, 1.5 GiB. */
export function formatBytes(bytes: number | string | undefined): string {
  const n = Number(bytes ?? 0);
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = v >= 100 || Number.isInteger(v) ? 0 : 1;
  return `${v.toFixed(digits).replace(/\.0$/, '')} ${UNITS[u]}`;
}

/** kubectl's AGE column: 45s, 12m, 3h, 5d, 2y. */
export function formatAge(timestamp: string | undefined, now: number): string {
  if (!timestamp) return '<unknown>';
  const t = Date.parse(timestamp);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((now - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 730) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

export function orDash(v: string | number | undefined | null): string {
  return v === undefined || v === null || v === '' ? '-' : String(v);
}

/** One object or a list as kubectl prints it with -o json / -o yaml (a list is a `List`). */
export function renderStructured(format: 'json' | 'yaml', data: unknown): string {
  const value = Array.isArray(data) ? { apiVersion: 'v1', kind: 'List', items: data } : data;
  return format === 'json' ? JSON.stringify(value, null, 2) : stringify(value).trimEnd();
}

/** `-o name`: `<kind>.longhorn.io/<name>` per object, as kubectl prints it. */
export function renderNames(kind: string, names: readonly string[]): string {
  return names.map((n) => `${kind.toLowerCase()}.longhorn.io/${n}`).join('\n');
}

const SUFFIXES: Record<string, number> = {
  '': 1,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
};

/**
 * A size as a user writes it (`2Gi`, `500Mi`, `1G`, `1073741824`) in bytes; undefined when it is
 * not one. Fractions are allowed where they come out whole (`1.5Gi`).
 */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P|)B?\s*$/.exec(text);
  if (!m) return undefined;
  const bytes = Number(m[1]) * (SUFFIXES[m[2] ?? ''] ?? 1);
  return Number.isSafeInteger(Math.round(bytes)) && bytes > 0 ? Math.round(bytes) : undefined;
}

/** Longhorn rounds volume sizes up to a multiple of 2 MiB. */
export const SIZE_ALIGNMENT = 2 * 1024 * 1024;

export function roundUpSize(bytes: number): number {
  return Math.ceil(bytes / SIZE_ALIGNMENT) * SIZE_ALIGNMENT;
}
