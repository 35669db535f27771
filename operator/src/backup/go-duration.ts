/**
 * Go's time.Duration text, as Longhorn keeps a BackupTarget's spec.pollInterval ("5m0s", "30s",
 * "1h2m3s", "0s"). Parsing accepts what Go's ParseDuration does for whole units (h, m, s, ms);
 * formatting writes what Go's Duration.String writes for whole seconds.
 */

const UNIT_MS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 1e-6,
};

/** Milliseconds of a Go duration; an Error naming the value for anything else. */
export function parseGoDuration(text: string): number {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let at = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (UNIT_MS[m[2]!] ?? 0);
    at = re.lastIndex;
  }
  if (s === '' || at !== s.length) {
    throw new Error(`duration ${JSON.stringify(text)}: expected a Go duration such as 5m0s, 30s or 1h`);
  }
  return Math.round(total);
}

/** Go's Duration.String for whole seconds: 300 -> "5m0s", 3723 -> "1h2m3s", 0 -> "0s". */
export function formatGoDuration(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds < 0) {
    throw new Error(`duration ${seconds}: expected whole seconds >= 0`);
  }
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}
