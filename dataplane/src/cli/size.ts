const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1e3,
  kb: 1e3,
  m: 1e6,
  mb: 1e6,
  g: 1e9,
  gb: 1e9,
  t: 1e12,
  tb: 1e12,
  ki: 2 ** 10,
  kib: 2 ** 10,
  mi: 2 ** 20,
  mib: 2 ** 20,
  gi: 2 ** 30,
  gib: 2 ** 30,
  ti: 2 ** 40,
  tib: 2 ** 40,
};

/**
 * Parses a size like "1GiB", "512Mi", "10G" or "4096" into bytes: binary suffixes (Ki, MiB...)
 * are powers of 1024 and plain ones powers of 1000, as Kubernetes quantities have them.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new Error(`size ${JSON.stringify(text)} is not a size (examples: 1GiB, 512Mi, 10G, 4096)`);
  }
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes))
    throw new Error(`size ${JSON.stringify(text)} is not a whole number of bytes`);
  return bytes;
}

/** A volume size: positive and a multiple of 4096, as Longhorn requires. */
export function parseVolumeSize(text: string): number {
  const bytes = parseSize(text);
  if (bytes <= 0 || bytes % 4096 !== 0) {
    throw new Error(`volume size ${text} (${bytes} bytes) must be a positive multiple of 4096`);
  }
  return bytes;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1 && v % 1024 === 0) {
    v /= 1024;
    i++;
  }
  return `${v}${units[i]}`;
}
