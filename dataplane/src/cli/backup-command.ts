import { parseArgs } from 'node:util';
import { decodeBackupUrl } from '../backup/backup-url.js';
import { deleteBackup } from '../backup/delete-backup.js';
import { listBackups } from '../backup/list-backups.js';
import { openTargetFrom } from './local-backup.js';
import { formatSize } from './size.js';

const USAGE = `usage: longhorn-local backup <command> [options]
  list --target URL [--credentials FILE] [--volume NAME] [-o json]   the backups on a target
  delete BACKUP_URL [--credentials FILE]         delete a backup and collect the blocks no backup uses
URL: s3://bucket@region/path (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINTS
     as KEY=VALUE lines), vfs:///path or /path (a directory)`;

/** `longhorn-local backup ...`: backups on a target, without a volume or a cluster. */
export async function backupCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      target: { type: 'string' },
      credentials: { type: 'string' },
      volume: { type: 'string' },
      output: { type: 'string', short: 'o', default: 'table' },
    },
  });
  const creds = values.credentials ? { credentials: values.credentials } : {};
  switch (sub) {
    case 'list': {
      if (!values.target) throw new Error(`backup list: --target URL is required\n${USAGE}`);
      const target = await openTargetFrom({ target: values.target, ...creds });
      try {
        const list = await listBackups(target, values.volume);
        if (values.output === 'json') console.log(JSON.stringify(list, null, 2));
        else {
          for (const b of list) {
            console.log(
              `${b.volume}\t${b.name}\t${b.state}\t${b.snapshot || '-'}\t${b.created || '-'}\t${formatSize(b.size)}\t${b.incremental ? 'incremental' : 'full'}\t${b.url}${b.error ? `\t${b.error}` : ''}`,
            );
          }
        }
      } finally {
        await target.close();
      }
      return 0;
    }
    case 'delete': {
      const url = positionals[0];
      if (!url) throw new Error(`backup delete BACKUP_URL\n${USAGE}`);
      const { targetUrl, volume, backup } = decodeBackupUrl(url);
      if (!backup) throw new Error(`${url} names no backup (?backup=NAME)`);
      const target = await openTargetFrom({ target: targetUrl, ...creds });
      try {
        const res = await deleteBackup({ target, volume, backup });
        console.log(
          res.gcSkipped
            ? `deleted ${backup}; block GC skipped: ${res.gcSkipped}`
            : `deleted ${backup}; ${res.blocksDeleted} blocks freed, ${res.blocksRetained} kept`,
        );
      } finally {
        await target.close();
      }
      return 0;
    }
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return sub ? 0 : 2;
    default:
      throw new Error(`backup: unknown command ${JSON.stringify(sub)}\n${USAGE}`);
  }
}
