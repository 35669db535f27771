import { decodeBackupUrl } from '@longhorn-ts/dataplane/backup/backup-url';

const EXAMPLE = 's3://<bucket>@<region>/?backup=<backup>&volume=<volume>';

/**
 * What is wrong with a backup URL as Longhorn writes them (a volume's spec.fromBackup, the
 * StorageClass parameter `fromBackup`): `<target URL>?backup=<backup>&volume=<volume>`, e.g.
 * `s3://backups@us-east-1/?backup=backup-1a2b3c4d5e6f7a8b&volume=pvc-...`; undefined when fine.
 */
export function backupUrlProblem(url: string): string | undefined {
  const refuse = (why: string) => `"${url}" is not a backup URL (${why}); write ${EXAMPLE}`;
  if (!/^[a-z][a-z0-9+.-]*:\/\//.test(url)) return refuse('no <scheme>:// target');
  try {
    if (!decodeBackupUrl(url).backup) return refuse('it names no backup');
  } catch (err) {
    return refuse(err instanceof Error ? err.message : String(err));
  }
  return undefined;
}
