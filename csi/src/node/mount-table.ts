import { readFile } from 'node:fs/promises';

export interface MountEntry {
  /** Mount point. */
  target: string;
  /** What is mounted (a device, `nbdfuse`, the source of a bind mount's file system). */
  source: string;
  fsType: string;
  /** Per-mount options (ro/rw...). */
  options: string[];
  /** The path within the source file system that is mounted (`/` unless a bind of a subtree). */
  root: string;
  /** major:minor of the mounted file system's device. */
  device: string;
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/**
 * /proc/self/mountinfo, parsed: `id parent major:minor root target options [optional...] - fstype
 * source super-options`.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const fields = line.split(' ');
    const dash = fields.indexOf('-');
    if (dash < 6) continue;
    entries.push({
      device: fields[2] ?? '',
      root: unescapeField(fields[3] ?? ''),
      target: unescapeField(fields[4] ?? ''),
      options: (fields[5] ?? '').split(','),
      fsType: fields[dash + 1] ?? '',
      source: unescapeField(fields[dash + 2] ?? ''),
    });
  }
  return entries;
}

export async function mountTable(): Promise<MountEntry[]> {
  return parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8'));
}

/** The topmost mount at exactly `target`, if any. */
export async function mountAt(target: string): Promise<MountEntry | undefined> {
  const entries = (await mountTable()).filter((e) => e.target === target);
  return entries.at(-1);
}
