import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  heldForMounts,
  nodeExpansionOf,
  type PlanLookup,
  type PodLike,
  type PvcLike,
  type PvLike,
  planPodVolumes,
  quantityBytes,
  type VaLike,
  volumeInUseName,
} from '../src/harness/kubelet-standin-plan.js';
import { gatePodReady, volumesMountedSelector } from '../src/harness/kwok.js';

const DRIVER = 'driver.longhorn.io';

function pod(volumes: PodLike['spec']['volumes'], devices: string[] = []): PodLike {
  return {
    metadata: { name: 'app', namespace: 'ns', uid: 'uid-1' },
    spec: {
      nodeName: 'node-1',
      serviceAccountName: 'sa',
      volumes,
      containers: [
        {
          volumeMounts: (volumes ?? [])
            .filter((v) => !devices.includes(v.name))
            .map((v) => ({ name: v.name })),
          volumeDevices: devices.map((name) => ({ name, devicePath: '/dev/xvda' })),
        },
      ],
    },
  };
}

const boundPvc = (name: string, pv: string): PvcLike => ({
  metadata: { name, namespace: 'ns' },
  spec: { volumeName: pv },
  status: { phase: 'Bound' },
});

const csiPv = (name: string, extra: Partial<PvLike['spec']> = {}): PvLike => ({
  metadata: { name },
  spec: {
    accessModes: ['ReadWriteOnce'],
    volumeMode: 'Filesystem',
    csi: { driver: DRIVER, volumeHandle: name, fsType: 'xfs', volumeAttributes: { numberOfReplicas: '3' } },
    ...extra,
  },
});

const attached = (pv: string): VaLike => ({
  metadata: { name: `csi-${pv}` },
  spec: { attacher: DRIVER, nodeName: 'node-1', source: { persistentVolumeName: pv } },
  status: { attached: true, attachmentMetadata: { endpoint: 'nbd://x' } },
});

function lookup(pvcs: PvcLike[], pvs: PvLike[], vas: VaLike[], podInfoOnMount = true): PlanLookup {
  return {
    driverName: DRIVER,
    nodeName: 'node-1',
    podInfoOnMount,
    pvc: (ns, name) => pvcs.find((p) => p.metadata.name === name && (p.metadata.namespace ?? 'ns') === ns),
    pv: (name) => pvs.find((p) => p.metadata.name === name),
    va: (pv) => vas.find((v) => v.spec.source.persistentVolumeName === pv),
  };
}

