import { CSI_DRIVER_NAME } from '@longhorn-ts/api';
import { Args, Flags } from '@oclif/core';
import { LonghornCommand, outputFlag, timeoutFlag, waitFlag } from '../../base-command.js';
import { PluginError, usageError } from '../../errors.js';
import type { LonghornClient } from '../../kube/client.js';
import { parseLabels, snapshotName, snapshotObject } from '../../kube/snapshot-spec.js';
import type { VolumeSnapshotClient } from '../../kube/volume-snapshot-client.js';
import {
  parseNamespacedName,
  parseSnapHandle,
  pickSnapshotClass,
  type VolumeSnapshot,
  volumeSnapshotObject,
} from '../../kube/volume-snapshots.js';
import { renderNames, renderStructured } from '../../output/format.js';
import { waitUntil } from '../../output/wait.js';

interface CsiFlags {
  pvc?: string | undefined;
  'volume-snapshot'?: string | undefined;
  class?: string | undefined;
  output: string;
  wait: boolean;
  timeout: number;
}

export default class SnapshotCreate extends LonghornCommand {
  static override summary = 'Take a snapshot of a volume (a Snapshot CR, or a VolumeSnapshot of its PVC)';
  static override description =
    "Without --pvc/--volume-snapshot: a Longhorn Snapshot CR that the operator takes through the volume engine, so the volume must be attached (a Snapshot of a detached volume waits until it is). With --pvc NS/CLAIM or --volume-snapshot NAME: a CSI VolumeSnapshot of the claim (of the volume's claim when only VOLUME is given), class --class or the default snap class of driver.longhorn.io; the CSI driver takes it (attaching a detached volume for it) and it shows in snapshot list with its VolumeSnapshot.";
  static override examples = [
    'kubectl longhorn snapshot create vol-1',
    'kubectl longhorn snapshot create vol-1 --name before-upgrade --label app=db',
    'kubectl longhorn snapshot create --pvc default/data --volume-snapshot data-before-upgrade',
    'kubectl longhorn snapshot create pvc-0b1c2d3e --volume-snapshot data-nightly --class longhorn-snapshot-vsc',
  ];
  static override args = { volume: Args.string({ required: false, description: 'Volume name' }) };
  static override flags = {
    name: Flags.string({ description: 'Snapshot name (default: <volume>-<time>-<random>)' }),
    label: Flags.string({
      char: 'l',
      description: 'Label key=value on the snapshot (repeatable)',
      multiple: true,
    }),
    pvc: Flags.string({
      description: 'Take a VolumeSnapshot of this claim: NAMESPACE/NAME (or NAME in default)',
    }),
    'volume-snapshot': Flags.string({
      description: "Take a VolumeSnapshot with this name (of --pvc, or of the volume's claim)",
    }),
    class: Flags.string({
      description: 'VolumeSnapshotClass (default: the snap class of driver.longhorn.io)',
    }),
    output: outputFlag,
    wait: waitFlag,
    timeout: timeoutFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(SnapshotCreate);
    const csi = flags.pvc !== undefined || flags['volume-snapshot'] !== undefined;
    if (csi) {
      if (flags.name !== undefined)
        throw usageError('--name names a Longhorn snapshot; a VolumeSnapshot is named by --volume-snapshot');
      if ((flags.label ?? []).length > 0)
        throw usageError('--label is for Longhorn snapshots; label a VolumeSnapshot with kubectl label');
      if (flags.class !== undefined && flags.class === '') throw usageError('--class needs a name');
      return this.createVolumeSnapshot(args.volume, flags);
    }
    if (args.volume === undefined)
      throw usageError('give a VOLUME, or --pvc NAMESPACE/NAME for a VolumeSnapshot');
    if (flags.class !== undefined)
      throw usageError('--class is for VolumeSnapshots: add --pvc or --volume-snapshot');
    const labels = parseLabels(flags.label ?? []);
    if (typeof labels === 'string') throw usageError(`--label ${labels} is not key=value`);
    const client = await this.client(flags);
    const volume = await client.get('volumes', args.volume);
    const name = flags.name ?? snapshotName(args.volume, this.now());
    let snap = await client.create('snapshots', snapshotObject(name, args.volume, flags.namespace, labels));
    const attached = volume.status?.state === 'attached';
    if (!attached)
      this.note(
        `volume ${args.volume} is ${volume.status?.state || 'not attached'}: the snapshot is taken once it is attached`,
      );
    if (flags.wait && attached) {
      snap = await waitUntil(
        `snapshot ${name} to be ready`,
        async () => {
          const s = await client.get('snapshots', name);
          if (s.status?.error) throw new PluginError('FAILED', `snapshot ${name}: ${s.status.error}`);
          return s.status?.readyToUse ? s : undefined;
        },
        { timeoutMs: flags.timeout * 1000 },
      );
    }
    if (flags.output === 'json' || flags.output === 'yaml') this.print(renderStructured(flags.output, snap));
    else if (flags.output === 'name') this.print(renderNames('Snapshot', [name]));
    else this.print(`snapshot.longhorn.io/${name} created`);
  }

