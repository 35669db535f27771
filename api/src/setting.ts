/**
 * Setting (lhs): one cluster-wide setting. It has no spec: the value sits at the top level, a
 * string, as Longhorn has it. Names, types, defaults and validation are in `settings.ts`.
 */
import type { LONGHORN_API_VERSION, ObjectMeta } from './object-meta.js';
import { bool, obj, str } from './schema/builders.js';
import { AGE_COLUMN, type ResourceDefinition } from './schema/crd.js';
import type { Infer } from './schema/json-schema.js';
import type { Expect, SameShape } from './schema/schema-match.js';

export interface SettingStatus {
  /** The components that use the setting have taken the current value. */
  applied: boolean;
}

export interface Setting {
  apiVersion: typeof LONGHORN_API_VERSION;
  kind: 'Setting';
  /** metadata.name is the setting's name, e.g. `default-replica-count`. */
  metadata: ObjectMeta;
  /** Always a string, also for numbers and booleans: `"3"`, `"true"`. */
  value: string;
  status?: SettingStatus;
}

const settingStatus = obj({ applied: bool() }, { required: ['applied'] });

type _StatusCheck = Expect<SameShape<SettingStatus, Infer<typeof settingStatus>>>;

export const settingResource: ResourceDefinition = {
  kind: 'Setting',
  plural: 'settings',
  shortNames: ['lhs'],
  description: 'One cluster-wide setting; metadata.name is the setting name, value its value as a string.',
  properties: { value: str(), status: settingStatus },
  required: ['value'],
  printerColumns: [
    { name: 'Value', type: 'string', jsonPath: '.value', description: 'The value of the setting' },
    { name: 'Applied', type: 'boolean', jsonPath: '.status.applied', description: 'The setting is applied' },
    AGE_COLUMN,
  ],
};
