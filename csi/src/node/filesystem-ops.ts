import { CsiError } from '../errors.js';
import { runCommand } from './commands.js';
import type { Filesystem } from './filesystems.js';
import { deviceSize } from './loop-devices.js';
import { mountAt } from './mount-table.js';
import { CAP_SYS_RESOURCE, processHasCapability } from './process-capabilities.js';

/** The file system on a device, '' when it is blank (blkid finds nothing: exit 2). */
export async function detectFilesystem(device: string): Promise<string> {
  const { stdout, code } = await runCommand('blkid', ['-p', '-s', 'TYPE', '-o', 'value', device], {
    okCodes: [2],
  });
  return code === 2 ? '' : stdout.trim();
}

/** Splits Longhorn's `mkfsParams` ("-I 256 -b 4096") into arguments; quotes are not supported. */
export function mkfsArguments(params: string | undefined): string[] {
  return (params ?? '').split(/\s+/).filter((a) => a !== '');
}

export async function makeFilesystem(
  fs: Filesystem,
  device: string,
  params: string | undefined,
): Promise<void> {
  // ext4: no lazy init, so the first writes do not race a background zeroing over NBD.
  const defaults = fs === 'ext4' ? ['-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0'] : ['-f'];
  await runCommand(`mkfs.${fs}`, [...defaults, ...mkfsArguments(params), device], { timeoutMs: 600_000 });
}

export async function mount(
  source: string,
  target: string,
  fsType: string,
  options: string[],
): Promise<void> {
  const args = fsType ? ['-t', fsType] : [];
  if (options.length > 0) args.push('-o', options.join(','));
  await runCommand('mount', [...args, source, target]);
}

/** A bind mount of `source` at `target`, read-only when asked (remounted: bind ignores ro). */
export async function bindMount(source: string, target: string, readonly: boolean): Promise<void> {
  await runCommand('mount', ['--bind', source, target]);
  if (readonly) await runCommand('mount', ['-o', 'remount,bind,ro', target]);
}

/** Unmounts whatever is mounted at `target` (all stacked mounts); lazily when busy or dead. */
export async function unmountAll(target: string): Promise<void> {
  for (let i = 0; i < 8 && (await mountAt(target)) !== undefined; i++) {
    const { code, stderr } = await runCommand('umount', [target], { okCodes: [1, 16, 32] });
    if (code !== 0) {
      const lazy = await runCommand('umount', ['-l', target], { okCodes: [1, 16, 32] });
      if (lazy.code !== 0) throw new CsiError('INTERNAL', `umount ${target} failed: ${stderr.trim()}`);
    }
  }
}

/** Grows a mounted file system to its device (resize2fs for ext4 runs online). */
export async function growFilesystem(fs: string, device: string, mountPoint: string): Promise<void> {
  if (fs === 'xfs') {
    await runCommand('xfs_growfs', [mountPoint]);
    return;
  }
  // Already grown (this is also what makes a repeated call succeed without the capability).
  if (await ext4FillsItsDevice(device)) return;
  // The kernel's ext4 online resize asks for CAP_SYS_RESOURCE; without it resize2fs only says
  // "Permission denied".
  if (!(await processHasCapability(CAP_SYS_RESOURCE)))
    throw new CsiError(
      'FAILED_PRECONDITION',
      `growing the mounted ext4 file system on ${device} needs CAP_SYS_RESOURCE, which the node plugin ` +
        'lacks; the device has grown, and the file system grows when the volume is next staged',
    );
  await runCommand('resize2fs', [device]);
}

/** An ext4 file system's geometry from `dumpe2fs -h` output. */
export function ext4Geometry(text: string): { blockCount: number; blockSize: number } {
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s*$`, 'm').exec(text);
    if (!m) throw new CsiError('INTERNAL', `dumpe2fs output has no "${name}" line`);
    return Number(m[1]);
  };
  return { blockCount: field('Block count'), blockSize: field('Block size') };
}

/** Whether the file system reaches its device's end: resize2fs stops at the last whole block. */
export function ext4FillsDevice(g: { blockCount: number; blockSize: number }, deviceBytes: number): boolean {
  return (g.blockCount + 1) * g.blockSize > deviceBytes;
}

async function ext4FillsItsDevice(device: string): Promise<boolean> {
  const { stdout } = await runCommand('dumpe2fs', ['-h', device]);
  return ext4FillsDevice(ext4Geometry(stdout), await deviceSize(device));
}

/**
 * Grows an unmounted ext4 file system to its device when it is smaller (the volume grew while it
 * was not mounted): a forced check first, as resize2fs demands, then resize2fs. Offline, so it
 * needs no CAP_SYS_RESOURCE. Resolves with whether it grew.
 */
export async function growExt4Offline(device: string): Promise<boolean> {
  if (await ext4FillsItsDevice(device)) return false;
  // e2fsck -p: 1 = errors fixed, 2 = fixed and a reboot advised (not for an unmounted volume).
  await runCommand('e2fsck', ['-f', '-p', device], { okCodes: [1, 2], timeoutMs: 600_000 });
  await runCommand('resize2fs', [device], { timeoutMs: 600_000 });
  return true;
}
