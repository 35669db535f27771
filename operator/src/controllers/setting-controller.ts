/**
 * Setting: installs every missing default Setting, validates values, and reports each on its
 * object: status.applied true for a valid value; false and a Warning event naming the reason
 * for an invalid one (the other controllers then use the default; see SettingsStore).
 * One live operator (by rendezvous hash of the key) writes each Setting's status.
 */

import { defaultSettingObjects, LONGHORN_API_VERSION, type Setting, validateSetting } from '@longhorn-ts/api';
import { KINDS } from '../k8s/kinds.js';
import type { ReconcileResult } from '../runtime/work-queue.js';
import { type ControllerContext, isMine, nameOfKey } from './context.js';

export const SETTING_CONTROLLER = 'setting';

export interface SettingVerdict {
  applied: boolean;
  /** Set when the value is refused: the event's message. */
  error?: string;
}

/** What the Setting's status should say about its value. */
export function settingVerdict(setting: Pick<Setting, 'metadata' | 'value'>): SettingVerdict {
  const check = validateSetting(setting.metadata.name, setting.value ?? '');
  return check.ok ? { applied: true } : { applied: false, error: check.error };
}

/** Create every default Setting the cache does not hold; one that appeared meanwhile is fine. */
export async function installDefaultSettings(ctx: ControllerContext): Promise<number> {
  let created = 0;
  for (const obj of defaultSettingObjects(ctx.id.namespace)) {
    if (ctx.caches.settings.get(obj.metadata.name, ctx.id.namespace) !== undefined) continue;
    try {
      await ctx.client.create(KINDS.setting, obj as unknown as { metadata: { name: string } });
      created++;
    } catch (err) {
      if ((err as { status?: number }).status !== 409) throw err;
    }
  }
  return created;
}

export class SettingController {
  constructor(private readonly ctx: ControllerContext) {
    ctx.dispatcher.watch<Setting>('Setting', SETTING_CONTROLLER, (s) => [
      `${s.metadata.namespace}/${s.metadata.name}`,
    ]);
  }

  async reconcile(key: string): Promise<ReconcileResult | undefined> {
    const { ctx } = this;
    const setting = ctx.caches.settings.get(nameOfKey(key), ctx.id.namespace);
    if (setting === undefined || setting.metadata.deletionTimestamp !== undefined) return undefined;
    if (!isMine(ctx, key, '', '')) return undefined;
    const verdict = settingVerdict(setting);
    if (!verdict.applied) {
      ctx.events.record(
        { ...setting, apiVersion: LONGHORN_API_VERSION, kind: 'Setting' },
        'Warning',
        'InvalidSetting',
        `${verdict.error}; the default is used until it is corrected`,
      );
    }
    if (setting.status?.applied !== verdict.applied) {
      await ctx.client.patchStatus(KINDS.setting, setting, { applied: verdict.applied });
    }
    return undefined;
  }
}
