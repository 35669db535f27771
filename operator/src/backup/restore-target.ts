/**
 * The backup target a restore reads: the BackupTarget CR whose URL is the one in the volume's
 * fromBackup (Longhorn's backup URL carries the target URL), opened with that CR's credential
 * Secret (target-access.ts), the key of an encrypted backup volume (CRYPTO_KEY_VALUE in the
 * Secret, as the local tool reads it from its credentials file), and the CR's poll interval,
 * which a standby volume follows its backup volume at.
 */

import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import {
  API_GROUP,
  API_VERSION,
  type BackupTarget as BackupTargetResource,
  DEFAULT_BACKUP_TARGET_NAME,
  NAMESPACE,
} from '@longhorn-ts/api';
import { type BlockKey, deriveBlockKey } from '@longhorn-ts/dataplane/backup/block-crypto';
import { BackupError } from '@longhorn-ts/dataplane/backup/errors';
import type { BackupTarget } from '@longhorn-ts/dataplane/backup/target';
import { pollIntervalMs } from '../volume/volume-restore.js';
import { apiSecretReader, openResolvedTarget, resolveTargetSpec } from './target-access.js';

// The project runs on Node 20 on purpose (DESIGN.md): the S3 SDK's notice about its future
// Node 22 requirement would otherwise land in the operator's log at every restore.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface OpenedRestoreTarget {
  /** The BackupTarget CR's name. */
  name: string;
  target: BackupTarget;
  encryptionKey?: BlockKey;
  pollMs: number;
}

export interface RestoreTargets {
  /** Opens the target of a backup URL; the caller closes it. */
  open(targetUrl: string, preferredName?: string): Promise<OpenedRestoreTarget>;
}

/** Longhorn's default BackupTarget poll interval (5m0s) when the CR says nothing usable. */
export const DEFAULT_POLL_MS = 300_000;

const normal = (url: string) => url.trim().replace(/\/+$/, '');

/**
 * The BackupTarget CR serving `targetUrl`: the one with that URL (trailing slashes aside),
 * `preferred` (the volume's backupTargetName, else 'default') first when several have it. A
 * message when none does: a restore never reads a store the cluster was not configured with.
 */
export function matchRestoreTarget(
  crs: readonly BackupTargetResource[],
  targetUrl: string,
  preferred = DEFAULT_BACKUP_TARGET_NAME,
): BackupTargetResource | string {
  const want = normal(targetUrl);
  const fits = crs.filter(
    (t) => t.metadata.deletionTimestamp === undefined && normal(t.spec?.backupTargetURL ?? '') === want,
  );
  const pick = fits.find((t) => t.metadata.name === (preferred || DEFAULT_BACKUP_TARGET_NAME)) ?? fits[0];
  if (pick) return pick;
  const known = crs.map((t) => `${t.metadata.name}=${t.spec?.backupTargetURL || '(no URL)'}`).join(', ');
  return `no BackupTarget has URL ${targetUrl} (${known || 'there is no BackupTarget'}): create one with that spec.backupTargetURL and its credentialSecret`;
}

/** The targets of a cluster, read through the API server (BackupTargets are few and rarely read). */
export function apiRestoreTargets(kubeConfig: KubeConfig, namespace: string = NAMESPACE): RestoreTargets {
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  const secret = apiSecretReader(kubeConfig, namespace);
  return {
    async open(targetUrl, preferredName) {
      const list = (await custom.listNamespacedCustomObject({
        group: API_GROUP,
        version: API_VERSION,
        plural: 'backuptargets',
        namespace,
      })) as { items?: BackupTargetResource[] };
      const cr = matchRestoreTarget(list.items ?? [], targetUrl, preferredName);
      if (typeof cr === 'string') throw new BackupError('NOT_FOUND', cr, { target: targetUrl });
      const resolved = await resolveTargetSpec(cr, { secret });
      const passphrase = resolved.credentials.CRYPTO_KEY_VALUE;
      return {
        name: resolved.name,
        target: openResolvedTarget(resolved),
        ...(passphrase ? { encryptionKey: deriveBlockKey(passphrase) } : {}),
        pollMs: pollIntervalMs(cr.spec?.pollInterval, DEFAULT_POLL_MS) ?? DEFAULT_POLL_MS,
      };
    },
  };
}
