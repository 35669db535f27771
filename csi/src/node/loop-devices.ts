import { runCommand } from './commands.js';

interface LosetupList {
  loopdevices?: { name: string; 'back-file'?: string | null }[];
}

/** Loop devices and their backing files (`(deleted)` stripped), from `losetup --list --json`. */
export async function loopDevices(): Promise<{ device: string; backingFile: string }[]> {
  const { stdout } = await runCommand('losetup', ['--list', '--json', '--output', 'NAME,BACK-FILE']);
  if (!stdout.trim()) return [];
  const list = JSON.parse(stdout) as LosetupList;
  return (list.loopdevices ?? []).map((d) => ({
    device: d.name,
    backingFile: (d['back-file'] ?? '').replace(/ \(deleted\)$/, ''),
  }));
}

export async function loopDevicesOf(file: string): Promise<string[]> {
  return (await loopDevices()).filter((d) => d.backingFile === file).map((d) => d.device);
}

/** A new loop device over `file`; resolves with its path. */
export async function attachLoop(file: string): Promise<string> {
  const { stdout } = await runCommand('losetup', ['--find', '--show', file]);
  return stdout.trim();
}

export async function detachLoop(device: string): Promise<void> {
  await runCommand('losetup', ['--detach', device]);
}

/** Makes the loop device take its backing file's current size (LOOP_SET_CAPACITY). */
export async function refreshLoopCapacity(device: string): Promise<void> {
  await runCommand('losetup', ['--set-capacity', device]);
}

/** The size the kernel sees for a block device. */
export async function deviceSize(device: string): Promise<number> {
  const { stdout } = await runCommand('blockdev', ['--getsize64', device]);
  return Number(stdout.trim());
}
