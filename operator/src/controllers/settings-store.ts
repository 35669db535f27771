/**
 * Current Setting values, typed, read from the Setting cache. A missing or invalid value reads
 * as the default (the Setting controller reports the invalid one on the object), so a bad
 * Setting never stops the other controllers.
 */

import {
  defaultSettings,
  parseSetting,
  type Setting,
  type SettingName,
  type SettingValue,
} from '@longhorn-ts/api';
import type { SchedSettings } from '../scheduler/replica-scheduler.js';
import type { VolumeSettings } from '../volume/volume-model.js';

export interface SettingSource {
  get(name: string): Setting | undefined;
}

const DEFAULTS = defaultSettings();

export class SettingsStore {
  constructor(private readonly source: SettingSource) {}

  get<N extends SettingName>(name: N): SettingValue<N> {
    const raw = this.source.get(name)?.value;
    if (raw !== undefined) {
      try {
        return parseSetting(name, raw);
      } catch {
        // Reported by the Setting controller; fall through to the default.
      }
    }
    return parseSetting(name, DEFAULTS[name] ?? '');
  }

  sched(): SchedSettings {
    return {
      overProvisioningPercentage: this.get('storage-over-provisioning-percentage'),
      minimalAvailablePercentage: this.get('storage-minimal-available-percentage'),
      replicaSoftAntiAffinity: this.get('replica-soft-anti-affinity'),
      replicaZoneSoftAntiAffinity: this.get('replica-zone-soft-anti-affinity'),
      replicaDiskSoftAntiAffinity: this.get('replica-disk-soft-anti-affinity'),
      allowEmptyNodeSelectorVolume: this.get('allow-empty-node-selector-volume'),
      allowEmptyDiskSelectorVolume: this.get('allow-empty-disk-selector-volume'),
    };
  }

  volume(): VolumeSettings {
    return {
      autoSalvage: this.get('auto-salvage'),
      replicaReplenishmentWaitInterval: this.get('replica-replenishment-wait-interval'),
      concurrentReplicaRebuildPerNodeLimit: this.get('concurrent-replica-rebuild-per-node-limit'),
    };
  }
}
