/**
 * From a BackupTarget CR to an open backupstore: the CR's URL plus its credential Secret (a
 * Secret in longhorn-system with Longhorn's keys AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_ENDPOINTS, AWS_CERT, VIRTUAL_HOSTED_STYLE, ...) become a dataplane BackupTarget. Every
 * refusal is a BackupError with a message a user can act on: no such target, no URL set, the
 * Secret missing, an unsupported scheme. The caller closes the target it gets.
 */

import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  type BackupTarget as BackupTargetResource,
  DEFAULT_BACKUP_TARGET_NAME,
  NAMESPACE,
} from '@longhorn-ts/api';
import { BackupError, type BackupTarget, openTarget, parseNfsUrl } from '@longhorn-ts/dataplane/backup/index';

/** Where the BackupTarget CRs and their Secrets are read from (a cache, the API, a test table). */
export interface TargetReader {
  /** The BackupTarget CR of that name, undefined when there is none. */
  backupTarget(name: string): Promise<BackupTargetResource | undefined>;
  /** The Secret's data, decoded from base64; undefined when there is no such Secret. */
  secret(name: string): Promise<Record<string, string> | undefined>;
}

export interface ResolvedTarget {
  /** The BackupTarget CR's name. */
  name: string;
  url: string;
  /** The Secret's name, '' when the target has none (a directory target). */
  credentialSecret: string;
  credentials: Record<string, string>;
}

/** The URL and credentials a BackupTarget CR names, checked; nothing is opened yet. */
export async function resolveClusterTarget(
  reader: TargetReader,
  targetName: string = DEFAULT_BACKUP_TARGET_NAME,
): Promise<ResolvedTarget> {
  const name = targetName || DEFAULT_BACKUP_TARGET_NAME;
  const cr = await reader.backupTarget(name);
  if (cr === undefined) {
    throw new BackupError('NOT_FOUND', `backup target ${name} does not exist`, { target: name });
  }
  return resolveTargetSpec(cr, reader);
}

/** As `resolveClusterTarget`, for a CR already at hand (the BackupTarget controller's). */
export async function resolveTargetSpec(
  cr: BackupTargetResource,
  reader: Pick<TargetReader, 'secret'>,
): Promise<ResolvedTarget> {
  const name = cr.metadata.name;
  const url = (cr.spec?.backupTargetURL ?? '').trim();
  if (url === '') {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup target ${name} has no URL: set spec.backupTargetURL (or the Setting backup-target for ${DEFAULT_BACKUP_TARGET_NAME})`,
      { target: name },
    );
  }
  checkScheme(name, url);
  const credentialSecret = (cr.spec?.credentialSecret ?? '').trim();
  let credentials: Record<string, string> = {};
  if (credentialSecret !== '') {
    const data = await reader.secret(credentialSecret);
    if (data === undefined) {
      throw new BackupError(
        'INVALID_ARGUMENT',
        `backup target ${name}: credential secret ${credentialSecret} not found in namespace ${NAMESPACE}`,
        { target: url },
      );
    }
    credentials = data;
  } else if (url.startsWith('s3://')) {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup target ${name}: an s3 target needs spec.credentialSecret (a Secret with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`,
      { target: url },
    );
  }
  return { name, url, credentialSecret, credentials };
}

/** Longhorn's schemes we serve; the others are refused before any request is made. */
function checkScheme(name: string, url: string): void {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 's3' || scheme === 'vfs') return;
  if (scheme === 'nfs') {
    parseNfsUrl(url);
    return;
  }
  if (scheme === 'cifs' || scheme === 'azblob') {
    throw new BackupError(
      'INVALID_ARGUMENT',
      `backup target ${name}: ${scheme}:// targets are not supported yet (s3://, nfs:// and vfs:// are)`,
      { target: url },
    );
  }
  throw new BackupError(
    'INVALID_ARGUMENT',
    `backup target ${name}: unsupported URL ${JSON.stringify(url)} (expected s3://bucket@region/path, nfs://server:/path or vfs:///path)`,
    { target: url },
  );
}

/** Opens the store a resolved target names. */
export function openResolvedTarget(resolved: ResolvedTarget): BackupTarget {
  return openTarget(resolved.url, resolved.credentials);
}

/**
 * The one call for controllers: the BackupTarget CR `targetName` (default 'default') and its
 * Secret, opened as a backupstore. `source` is a TargetReader or a KubeConfig (then read through
 * the API server, namespace longhorn-system unless given).
 */
export async function openClusterTarget(
  source: TargetReader | KubeConfig,
  targetName: string = DEFAULT_BACKUP_TARGET_NAME,
  namespace: string = NAMESPACE,
): Promise<BackupTarget> {
  const reader = isReader(source) ? source : apiTargetReader(source, namespace);
  return openResolvedTarget(await resolveClusterTarget(reader, targetName));
}

function isReader(source: TargetReader | KubeConfig): source is TargetReader {
  return typeof (source as Partial<TargetReader>).backupTarget === 'function';
}

/** Decodes a Secret's `data` (base64 values) into strings. */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return out;
}

/** A TargetReader over the API server: BackupTarget CRs and Secrets of one namespace. */
export function apiTargetReader(kubeConfig: KubeConfig, namespace: string = NAMESPACE): TargetReader {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async backupTarget(name) {
      try {
        return (await custom.getNamespacedCustomObject({
          group: API_GROUP,
          version: API_VERSION,
          plural: 'backuptargets',
          namespace,
          name,
        })) as BackupTargetResource;
      } catch (err) {
        if (httpCode(err) === 404) return undefined;
        throw err;
      }
    },
    secret: apiSecretReader(kubeConfig, namespace, core),
  };
}

/** Reads a Secret's decoded data through the API server; undefined when it does not exist. */
export function apiSecretReader(
  kubeConfig: KubeConfig,
  namespace: string = NAMESPACE,
  core: CoreV1Api = kubeConfig.makeApiClient(CoreV1Api),
): (name: string) => Promise<Record<string, string> | undefined> {
  return async (name) => {
    try {
      const secret = await core.readNamespacedSecret({ name, namespace });
      return { ...decodeSecretData(secret.data), ...(secret.stringData ?? {}) };
    } catch (err) {
      if (httpCode(err) === 404) return undefined;
      throw err;
    }
  };
}

function httpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}
