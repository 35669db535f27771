import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
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

/** FUSE helpers the CSI node plugin started (detached, to outlive its restarts) for `dir`'s volumes. */
export async function fuseHelpersUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!/nbdfuse$/.test(comm) || /^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2))) continue;
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (argv.some((a) => under(a, dir))) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function stopFuseHelpers(dir: string): Promise<string[]> {
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const pid of pids) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone meanwhile
      }
    }
  };
  signal(await fuseHelpersUnder(dir), 'SIGTERM');
  for (let i = 0; i < 50; i++) {
    const left = await fuseHelpersUnder(dir);
    if (left.length === 0) return [];
    if (i === 30) signal(left, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 100));
  }
  return (await fuseHelpersUnder(dir)).map((pid) => `FUSE helper pid ${pid}`);
}

/**
 * Unmounts everything mounted below `dir`, detaches loop devices backed by files below it and
 * stops the FUSE helpers serving them (a cluster stopped with volumes still mounted); returns
 * what it could not remove.
 */
export async function releaseHostResources(dir: string): Promise<string[]> {
  const leftovers: string[] = [];
  // Loop devices first: detaching a busy one only marks it to go once its file system is
  // unmounted. Unmounted first, a FUSE mount under a loop device's file is busy, gets detached
  // lazily, and the loop device then names its file "/nbd", no longer below `dir`: it was left
  // behind for good.
  for (const device of await loopDevicesUnder(dir)) {
    await run('losetup', ['-d', device]).catch(() => undefined);
  }
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
  leftovers.push(...(await stopFuseHelpers(dir)));
  return leftovers;
}
