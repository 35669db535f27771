import { describe, expect, it } from 'vitest';
import { capabilityProblem, volumeAccessMode } from '../src/controller/capabilities.js';
import { parseParameters } from '../src/controller/parameters.js';
import { roundUp, sizeFor, sizeSatisfies } from '../src/controller/sizes.js';
import { objectName, parseSnapshotId, snapshotId } from '../src/controller/snapshot-ids.js';
import { CsiError } from '../src/errors.js';

const MiB = 1024 * 1024;

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (err instanceof CsiError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('StorageClass parameters', () => {
  it("turns Longhorn's chart StorageClass into Volume spec fields and keeps fsType for the node", () => {
    const parsed = parseParameters({
      numberOfReplicas: '3',
      staleReplicaTimeout: '30',
      fromBackup: '',
      fsType: 'ext4',
      dataLocality: 'best-effort',
      unmapMarkSnapChainRemoved: 'ignored',
      disableRevisionCounter: 'true',
      dataEngine: 'v1',
      backupTargetName: 'default',
      diskSelector: 'ssd, fast',
      nodeSelector: 'storage',
      replicaAutoBalance: 'best-effort',
      replicaSoftAntiAffinity: 'disabled',
      replicaZoneSoftAntiAffinity: 'enabled',
      replicaDiskSoftAntiAffinity: 'ignored',
      mkfsParams: '-I 256',
      'csi.storage.k8s.io/pvc/name': 'data',
    });
    expect(parsed.spec).toEqual({
      numberOfReplicas: 3,
      staleReplicaTimeout: 30,
      backupTargetName: 'default',
      dataLocality: 'best-effort',
      unmapMarkSnapChainRemoved: 'ignored',
      revisionCounterDisabled: true,
      diskSelector: ['ssd', 'fast'],
      nodeSelector: ['storage'],
      replicaAutoBalance: 'best-effort',
      replicaSoftAntiAffinity: 'disabled',
      replicaZoneSoftAntiAffinity: 'enabled',
      replicaDiskSoftAntiAffinity: 'ignored',
    });
    expect(parsed.volumeContext.fsType).toBe('ext4');
    expect(parsed.volumeContext.mkfsParams).toBe('-I 256');
    expect(parsed.volumeContext['csi.storage.k8s.io/pvc/name']).toBeUndefined();
  });

  it('encrypted: "true" becomes spec.encrypted; the secret parameters are the provisioner\'s', () => {
    // The provisioner's templates (${pvc.name}), written without a template-looking literal.
    const tpl = (v: string) => `$${'{'}${v}}`;
    const parsed = parseParameters({
      encrypted: 'true',
      'csi.storage.k8s.io/node-stage-secret-name': tpl('pvc.name'),
      'csi.storage.k8s.io/node-stage-secret-namespace': tpl('pvc.namespace'),
    });
    expect(parsed.spec).toEqual({ encrypted: true });
    expect(parsed.volumeContext).toEqual({ encrypted: 'true' });
    expect(parseParameters({ encrypted: 'false' }).spec).toEqual({ encrypted: false });
  });

  it('turns the QoS parameters (longhorn-ts extension) into one spec.qos', () => {
    const parsed = parseParameters({
      iopsLimit: '500',
      writeBandwidthLimit: '10485760',
      qosBurstSeconds: '2',
    });
    expect(parsed.spec).toEqual({ qos: { iops: 500, writeBandwidth: 10485760, burstSeconds: 2 } });
  });

  it('backupTargetName: the BackupTarget the backups go to; empty is the default one', () => {
    expect(parseParameters({ backupTargetName: 'offsite' }).spec).toEqual({ backupTargetName: 'offsite' });
    expect(parseParameters({ backupTargetName: '' }).spec).toEqual({});
    expect(() => parseParameters({ backupTargetName: 'Off Site' })).toThrow(
      'parameter backupTargetName: "Off Site" is not a BackupTarget name (lower case, digits, \'-\')',
    );
  });

  it('fromBackup: a backup URL becomes spec.fromBackup (the volume is restored from it); empty is none', () => {
    const url = 's3://backupbucket@us-east-1/?backup=backup-0123456789abcdef&volume=pvc-1';
    expect(parseParameters({ fromBackup: url }).spec).toEqual({ fromBackup: url });
    expect(parseParameters({ fromBackup: '' }).spec).toEqual({});
  });

  it.each([
    [
      { replicas: '3', colour: 'red' },
      'INVALID_ARGUMENT',
      /unknown StorageClass parameters colour, replicas/,
    ],
    [{ numberOfReplicas: '21' }, 'INVALID_ARGUMENT', /numberOfReplicas: "21" is not an integer from 1 to 20/],
    [{ numberOfReplicas: 'three' }, 'INVALID_ARGUMENT', /numberOfReplicas/],
    [
      { dataLocality: 'near' },
      'INVALID_ARGUMENT',
      /dataLocality: "near" is not one of disabled, best-effort, strict-local/,
    ],
    [{ fsType: 'btrfs' }, 'INVALID_ARGUMENT', /fsType: "btrfs" is not one of ext4, xfs/],
    [{ disableRevisionCounter: 'yes' }, 'INVALID_ARGUMENT', /not true or false/],
    [
      { fromBackup: 's3://b@r/?backup=x' },
      'INVALID_ARGUMENT',
      /^parameter fromBackup: "s3:\/\/b@r\/\?backup=x" is not a backup URL \(invalid volume name "": .*\); write s3:\/\/<bucket>@<region>\/\?backup=<backup>&volume=<volume>$/,
    ],
    [{ fromBackup: 's3://b@r/?volume=v1' }, 'INVALID_ARGUMENT', /is not a backup URL \(it names no backup\)/],
    [
      { fromBackup: 'backup-1' },
      'INVALID_ARGUMENT',
      /"backup-1" is not a backup URL \(no <scheme>:\/\/ target\)/,
    ],
    [{ dataEngine: 'v2' }, 'FAILED_PRECONDITION', /v1 data engine only/],
    [{ encrypted: 'yes' }, 'INVALID_ARGUMENT', /parameter encrypted: "yes" is not true or false/],
    [
      { iopsLimit: '0' },
      'INVALID_ARGUMENT',
      /iopsLimit: "0" is not an integer from 1 to .* \(leave it out for no limit\)/,
    ],
    [{ writeBandwidthLimit: '-1' }, 'INVALID_ARGUMENT', /writeBandwidthLimit: "-1"/],
    [{ qosBurstSeconds: '61' }, 'INVALID_ARGUMENT', /qosBurstSeconds: "61" is not an integer from 1 to 60/],
  ])('refuses %j', (params, code, message) => {
    const r = refusal(() => parseParameters(params as Record<string, string>));
    expect(r.code).toBe(code);
    expect(r.message).toMatch(message);
  });
});

describe('sizes', () => {
  it.each([
    [{ requiredBytes: 1 }, 2 * MiB],
    [{ requiredBytes: 2 * MiB }, 2 * MiB],
    [{ requiredBytes: 2 * MiB + 1 }, 4 * MiB],
    [{}, 2048 * MiB],
    [{ limitBytes: 5 * MiB }, 4 * MiB],
    [{ requiredBytes: 3 * MiB, limitBytes: 4 * MiB }, 4 * MiB],
  ])('%j → %d bytes', (range, size) => {
    expect(sizeFor(range)).toBe(size);
  });

  it('refuses ranges it cannot meet with OUT_OF_RANGE', () => {
    expect(refusal(() => sizeFor({ requiredBytes: 3 * MiB, limitBytes: 3 * MiB })).code).toBe('OUT_OF_RANGE');
    expect(refusal(() => sizeFor({ requiredBytes: 5, limitBytes: 4 })).message).toMatch(/exceed limit/);
    expect(refusal(() => sizeFor({ limitBytes: MiB })).code).toBe('OUT_OF_RANGE');
  });

  it('a repeated request is satisfied by a volume within its range', () => {
    expect(sizeSatisfies(4 * MiB, { requiredBytes: 3 * MiB })).toBe(true);
    expect(sizeSatisfies(4 * MiB, { requiredBytes: 5 * MiB })).toBe(false);
    expect(sizeSatisfies(4 * MiB, { requiredBytes: MiB, limitBytes: 2 * MiB })).toBe(false);
    expect(roundUp(1)).toBe(2 * MiB);
  });
});

describe('capabilities', () => {
  it('serves single-node modes, mount (ext4/xfs) and block; refuses RWX and other file systems', () => {
    expect(
      capabilityProblem({
        accessType: 'mount',
        mount: { fsType: 'xfs' },
        accessMode: { mode: 'SINGLE_NODE_WRITER' },
      }),
    ).toBeUndefined();
    expect(
      capabilityProblem({
        accessType: 'block',
        block: {},
        accessMode: { mode: 'SINGLE_NODE_SINGLE_WRITER' },
      }),
    ).toBeUndefined();
    expect(
      capabilityProblem({ accessType: 'mount', mount: {}, accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' } }),
    ).toMatch(/share manager/);
    expect(
      capabilityProblem({
        accessType: 'mount',
        mount: { fsType: 'btrfs' },
        accessMode: { mode: 'SINGLE_NODE_WRITER' },
      }),
    ).toMatch(/btrfs/);
    expect(capabilityProblem({ accessMode: { mode: 'SINGLE_NODE_WRITER' } })).toMatch(/access type/);
    expect(capabilityProblem({ accessType: 'block', block: {} })).toMatch(/access mode/);
    expect(volumeAccessMode([{ accessMode: { mode: 'SINGLE_NODE_SINGLE_WRITER' } }])).toBe('rwop');
    expect(volumeAccessMode([{ accessMode: { mode: 'SINGLE_NODE_WRITER' } }])).toBe('rwo');
  });
});

describe('names and ids', () => {
  it('corrects CSI names into object names, long ones with a hash suffix', () => {
    expect(objectName('pvc-1b2c')).toBe('pvc-1b2c');
    expect(objectName('Sanity Node_Full--')).toBe('sanity-node-full');
    const long = `sanity-controller-create-volume-with-a-very-long-name-${'x'.repeat(30)}`;
    const a = objectName(`${long}-A1`);
    const b = objectName(`${long}-B2`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/);
  });

  it('snapshot ids are snap://<volume>/<snapshot>', () => {
    expect(snapshotId('vol', 'snap-1')).toBe('snap://vol/snap-1');
    expect(parseSnapshotId('snap://vol/snap-1')).toEqual({ volume: 'vol', snapshot: 'snap-1' });
    expect(parseSnapshotId('bak://vol/x')).toBeUndefined();
    expect(parseSnapshotId('snap://vol')).toBeUndefined();
  });
});
