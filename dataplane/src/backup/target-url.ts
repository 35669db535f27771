import { isAbsolute, resolve } from 'node:path';
import { credentialsFromEnv } from './credentials.js';
import { BackupError } from './errors.js';
import { FsTarget } from './fs-target.js';
import { NfsTarget } from './nfs-target.js';
import { S3Target } from './s3-target.js';
import type { BackupTarget } from './target.js';

/**
 * Opens the target a URL names:
 * - `s3://bucket@region/path` or `s3://bucket/path` (region from AWS_REGION, else us-east-1);
 * - `vfs:///abs/path` (Longhorn's name for a directory) or a plain absolute path;
 * - `nfs://server:/path[?nfsOptions=...]` (Longhorn's form): NFSv3 through libnfs in user
 *   space (nfs-target.ts), no mount; `?nfsport=N&mountport=N` reach a server without portmapper.
 * `credentials` (a parsed credentials file) take precedence over the environment.
 */
export function openTarget(url: string, credentials: Record<string, string> = {}): BackupTarget {
  if (typeof url !== 'string' || url.trim() === '') {
    throw new BackupError('INVALID_ARGUMENT', 'backup target URL is empty');
  }
  if (isAbsolute(url)) return new FsTarget(resolve(url), url);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'vfs': {
      const path = url.slice('vfs://'.length);
      if (!isAbsolute(path))
        throw new BackupError('INVALID_ARGUMENT', `backup target ${url}: expected vfs:///path`);
      return new FsTarget(resolve(path), url);
    }
    case 's3':
      return new S3Target(parseS3Url(url), url, { ...credentialsFromEnv(), ...credentials });
    case 'nfs':
      return new NfsTarget(url);
    case 'cifs':
    case 'azblob':
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup target ${url}: ${scheme} targets are not supported yet (planned)`,
      );
    default:
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup target ${JSON.stringify(url)}: expected s3://bucket@region/path, nfs://server:/path, vfs:///path or an absolute path`,
      );
  }
}

export function parseS3Url(url: string): { bucket: string; region: string; prefix: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new BackupError('INVALID_ARGUMENT', `backup target ${url} is not a URL`);
  }
  // s3://bucket@region/path: the bucket sits where a URL's user name would.
  const bucket = u.username ? decodeURIComponent(u.username) : u.hostname;
  const region = u.username ? u.hostname : '';
  const prefix = decodeURIComponent(u.pathname).replace(/^\/+|\/+$/g, '');
  // Longhorn asks for a path, and '/' is one: s3://bucket@region/ is the bucket's root.
  if (!bucket || u.pathname === '') {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `invalid URL ${url}: must be s3://bucket@region/path/ or s3://bucket/path`,
    );
  }
  return { bucket, region, prefix };
}