describe('kubelet stand-in: what it does with each volume of a pod', () => {
  it('mounts an attached PVC of the driver with the PV, VA and pod info kubelet passes', () => {
    const [plan] = planPodVolumes(
      pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]),
      lookup([boundPvc('data', 'pv-1')], [csiPv('pv-1')], [attached('pv-1')]),
    );
    expect(plan).toEqual({
      kind: 'mount',
      volume: 'data',
      inUse: 'kubernetes.io/csi/driver.longhorn.io^pv-1',
      kubeletVolume: {
        driverName: DRIVER,
        pvName: 'pv-1',
        volumeHandle: 'pv-1',
        podUid: 'uid-1',
        accessType: 'mount',
        fsType: 'xfs',
        accessMode: 'SINGLE_NODE_WRITER',
        readonly: false,
        volumeContext: {
          numberOfReplicas: '3',
          'csi.storage.k8s.io/pod.name': 'app',
          'csi.storage.k8s.io/pod.namespace': 'ns',
          'csi.storage.k8s.io/pod.uid': 'uid-1',
          'csi.storage.k8s.io/serviceAccount.name': 'sa',
          'csi.storage.k8s.io/ephemeral': 'false',
        },
        publishContext: { endpoint: 'nbd://x' },
      },
    });
  });

  it('waits, and says for what, until the claim is bound and the volume attached', () => {
    const v = [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }];
    const unbound: PvcLike = {
      metadata: { name: 'data', namespace: 'ns' },
      spec: {},
      status: { phase: 'Pending' },
    };
    const cases: [PlanLookup, string, string | undefined][] = [
      [lookup([], [], []), 'persistentvolumeclaim "data" not found', undefined],
      [lookup([unbound], [], []), 'persistentvolumeclaim "data" is not bound', undefined],
      [lookup([boundPvc('data', 'pv-1')], [], []), 'persistentvolume "pv-1" not found', undefined],
      [
        lookup([boundPvc('data', 'pv-1')], [csiPv('pv-1')], []),
        'waiting for the VolumeAttachment of pv-1 on node-1',
        volumeInUseName(DRIVER, 'pv-1'),
      ],
      [
        lookup(
          [boundPvc('data', 'pv-1')],
          [csiPv('pv-1')],
          [{ ...attached('pv-1'), status: { attached: false, attachError: { message: 'engine busy' } } }],
        ),
        'waiting for the VolumeAttachment of pv-1 on node-1: engine busy',
        volumeInUseName(DRIVER, 'pv-1'),
      ],
    ];
    for (const [look, reason, inUse] of cases) {
      const [plan] = planPodVolumes(pod(v), look);
      expect(plan).toEqual({ kind: 'wait', volume: 'data', reason, ...(inUse ? { inUse } : {}) });
    }
  });

  it('skips what is not its business and refuses what kubelet would refuse', () => {
    const plans = planPodVolumes(
      pod([
        { name: 'scratch' },
        { name: 'other', persistentVolumeClaim: { claimName: 'other' } },
        { name: 'inline', csi: { driver: DRIVER } },
        { name: 'foreign', csi: { driver: 'nfs.csi.k8s.io' } },
      ]),
      lookup(
        [boundPvc('other', 'pv-nfs')],
        [{ metadata: { name: 'pv-nfs' }, spec: { csi: { driver: 'nfs.csi.k8s.io', volumeHandle: 'h' } } }],
        [],
      ),
    );
    expect(plans.map((p) => [p.kind, p.volume, 'reason' in p ? p.reason : ''])).toEqual([
      ['skip', 'scratch', 'not a persistent volume claim'],
      ['skip', 'other', 'persistentvolume pv-nfs is not a driver.longhorn.io volume'],
      [
        'refuse',
        'inline',
        'CSI inline (ephemeral) volumes are not supported by driver.longhorn.io: its CSIDriver lists volumeLifecycleModes [Persistent] only; use a PVC',
      ],
      [
        'refuse',
        'foreign',
        'CSI driver nfs.csi.k8s.io is not registered on node node-1 (only driver.longhorn.io is)',
      ],
    ]);
  });

  it('block mode: a Block PV used in volumeDevices; a Filesystem PV there is refused', () => {
    const v = [{ name: 'dev', persistentVolumeClaim: { claimName: 'dev', readOnly: true } }];
    const block = planPodVolumes(
      pod(v, ['dev']),
      lookup(
        [boundPvc('dev', 'pv-b')],
        [csiPv('pv-b', { volumeMode: 'Block', accessModes: ['ReadWriteOncePod'] })],
        [attached('pv-b')],
      ),
    )[0]!;
    expect(block.kind).toBe('mount');
    if (block.kind !== 'mount') return;
    expect(block.kubeletVolume).toMatchObject({
      accessType: 'block',
      readonly: true,
      accessMode: 'SINGLE_NODE_SINGLE_WRITER',
    });
    expect(block.kubeletVolume.fsType).toBeUndefined();
    const wrong = planPodVolumes(pod(v, ['dev']), lookup([boundPvc('dev', 'pv-f')], [csiPv('pv-f')], []))[0]!;
    expect(wrong).toEqual({
      kind: 'refuse',
      volume: 'dev',
      reason: 'volume dev is used in volumeDevices but persistentvolume pv-f has volumeMode Filesystem',
    });
  });

  it("a generic ephemeral volume is the pod's own PVC <pod>-<volume>; someone else's is refused", () => {
    const v = [{ name: 'scratch', ephemeral: { volumeClaimTemplate: {} } }];
    const owned: PvcLike = {
      ...boundPvc('app-scratch', 'pv-e'),
      metadata: { name: 'app-scratch', namespace: 'ns', ownerReferences: [{ kind: 'Pod', uid: 'uid-1' }] },
    };
    const ok = planPodVolumes(pod(v), lookup([owned], [csiPv('pv-e')], [attached('pv-e')]))[0]!;
    expect(ok.kind).toBe('mount');
    const foreign = planPodVolumes(
      pod(v),
      lookup([boundPvc('app-scratch', 'pv-e')], [csiPv('pv-e')], []),
    )[0]!;
    expect(foreign).toEqual({
      kind: 'refuse',
      volume: 'scratch',
      reason: 'PVC ns/app-scratch was not created for pod app (generic ephemeral volume)',
    });
  });

  it('pod info goes into the volume context only when the CSIDriver asks for it', () => {
    const [plan] = planPodVolumes(
      pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]),
      lookup([boundPvc('data', 'pv-1')], [csiPv('pv-1')], [attached('pv-1')], false),
    );
    expect(plan?.kind === 'mount' && plan.kubeletVolume.volumeContext).toEqual({ numberOfReplicas: '3' });
  });
});

