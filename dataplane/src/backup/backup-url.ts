import { BackupError } from './errors.js';
import { checkName } from './layout.js';

/**
 * Backup URLs as Longhorn builds them: the target URL with `backup` and `volume` query
 * parameters, sorted by key (Go's url.Values.Encode): `s3://bucket@region/path?backup=b&volume=v`.
 */
export function encodeBackupUrl(targetUrl: string, volume: string, backup?: string): string {
  checkName('volume', volume);
  const [base, query = ''] = splitQuery(targetUrl);
  const params = new URLSearchParams(query);
  params.delete('volume');
  params.delete('backup');
  params.append('volume', volume);
  if (backup) params.append('backup', checkName('backup', backup));
  params.sort();
  return `${base}?${params.toString()}`;
}

export interface DecodedBackupUrl {
  targetUrl: string;
  volume: string;
  /** Empty for a backup volume's URL. */
  backup: string;
}

export function decodeBackupUrl(url: string): DecodedBackupUrl {
  const [base, query] = splitQuery(url);
  if (query === undefined) {
    throw new BackupError('INVALID_ARGUMENT', `backup URL ${url} has no ?backup=NAME&volume=NAME`);
  }
  const params = new URLSearchParams(query);
  const volume = params.get('volume') ?? '';
  const backup = params.get('backup') ?? '';
  checkName('volume', volume);
  if (backup) checkName('backup', backup);
  params.delete('volume');
  params.delete('backup');
  const rest = params.toString();
  return { targetUrl: rest ? `${base}?${rest}` : base, volume, backup };
}

function splitQuery(url: string): [string, string | undefined] {
  const q = url.indexOf('?');
  return q < 0 ? [url, undefined] : [url.slice(0, q), url.slice(q + 1)];
}
