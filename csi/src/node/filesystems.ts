/** File systems NodeStageVolume makes and mounts; ext4 when nothing is asked. */
export const FILESYSTEMS = ['ext4', 'xfs'] as const;
export type Filesystem = (typeof FILESYSTEMS)[number];
export const DEFAULT_FILESYSTEM: Filesystem = 'ext4';

export function isFilesystem(value: string): value is Filesystem {
  return (FILESYSTEMS as readonly string[]).includes(value);
}
