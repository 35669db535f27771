/**
 * BackupTarget rules: the URL forms Longhorn's backupstore drivers accept
 * (s3://bucket@region/path, nfs://server:/path, cifs://server/share, azblob://container@endpoint/path)
 * or empty, no "$" or "," in the path (CIFS may hide a share with "$"), and a Go duration as poll interval.
 */
import type { BackupTarget } from '@longhorn-ts/api';
import { GO_DURATION, type Rule } from './rules.js';

interface UrlForm {
  pattern: RegExp;
  form: string;
  example: string;
}

const FORMS: Record<string, UrlForm> = {
  s3: {
    pattern: /^s3:\/\/[^@/]+@[^/]+(\/.*)?$/,
    form: 's3://<bucket>@<region>/<path>',
    example: 's3://backups@us-east-1/',
  },
  nfs: {
    pattern: /^nfs:\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]]+):\/[^?]*(\?.*)?$/,
    form: 'nfs://<server>:/<path>',
    example: 'nfs://nfs.example.com:/exports/backups',
  },
  cifs: {
    pattern: /^cifs:\/\/[^/]+\/[^/]+.*$/,
    form: 'cifs://<server>/<share>',
    example: 'cifs://fileserver/backups',
  },
  azblob: {
    pattern: /^azblob:\/\/[^@/]+@[^/]*(\/.*)?$/,
    form: 'azblob://<container>@<endpoint>/<path>',
    example: 'azblob://backups@core.windows.net/',
  },
};

/** What is wrong with a backup target URL, as a sentence that says what to write; undefined: fine. */
export function backupTargetUrlProblem(url: string): string | undefined {
  if (url === '') return undefined;
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\//.exec(url)?.[1];
  const known = Object.entries(FORMS)
    .map(([s, f]) => `${s} (${f.form})`)
    .join(', ');
  if (scheme === undefined) {
    return `backupTargetURL "${url}" is not a URL; write one of ${known}, or leave it empty for no target`;
  }
  const form = FORMS[scheme];
  if (form === undefined) return `backupTargetURL scheme "${scheme}" is not supported; use ${known}`;
  if (!form.pattern.test(url)) {
    return `backupTargetURL "${url}" is not a ${scheme} target; write ${form.form}, e.g. ${form.example}`;
  }
  const path = url
    .slice(scheme.length + 3)
    .replace(/^[^/]*/, '')
    .replace(/\?.*$/, '');
  const forbidden = scheme === 'cifs' ? /,/ : /[$,]/;
  const found = forbidden.exec(path)?.[0];
  if (found !== undefined) {
    return `backupTargetURL "${url}": the path holds "${found}", which the backup store cannot use; rename that directory`;
  }
  return undefined;
}

const url: Rule<BackupTarget> = ({ object: { spec }, old }) => {
  const value = spec.backupTargetURL ?? '';
  if (typeof value !== 'string') return `spec.backupTargetURL ${JSON.stringify(value)} is not a string`;
  if (old && (old.spec.backupTargetURL ?? '') === value) return undefined;
  return backupTargetUrlProblem(value);
};

const pollInterval: Rule<BackupTarget> = ({ object: { spec } }) => {
  const interval = spec.pollInterval;
  if (interval === undefined || interval === '') return undefined;
  if (!GO_DURATION.test(interval) || interval.startsWith('-')) {
    return `spec.pollInterval "${interval}" is not a duration; write e.g. "5m0s", or "0s" to stop polling`;
  }
  return undefined;
};

export const BACKUP_TARGET_RULES: readonly Rule<BackupTarget>[] = [url, pollInterval];
