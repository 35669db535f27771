import { isSettingName, LONGHORN_API_VERSION, settingDefinition, validateSetting } from '@longhorn-ts/api';
import { Args } from '@oclif/core';
import { LonghornCommand } from '../../base-command.js';
import { PluginError, usageError } from '../../errors.js';

export default class SettingSet extends LonghornCommand {
  static override summary =
    'Change a setting; the value is checked against the Settings registry before it is sent';
  static override examples = [
    'kubectl longhorn setting set default-replica-count 2',
    'kubectl longhorn setting set storage-over-provisioning-percentage 200',
  ];
  static override args = {
    name: Args.string({ required: true, description: 'Setting name' }),
    value: Args.string({ required: true, description: 'New value' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SettingSet);
    const check = validateSetting(args.name, args.value);
    if (!check.ok) throw usageError(check.error);
    if (isSettingName(args.name) && settingDefinition(args.name).readOnly) {
      throw new PluginError('REFUSED', `setting ${args.name} is read-only: the system sets it`);
    }
    const client = await this.client(flags);
    const existing = await client.tryGet('settings', args.name);
    if (existing) {
      await client.patch('settings', args.name, { value: args.value });
    } else {
      await client.create('settings', {
        apiVersion: LONGHORN_API_VERSION,
        kind: 'Setting',
        metadata: { name: args.name, namespace: flags.namespace },
        value: args.value,
      });
    }
    this.print(`setting.longhorn.io/${args.name} set to ${JSON.stringify(args.value)}`);
  }
}