describe("kubelet's part of an expansion", () => {
  it('reads byte quantities', () => {
    const cases: [string, number | undefined][] = [
      ['67108864', 67108864],
      ['128Mi', 128 * 2 ** 20],
      ['1Gi', 2 ** 30],
      ['1.5Gi', 1.5 * 2 ** 30],
      ['2G', 2e9],
      ['100k', 100_000],
      ['12x', undefined],
      ['', undefined],
      ['-1Mi', undefined],
    ];
    for (const [q, bytes] of cases) expect([q, quantityBytes(q)]).toEqual([q, bytes]);
  });

  it('is due when the resizer left the claim NodeResizePending (or FileSystemResizePending)', () => {
    const pv = csiPv('pv-1', { capacity: { storage: '128Mi' } });
    const pvc = (status: PvcLike['status']): PvcLike => ({ ...boundPvc('data', 'pv-1'), status });
    const due = { claim: { namespace: 'ns', name: 'data' }, capacity: '128Mi', requiredBytes: 128 * 2 ** 20 };
    expect(
      nodeExpansionOf(
        pvc({ phase: 'Bound', allocatedResourceStatuses: { storage: 'NodeResizePending' } }),
        pv,
      ),
    ).toEqual(due);
    expect(
      nodeExpansionOf(
        pvc({ phase: 'Bound', conditions: [{ type: 'FileSystemResizePending', status: 'True' }] }),
        pv,
      ),
    ).toEqual(due);
    expect(
      nodeExpansionOf(
        pvc({ phase: 'Bound', allocatedResourceStatuses: { storage: 'ControllerResizeInProgress' } }),
        pv,
      ),
    ).toBeUndefined();
    expect(nodeExpansionOf(pvc({ phase: 'Bound', capacity: { storage: '128Mi' } }), pv)).toBeUndefined();
    const [plan] = planPodVolumes(
      pod([{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }]),
      lookup(
        [pvc({ phase: 'Bound', allocatedResourceStatuses: { storage: 'NodeResizePending' } })],
        [pv],
        [attached('pv-1')],
      ),
    );
    expect(plan?.kind === 'mount' && plan.nodeExpansion).toEqual(due);
  });
});

describe("kwok's pod-ready stage waits for the stand-in", () => {
  const stage = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-ready
spec:
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      phase: Running
`;

  it('adds one requirement to pod-ready and leaves the template and other stages as they are', () => {
    const gated = parse(gatePodReady(stage, 'a/b'));
    expect(gated.spec.selector.matchExpressions).toEqual([
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
      { key: volumesMountedSelector('a/b'), operator: 'In', values: ['true'] },
    ]);
    expect(gated.spec.next.statusTemplate).toBe('phase: Running\n');
    const other = stage.replace('pod-ready', 'pod-delete');
    expect(gatePodReady(other, 'a/b')).toBe(other);
  });

  it('holds back exactly the pods whose volumes kubelet would mount (what the stand-in marks)', () => {
    expect(heldForMounts(pod([{ name: 'scratch' }]))).toBe(false);
    expect(heldForMounts(pod(undefined))).toBe(false);
    expect(heldForMounts(pod([{ name: 'd', persistentVolumeClaim: { claimName: 'd' } }]))).toBe(true);
    expect(heldForMounts(pod([{ name: 'e', ephemeral: { volumeClaimTemplate: {} } }]))).toBe(true);
    expect(heldForMounts(pod([{ name: 'c', csi: { driver: DRIVER } }]))).toBe(true);
    expect(volumesMountedSelector('a/b')).toContain(
      'select(.persistentVolumeClaim != null or .ephemeral != null or .csi != null)',
    );
  });

  it('refuses a pod-ready stage without a selector to extend', () => {
    expect(() => gatePodReady('metadata: {name: pod-ready}\nspec: {}\n', 'a/b')).toThrow(
      'kwok stage pod-ready has no spec.selector.matchExpressions',
    );
  });
});
