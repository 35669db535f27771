/**
 * The Settings backup-target, backup-target-credential-secret and backupstore-poll-interval feed
 * the BackupTarget "default" (Longhorn before 1.8 kept the default target in these Settings
 * and its setting controller copied them into the CR; our Settings registry keeps them, so
 * YAML written for either version works). What was last copied is remembered in an annotation
 * on the CR: the CR changes only when the Settings change, so an edit of the CR itself (the 1.8
 * way) stands, also across operator restarts.
 */

import type { BackupTargetSpec } from '@longhorn-ts/api';
import { formatGoDuration } from './go-duration.js';

/** On the BackupTarget: the spec the Settings last asked for, as JSON. */
export const APPLIED_SETTINGS_ANNOTATION = 'longhorn-ts.io/applied-settings';

export interface BackupTargetSettings {
  backupTarget: string;
  credentialSecret: string;
  /** Seconds; 0 stops polling. */
  pollIntervalSeconds: number;
}

export type SettingsSpec = Required<
  Pick<BackupTargetSpec, 'backupTargetURL' | 'credentialSecret' | 'pollInterval'>
>;

/** The spec the Settings ask for. */
export function specFromSettings(s: BackupTargetSettings): SettingsSpec {
  return {
    backupTargetURL: s.backupTarget.trim(),
    credentialSecret: s.credentialSecret.trim(),
    pollInterval: formatGoDuration(s.pollIntervalSeconds),
  };
}

export interface SettingsUpdate {
  /** Spec fields to change (may be empty: only the annotation is written). */
  spec: Partial<BackupTargetSpec>;
  annotation: string;
}

/**
 * What to write on the default BackupTarget for these Settings; undefined when the Settings did
 * not change since they were last applied. The first time (no annotation) Settings left at their
 * defaults (no URL) do not clear a URL set on the CR itself.
 */
export function settingsUpdate(
  spec: BackupTargetSpec | undefined,
  appliedAnnotation: string | undefined,
  s: BackupTargetSettings,
): SettingsUpdate | undefined {
  const want = specFromSettings(s);
  const annotation = JSON.stringify(want);
  if (appliedAnnotation === annotation) return undefined;
  const applied = parseApplied(appliedAnnotation);
  const out: Partial<BackupTargetSpec> = {};
  for (const field of ['backupTargetURL', 'credentialSecret', 'pollInterval'] as const) {
    const changed =
      applied === undefined
        ? // First time: default Settings (no URL) leave a CR made the 1.8 way alone.
          want.backupTargetURL !== '' || (field === 'pollInterval' && !spec?.pollInterval)
        : applied[field] !== want[field];
    if (changed && (spec?.[field] ?? '') !== want[field]) out[field] = want[field];
  }
  return { spec: out, annotation };
}

function parseApplied(text: string | undefined): Partial<SettingsSpec> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Partial<SettingsSpec>) : {};
  } catch {
    return {};
  }
}
