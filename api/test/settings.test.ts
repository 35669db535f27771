import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  defaultSettingObjects,
  defaultSettings,
  InvalidSettingError,
  parseSetting,
  SETTING_CATEGORIES,
  SETTING_DEFINITIONS,
  SETTING_NAMES,
  type SettingSpec,
  validateSetting,
} from '../src/settings.js';

/** The defaults the issue and Longhorn's types/setting.go give. */
const LONGHORN_DEFAULTS: Record<string, string> = {
  'default-replica-count': '3',
  'storage-over-provisioning-percentage': '100',
  'storage-minimal-available-percentage': '25',
  'storage-reserved-percentage-for-default-disk': '30',
  'replica-soft-anti-affinity': 'false',
  'replica-zone-soft-anti-affinity': 'true',
  'replica-disk-soft-anti-affinity': 'true',
  'replica-auto-balance': 'disabled',
  'auto-salvage': 'true',
  'concurrent-replica-rebuild-per-node-limit': '5',
  'engine-replica-timeout': '8',
  'default-data-locality': 'disabled',
  'replica-replenishment-wait-interval': '600',
  'snapshot-max-count': '250',
  'create-default-disk-labeled-nodes': 'false',
  'default-data-path': '/var/lib/longhorn',
  'backupstore-poll-interval': '300',
  'allow-volume-creation-with-degraded-availability': 'true',
  'node-down-pod-deletion-policy': 'do-nothing',
  'disable-scheduling-on-cordoned-node': 'true',
  'default-longhorn-static-storage-class': 'longhorn-static',
  'backup-compression-method': 'lz4',
  'recurring-job-max-retention': '100',
  'node-drain-policy': 'block-if-contains-last-replica',
  'backup-target': '',
  'backup-target-credential-secret': '',
};

