import { CsiError } from '../errors.js';
import { runCommand } from './commands.js';
import type { Filesystem } from './filesystems.js';
import { mountAt } from './mount-table.js';

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
  if (fs === 'xfs') await runCommand('xfs_growfs', [mountPoint]);
  else await runCommand('resize2fs', [device]);
}
