/** Setting rules: a known name and a value of the right type and range (the api's registry). */
import { type Setting, validateSetting } from '@longhorn-ts/api';
import type { Rule } from './rules.js';

const knownAndValid: Rule<Setting> = ({ object }) => {
  const name = object.metadata.name;
  if (typeof object.value !== 'string') {
    return `setting ${name}: value ${JSON.stringify(object.value)} is not a string; quote it, e.g. value: "3"`;
  }
  const check = validateSetting(name, object.value);
  return check.ok ? undefined : check.error;
};

export const SETTING_RULES: readonly Rule<Setting>[] = [knownAndValid];
