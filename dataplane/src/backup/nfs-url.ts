import { BackupError } from './errors.js';

/**
 * Longhorn's NFS target URL, `nfs://SERVER:/EXPORT/PATH[?nfsOptions=...]`, as the libnfs URL the
 * user-space client (native/lh-nfs.c) mounts: `nfs://SERVER/EXPORT/PATH`. Longhorn hands
 * `nfsOptions` to mount(8); a user-space client has no use for them, so they are dropped.
 * `nfsport` and `mountport` (longhorn-ts extension: a server without a portmapper, or on other
 * ports) pass through to libnfs.
 */
export interface NfsLocation {
  server: string;
  path: string;
  /** The URL lh-nfs is given. */
  libnfsUrl: string;
}

const PASSED = ['nfsport', 'mountport'] as const;
const KNOWN = new Set<string>([...PASSED, 'nfsOptions']);

export function parseNfsUrl(url: string): NfsLocation {
  const m = /^nfs:\/\/(\[[^\]]+\]|[^/:?#]+):(\/[^?#]*)(?:\?([^#]*))?$/i.exec(url);
  if (!m) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup target ${JSON.stringify(url)}: expected nfs://SERVER:/EXPORT/PATH (Longhorn's form)`,
    );
  }
  const server = m[1]!;
  const path = m[2]!.replace(/\/+$/, '') || '/';
  if (path.split('/').includes('..'))
    throw new BackupError('INVALID_ARGUMENT', `backup target ${url}: the path may not contain ".."`);
  const query = new URLSearchParams(m[3] ?? '');
  const passed: string[] = [];
  for (const [key, value] of query) {
    if (!KNOWN.has(key))
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup target ${url}: unknown option ${key} (known: nfsOptions, nfsport, mountport)`,
      );
    if ((PASSED as readonly string[]).includes(key)) {
      if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535)
        throw new BackupError(
          'INVALID_ARGUMENT',
          `backup target ${url}: ${key} must be a port, got ${JSON.stringify(value)}`,
        );
      passed.push(`${key}=${value}`);
    }
  }
  const encodedPath = path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return {
    server,
    path,
    libnfsUrl: `nfs://${server}${encodedPath}${passed.length ? `?${passed.join('&')}` : ''}`,
  };
}