  private async createVolumeSnapshot(
    volumeName: string | undefined,
    flags: CsiFlags & { namespace: string; kubeconfig?: string | undefined; context?: string | undefined },
  ): Promise<void> {
    const pvcRef = flags.pvc === undefined ? undefined : parseNamespacedName(flags.pvc);
    if (flags.pvc !== undefined && pvcRef === undefined) {
      throw usageError(`--pvc ${flags.pvc} is not NAMESPACE/NAME or NAME`);
    }
    const vsName = flags['volume-snapshot'];
    if (vsName !== undefined && parseNamespacedName(vsName)?.name !== vsName) {
      throw usageError(`--volume-snapshot ${vsName} is not a valid object name`);
    }
    if (volumeName === undefined && pvcRef === undefined) {
      throw usageError('--volume-snapshot needs the VOLUME or --pvc NAMESPACE/NAME it is of');
    }
    const client = await this.client(flags);
    const { VolumeSnapshotClient } = await import('../../kube/volume-snapshot-client.js');
    const csi = new VolumeSnapshotClient(client.kubeConfig);
    const claim = await this.claimFor(client, csi, volumeName, pvcRef);
    const picked = pickSnapshotClass(await csi.classes(), flags.class);
    if (typeof picked !== 'string') throw new PluginError(picked.code, picked.error);
    const name = vsName ?? snapshotName(claim.name, this.now());
    let vs = await csi.create(volumeSnapshotObject(name, claim.namespace, claim.name, picked));
    const ref = `volumesnapshot.snapshot.storage.k8s.io/${name}`;
    if (flags.wait) {
      let lastError = '';
      try {
        vs = await waitUntil(
          `VolumeSnapshot ${claim.namespace}/${name} to be ready`,
          async () => {
            const now = await csi.get(claim.namespace, name);
            // The sidecars retry an ABORTED (busy) answer: an error may still turn into ready.
            lastError = now?.status?.error?.message ?? lastError;
            return now?.status?.readyToUse === true ? now : undefined;
          },
          { timeoutMs: flags.timeout * 1000 },
        );
      } catch (err) {
        if (err instanceof PluginError && err.code === 'TIMEOUT' && lastError !== '') {
          throw new PluginError('TIMEOUT', `${err.message}; last error: ${lastError}`);
        }
        throw err;
      }
    }
    if (flags.output === 'json' || flags.output === 'yaml') {
      this.print(renderStructured(flags.output, vs));
      return;
    }
    if (flags.output === 'name') {
      this.print(ref);
      return;
    }
    const snapshot = await this.longhornSnapshotOf(csi, vs);
    this.print(
      `${ref} created in namespace ${claim.namespace} for PVC ${claim.name}${snapshot ? ` (snapshot.longhorn.io/${snapshot} of volume ${claim.volume})` : ''}`,
    );
  }

  /** The claim to snapshot and its Longhorn volume; the two must agree when both are given. */
  private async claimFor(
    client: LonghornClient,
    csi: VolumeSnapshotClient,
    volumeName: string | undefined,
    pvcRef: { namespace: string; name: string } | undefined,
  ): Promise<{ namespace: string; name: string; volume: string }> {
    if (pvcRef !== undefined) {
      const pvc = await csi.claim(pvcRef.namespace, pvcRef.name);
      const pvName = pvc.spec?.volumeName ?? '';
      if (pvName === '' || pvc.status?.phase !== 'Bound') {
        throw new PluginError(
          'REFUSED',
          `PVC ${pvcRef.namespace}/${pvcRef.name} is not bound yet: nothing to snapshot`,
        );
      }
      const pv = await csi.volume(pvName);
      const driver = pv?.spec?.csi?.driver ?? '';
      if (driver !== CSI_DRIVER_NAME) {
        throw new PluginError(
          'REFUSED',
          `PVC ${pvcRef.namespace}/${pvcRef.name} is not a Longhorn volume (its PV ${pvName} has driver ${driver || 'none'})`,
        );
      }
      const volume = pv?.spec?.csi?.volumeHandle ?? pvName;
      if (volumeName !== undefined && volumeName !== volume) {
        throw usageError(
          `PVC ${pvcRef.namespace}/${pvcRef.name} is bound to volume ${volume}, not ${volumeName}`,
        );
      }
      return { ...pvcRef, volume };
    }
    const volume = volumeName ?? '';
    await client.get('volumes', volume);
    const pvs = (await client.persistentVolumes()).filter(
      (pv) => pv.spec?.csi?.driver === CSI_DRIVER_NAME && pv.spec.csi.volumeHandle === volume,
    );
    const claimRef = pvs[0]?.spec?.claimRef;
    if (!claimRef?.name || !claimRef.namespace) {
      throw new PluginError(
        'REFUSED',
        `volume ${volume} has no PersistentVolumeClaim: a VolumeSnapshot is of a claim; take a Longhorn snapshot instead (without --volume-snapshot)`,
      );
    }
    return { namespace: claimRef.namespace, name: claimRef.name, volume };
  }

  private async longhornSnapshotOf(
    csi: VolumeSnapshotClient,
    vs: VolumeSnapshot,
  ): Promise<string | undefined> {
    const content = vs.status?.boundVolumeSnapshotContentName;
    if (!content) return undefined;
    const c = (await csi.contents()).find((x) => x.metadata.name === content);
    return parseSnapHandle(c?.status?.snapshotHandle)?.snapshot;
  }
}
