import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

function under(path: string, dir: string): boolean {
  const root = resolve(dir);
  return path === root || path.startsWith(root + sep);
}

// /proc/self/mountinfo escapes space, tab, newline and backslash as octal.
function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** Mount points at or below `dir`, deepest first. */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((p): p is string => p !== undefined)
    .map(unescapeMountPath)
    .filter((p) => under(p, dir))
    .sort((a, b) => b.length - a.length);
}

interface LosetupList {
  loopdevices?: { name: string; 'back-file'?: string | null }[];
}

/** Loop devices whose backing file lies below `dir`. */
export async function loopDevicesUnder(dir: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('losetup', ['--list', '--json']));
  } catch {
    return []; // no losetup or no permission: nothing of ours can be attached either
  }
  if (!stdout.trim()) return [];
  const list = JSON.parse(stdout) as LosetupList;
  return (list.loopdevices ?? [])
    .filter((d) => d['back-file'] && under(d['back-file'].replace(/ \(deleted\)$/, ''), dir))
    .map((d) => d.name);
}

/**
 * Unmounts everything mounted below `dir` and detaches loop devices backed by files below it;
 * returns what it could not remove.
 */
export async function releaseHostResources(dir: string): Promise<string[]> {
  const leftovers: string[] = [];
  for (const mount of await mountsUnder(dir)) {
    try {
      await run('umount', [mount]);
    } catch {
      try {
        await run('umount', ['-l', mount]);
      } catch (err) {
        leftovers.push(`mount ${mount}: ${(err as Error).message}`);
      }
    }
  }
  for (const device of await loopDevicesUnder(dir)) {
    try {
      await run('losetup', ['-d', device]);
    } catch (err) {
      leftovers.push(`loop device ${device}: ${(err as Error).message}`);
    }
  }
  return leftovers;
}
