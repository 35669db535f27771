import type { BackupTarget } from '@longhorn-ts/api';

/** Why a store cannot be cleaned up through target `name` now; undefined when it can. */
export function targetUnusableReason(bt: BackupTarget | undefined, name: string): string | undefined {
  if (bt === undefined) return `backup target ${name} does not exist`;
  if (!bt.spec?.backupTargetURL) return `backup target ${name} has no URL`;
  if (bt.status?.available === false)
    return `backup target ${name} is unavailable (${
      bt.status.conditions?.find((c) => c.type === 'Unavailable')?.message ?? ''
    })`;
  return undefined;
}