describe('the Settings registry', () => {
  it("has Longhorn's defaults", () => {
    const defaults = defaultSettings();
    for (const [name, value] of Object.entries(LONGHORN_DEFAULTS)) expect(defaults[name], name).toBe(value);
  });

  it('has defaults that pass its own validation', () => {
    for (const [name, value] of Object.entries(defaultSettings())) {
      expect(validateSetting(name, value), `${name}=${value}`).toEqual({ ok: true });
    }
  });

  it('leaves read-only settings out of the defaults and sorts every setting into a category', () => {
    const defaults = defaultSettings();
    for (const name of SETTING_NAMES) {
      const spec: SettingSpec = SETTING_DEFINITIONS[name];
      expect(SETTING_CATEGORIES).toContain(spec.category);
      if (spec.readOnly) expect(defaults, name).not.toHaveProperty(name);
      expect(name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    }
    expect(Object.keys(defaults).length).toBeGreaterThan(100);
  });

  it('makes Setting objects for longhorn-system', () => {
    const objects = defaultSettingObjects();
    expect(objects.find((s) => s.metadata.name === 'default-replica-count')).toEqual({
      apiVersion: 'longhorn.io/v1beta2',
      kind: 'Setting',
      metadata: { name: 'default-replica-count', namespace: 'longhorn-system' },
      value: '3',
    });
  });
});

describe('validateSetting', () => {
  it.each([
    ['default-replica-count', '1'],
    ['default-replica-count', '20'],
    ['default-replica-count', ' 3 '],
    ['default-replica-count', '{"v1":"2","v2":"3"}'],
    ['default-replica-count', '{"v1":"2"}'],
    ['engine-replica-timeout', '30'],
    ['auto-salvage', 'false'],
    ['auto-salvage', 'True'],
    ['auto-salvage', '1'],
    ['default-data-locality', 'strict-local'],
    ['replica-auto-balance', 'best-effort'],
    ['storage-minimal-available-percentage', '0'],
    ['guaranteed-instance-manager-cpu', '12.5'],
    ['snapshot-data-integrity-cronjob', '0 3 * * 0'],
    ['backup-target', 's3://backups@us-east-1/longhorn'],
    ['backup-target', 'nfs://10.0.0.2:/exports/backups'],
    ['backup-target', 'cifs://server/share$/path'],
    ['backup-target', ''],
    ['backup-target-credential-secret', 'minio-secret'],
    ['default-data-path', '/mnt/disk1/longhorn/'],
    ['taint-toleration', 'key1=value1:NoSchedule; key2:NoExecute'],
    ['system-managed-components-node-selector', 'label-key1:label-value1;label-key2:label-value2'],
    ['orphan-resource-auto-deletion', 'replica-data;instance'],
    ['default-backup-block-size', '16'],
    ['log-level', 'Debug'],
    ['storage-network', 'kube-system/storage'],
    ['priority-class', ''],
  ])('accepts %s=%j', (name, value) => {
    expect(validateSetting(name, value)).toEqual({ ok: true });
  });

  it.each([
    [
      'default-replica-count',
      '0',
      'setting default-replica-count: 0 is below the minimum 1; use an integer from 1 to 20',
    ],
    [
      'default-replica-count',
      '21',
      'setting default-replica-count: 21 is above the maximum 20; use an integer from 1 to 20',
    ],
    [
      'default-replica-count',
      'three',
      'setting default-replica-count: "three" is not an integer; use an integer from 1 to 20',
    ],
    ['default-replica-count', '', 'setting default-replica-count needs a value: an integer from 1 to 20'],
    [
      'default-replica-count',
      '{"v3":"3"}',
      'setting default-replica-count: data engine "v3" does not apply; use v1, v2',
    ],
    [
      'default-replica-count',
      '{"v1":3}',
      'setting default-replica-count: the v1 value must be a string, as in {"v1":"3","v2":"3"}',
    ],
    [
      'default-replica-count',
      '{"v1":"30"}',
      'setting default-replica-count (v1): 30 is above the maximum 20',
    ],
    ['default-replica-count', '{oops', 'setting default-replica-count: {oops is not valid JSON'],
    [
      'engine-replica-timeout',
      '7',
      'setting engine-replica-timeout: 7 is below the minimum 8; use an integer from 8 to 30',
    ],
    ['auto-salvage', 'yes', 'setting auto-salvage: "yes" is not a boolean; use "true" or "false"'],
    ['storage-over-provisioning-percentage', '-1', 'is below the minimum 0; use an integer of at least 0'],
    [
      'default-data-locality',
      'foo',
      'setting default-data-locality: "foo" is not one of disabled, best-effort, strict-local',
    ],
    ['replica-auto-balance', 'ignored', '"ignored" is not one of disabled, least-effort, best-effort'],
    ['default-backup-block-size', '4', '"4" is not one of 2, 16'],
    ['guaranteed-instance-manager-cpu', '41', '41 is above the maximum 40; use a number from 0 to 40'],
    ['guaranteed-instance-manager-cpu', 'lots', '"lots" is not a number'],
    ['snapshot-max-count', '1', '1 is below the minimum 2; use an integer from 2 to 250'],
    ['snapshot-data-integrity-cronjob', '0 3 * *', 'cron "0 3 * *": 4 fields instead of 5'],
    ['backup-target', 'ftp://host/path', 'scheme "ftp" is not one of s3, nfs, cifs, azblob'],
    ['backup-target', 'nfs://host:/a,b', 'holds "$" or ","'],
    ['backup-target', 'backups', '"backups" is not a URL; use a URL such as s3://bucket@region/path'],
    ['backup-target-credential-secret', 'Minio_Secret', '"Minio_Secret" is not a valid name'],
    ['default-data-path', 'var/lib/longhorn', '"var/lib/longhorn" is not an absolute path other than /'],
    ['default-data-path', '/', 'is not an absolute path other than /'],
    ['default-control-path', '/dev/shm', '"/dev/shm" is under /dev'],
    ['taint-toleration', 'key1=value1', '"key1=value1" is not key=value:effect or key:effect'],
    [
      'taint-toleration',
      'k:Sometimes',
      'effect "Sometimes" is not one of NoExecute, NoSchedule, PreferNoSchedule',
    ],
    ['orphan-resource-auto-deletion', 'replica-data;engine', 'unknown orphan types engine'],
    ['storage-network', 'storage', '"storage" is not <namespace>/<name>'],
    [
      'default-replica-cuont',
      '3',
      'unknown setting "default-replica-cuont"; did you mean "default-replica-count"?',
    ],
    [
      'no-such-thing-at-all',
      '3',
      'unknown setting "no-such-thing-at-all" (the known ones: kubectl -n longhorn-system get lhs)',
    ],
  ])('refuses %s=%j: %s', (name, value, message) => {
    const check = validateSetting(name, value);
    expect(check.ok).toBe(false);
    if (!check.ok) expect(check.error).toContain(message);
  });
});

describe('parseSetting', () => {
  it('returns typed values', () => {
    const replicas = parseSetting('default-replica-count', '3');
    expectTypeOf(replicas).toEqualTypeOf<number>();
    expect(replicas).toBe(3);

    const salvage = parseSetting('auto-salvage', 'False');
    expectTypeOf(salvage).toEqualTypeOf<boolean>();
    expect(salvage).toBe(false);

    const locality = parseSetting('default-data-locality', 'best-effort');
    expectTypeOf(locality).toEqualTypeOf<'disabled' | 'best-effort' | 'strict-local'>();
    expect(locality).toBe('best-effort');

    expect(parseSetting('guaranteed-instance-manager-cpu', '12.5')).toBe(12.5);
    expect(parseSetting('default-data-path', '/data')).toBe('/data');
    expect(parseSetting('backup-target', '')).toBe('');
  });

  it('takes the v1 value of a per-engine JSON value', () => {
    expect(parseSetting('default-replica-count', '{"v1":"2","v2":"3"}')).toBe(2);
    expect(parseSetting('engine-replica-timeout', '{"v2":"12","v1":"10"}')).toBe(10);
  });

  it('throws what validateSetting says', () => {
    expect(() => parseSetting('default-replica-count', '21')).toThrow(InvalidSettingError);
    expect(() => parseSetting('default-replica-count', '21')).toThrow(/above the maximum 20/);
  });
});
