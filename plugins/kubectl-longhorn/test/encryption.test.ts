import {
  CRYPTO_SECRET_ANNOTATION,
  DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION,
  DATA_KEY_ROTATION_REQUEST_ANNOTATION,
  DATA_KEY_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_INTERVAL_ANNOTATION,
  KEK_ROTATION_REQUEST_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION,
  type Volume,
} from '@longhorn-ts/api';
import { describe, expect, it } from 'vitest';
import { PluginError } from '../src/errors.js';
import {
  rotateKeyRequest,
  rotationPatch,
  rotationRefusal,
  rotationStep,
  rotationSummary,
  rotationToken,
} from '../src/kube/key-rotation.js';
import {
  cryptoSecretOf,
  dataKeyRotationOf,
  encryptionLines,
  kekScheduleOf,
  lastKekRotationOf,
} from '../src/render/encryption.js';
import { renderVolumeDetail } from '../src/render/volume.js';
import { NOW, volume } from './fixtures.js';

const answer = (request: string, from: string, to: string, error = '', doneAt = '2026-01-01T23:55:00Z') =>
  JSON.stringify({ request, from, to, error, doneAt });

function encrypted(
  annotations: Record<string, string> = {},
  conditions: NonNullable<Volume['status']>['conditions'] = [],
): Volume {
  const v = volume(
    'vol',
    { conditions: [{ type: 'Scheduled', status: 'True' }, ...conditions] },
    { encrypted: true },
  );
  v.metadata.annotations = annotations;
  return v;
}

const PROGRESS = 're-encrypting from data key dk-1111 to dk-2222: 42% (14092861 of 33554432 bytes)';

describe('volume get: encryption', () => {
  it('a plain volume: one line', () => {
    expect(encryptionLines(volume('vol'), undefined, NOW)).toEqual(['Encrypted:       no']);
  });

  it('an encrypted volume: Secret, schedule, last answers, in the detail between QoS and Owner', () => {
    const v = encrypted({
      [CRYPTO_SECRET_ANNOTATION]: 'longhorn-system/vol-crypto',
      [KEK_ROTATION_INTERVAL_ANNOTATION]: '720h',
      [KEK_ROTATION_REQUEST_ANNOTATION]: 't1',
      [KEK_ROTATION_RESULT_ANNOTATION]: answer('t1', 'kek-aaaa', 'kek-bbbb'),
      [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 'd1',
      [DATA_KEY_ROTATION_RESULT_ANNOTATION]: answer('d1', 'dk-1111', 'dk-2222', '', '2026-01-01T23:58:00Z'),
    });
    const text = renderVolumeDetail(
      {
        volume: v,
        engine: undefined,
        replicas: [],
        nodes: [],
        snapshots: [],
        attachment: undefined,
        events: [],
      },
      NOW,
    ).split('\n');
    const at = text.indexOf('Encrypted:       yes');
    expect(text[at - 1]).toMatch(/^QoS limits:/);
    expect(text.slice(at, at + 6)).toEqual([
      'Encrypted:       yes',
      '  Crypto Secret:       longhorn-system/vol-crypto (named by annotation longhorn-ts.io/crypto-secret)',
      '  KEK rotation:        every 720h',
      '  Last KEK rotation:   kek-aaaa -> kek-bbbb 5m ago (on request)',
      '  Data-key rotation:   last dk-1111 -> dk-2222 2m ago',
      'Owner:           node-1',
    ]);
  });

  it("finds the Secret as the operator does: the annotation, else the PV's node-stage reference; says why there is none", () => {
    const pv = {
      name: 'pvc-1',
      nodeStageSecretRef: { name: 'longhorn-crypto', namespace: 'longhorn-system' },
      nodePublishSecretRef: { name: 'other', namespace: 'x' },
    };
    expect(cryptoSecretOf(encrypted(), pv)).toBe(
      "longhorn-system/longhorn-crypto (named by PersistentVolume pvc-1's nodeStageSecretRef)",
    );
    expect(cryptoSecretOf(encrypted({ [CRYPTO_SECRET_ANNOTATION]: 'ns/s' }), pv)).toBe(
      'ns/s (named by annotation longhorn-ts.io/crypto-secret)',
    );
    expect(cryptoSecretOf(encrypted(), undefined)).toBe(
      'none: encrypted volume vol has no crypto Secret: no PersistentVolume names one and the Volume has no longhorn-ts.io/crypto-secret annotation',
    );
    expect(cryptoSecretOf(encrypted({ [CRYPTO_SECRET_ANNOTATION]: 'just-a-name' }), pv)).toBe(
      'none: annotation longhorn-ts.io/crypto-secret "just-a-name" is not NAMESPACE/NAME of a Secret',
    );
  });

  it('shows the EncryptionKey condition as Key only when the key is not OK', () => {
    const message =
      'volume vol cannot attach: crypto Secret longhorn-system/nope (named by annotation longhorn-ts.io/crypto-secret) not found';
    const bad = encrypted({}, [
      { type: 'EncryptionKey', status: 'False', reason: 'EncryptionKeyUnavailable', message },
    ]);
    expect(encryptionLines(bad, undefined, NOW)).toContain(
      `  Key:                 EncryptionKeyUnavailable: ${message}`,
    );
    expect(encryptionLines(bad, undefined, NOW).some((l) => l.startsWith('  Keys:'))).toBe(false);
    const good = encrypted({}, [{ type: 'EncryptionKey', status: 'True' }]);
    expect(encryptionLines(good, undefined, NOW).some((l) => l.startsWith('  Key'))).toBe(false);
  });

  it("shows the keys the engine runs with from the True condition's message", () => {
    const message =
      'engine runs with data key dk-new (re-encrypting from dk-old; key-encryption key kek-1 from crypto Secret ns/s)';
    const lines = encryptionLines(
      encrypted({}, [{ type: 'EncryptionKey', status: 'True', message }]),
      undefined,
      NOW,
    );
    expect(lines.slice(2, 3)).toEqual([`  Keys:                ${message}`]);
    expect(lines.some((l) => l.startsWith('  Key:'))).toBe(false);
  });

  it.each([
    [{}, 'on request only (no longhorn-ts.io/kek-rotation-interval)'],
    [{ [KEK_ROTATION_INTERVAL_ANNOTATION]: '24h0m0s' }, 'every 24h0m0s'],
    [
      { [KEK_ROTATION_INTERVAL_ANNOTATION]: 'monthly' },
      'none: longhorn-ts.io/kek-rotation-interval "monthly" is not a Go duration',
    ],
    [
      { [KEK_ROTATION_INTERVAL_ANNOTATION]: '500ms' },
      'none: longhorn-ts.io/kek-rotation-interval "500ms" is shorter than 1 s',
    ],
  ])('KEK schedule of %j: %s', (annotations, want) => {
    expect(kekScheduleOf(encrypted(annotations))).toBe(want);
  });

  it.each([
    [{}, 'none yet'],
    [{ [KEK_ROTATION_REQUEST_ANNOTATION]: 't2' }, 'requested (t2), waiting for the operator'],
    [
      {
        [KEK_ROTATION_REQUEST_ANNOTATION]: 't2',
        [KEK_ROTATION_RESULT_ANNOTATION]: answer('t1', 'kek-a', 'kek-b'),
      },
      'requested (t2), waiting for the operator',
    ],
    [
      // The scheduled answer is newer than the on-demand one.
      {
        [KEK_ROTATION_REQUEST_ANNOTATION]: 't1',
        [KEK_ROTATION_RESULT_ANNOTATION]: answer('t1', 'kek-a', 'kek-b', '', '2026-01-01T22:00:00Z'),
        [KEK_ROTATION_SCHEDULED_RESULT_ANNOTATION]: answer(
          'scheduled-x',
          'kek-b',
          'kek-c',
          '',
          '2026-01-01T23:30:00Z',
        ),
      },
      'kek-b -> kek-c 30m ago (scheduled)',
    ],
    [
      {
        [KEK_ROTATION_REQUEST_ANNOTATION]: 't1',
        [KEK_ROTATION_RESULT_ANNOTATION]: answer('t1', '', '', 'the Secret has no CRYPTO_KEY_VALUE'),
      },
      'failed 5m ago: the Secret has no CRYPTO_KEY_VALUE (on request)',
    ],
  ])('last KEK rotation of %j: %s', (annotations, want) => {
    expect(lastKekRotationOf(encrypted(annotations), NOW)).toBe(want);
  });

  it.each([
    [{}, [], 'none yet'],
    [
      { [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 'd1' },
      [{ type: 'DataKeyRotation', status: 'True', reason: 'InProgress', message: PROGRESS }],
      PROGRESS,
    ],
    [{ [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 'd2' }, [], 'requested (d2), waiting for the operator'],
    [
      // The last one's Completed condition is not this request's progress.
      {
        [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 'd2',
        [DATA_KEY_ROTATION_RESULT_ANNOTATION]: answer('d1', 'dk-1', 'dk-2'),
      },
      [{ type: 'DataKeyRotation', status: 'True', reason: 'Completed', message: 'every block ...: 100%' }],
      'requested (d2), waiting for the operator',
    ],
    [
      {
        [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: 'd1',
        [DATA_KEY_ROTATION_RESULT_ANNOTATION]: answer('d1', '', '', 'volume vol is not attached: attach it'),
      },
      [],
      'last failed 5m ago: volume vol is not attached: attach it',
    ],
  ] as const)('data-key rotation of %j with conditions %j: %s', (annotations, conditions, want) => {
    expect(dataKeyRotationOf(encrypted({ ...annotations }, [...conditions]), NOW)).toBe(want);
  });
});

describe('volume rotate-key: flags', () => {
  it.each([
    [{ dataKey: false }, { kind: 'kek' }],
    [{ dataKey: true }, { kind: 'data-key' }],
    [
      { dataKey: true, bandwidth: '4194304' },
      { kind: 'data-key', bandwidth: 4194304 },
    ],
    [
      { dataKey: true, bandwidth: '4Mi' },
      { kind: 'data-key', bandwidth: 4194304 },
    ],
    [
      { dataKey: true, bandwidth: '1.5M' },
      { kind: 'data-key', bandwidth: 1500000 },
    ],
  ])('%j -> %j', (flags, want) => {
    expect(rotateKeyRequest(flags)).toEqual(want);
  });

  it.each([
    [
      { dataKey: false, bandwidth: '4Mi' },
      '--bandwidth limits the re-encryption of a data-key rotation: add --data-key (a key-encryption key rotation reads and writes no data)',
    ],
    ...['0', '-5', '0Mi', '-1Gi'].map((b) => [
      { dataKey: true, bandwidth: b },
      `--bandwidth ${b} is not a positive number of bytes per second; write e.g. 4194304 or 4Mi, or leave it out for no new limit`,
    ]),
    [
      { dataKey: true, bandwidth: 'fast' },
      '--bandwidth fast is not a number of bytes per second; write e.g. 4194304 or 4Mi, or leave it out for no new limit',
    ],
    [
      { dataKey: true, bandwidth: '2Pi' },
      '--bandwidth 2Pi is 2251799813685248 bytes per second, more than the 15 digits the operator reads',
    ],
  ] as [{ dataKey: boolean; bandwidth: string }, string][])(
    '%j is refused as usage (exit 2)',
    (flags, message) => {
      let err: unknown;
      try {
        rotateKeyRequest(flags);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PluginError);
      expect(err).toMatchObject({ code: 'USAGE', message });
    },
  );

  it('refuses a plain volume before anything is written', () => {
    expect(rotationRefusal(volume('plain'))).toMatchObject({
      code: 'REFUSED',
      message:
        'volume plain is not encrypted: it has no key to rotate (spec.encrypted is set when a volume is created and never changes)',
    });
    expect(rotationRefusal(encrypted())).toBeUndefined();
  });

  it('writes a fresh token in the request annotation, the bandwidth beside a data-key request', () => {
    const token = rotationToken(Date.parse('2026-01-02T03:04:05.678Z'), 'a1b2c3');
    expect(token).toBe('kubectl-20260102T030405Z-a1b2c3');
    expect(rotationPatch({ kind: 'kek' }, token)).toEqual({
      metadata: { annotations: { [KEK_ROTATION_REQUEST_ANNOTATION]: token } },
    });
    expect(rotationPatch({ kind: 'data-key', bandwidth: 4194304 }, token)).toEqual({
      metadata: {
        annotations: {
          [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: token,
          [DATA_KEY_ROTATION_BANDWIDTH_ANNOTATION]: '4194304',
        },
      },
    });
    expect(rotationPatch({ kind: 'data-key' }, token)).toEqual({
      metadata: { annotations: { [DATA_KEY_ROTATION_REQUEST_ANNOTATION]: token } },
    });
  });
});

describe('volume rotate-key: waiting for the answer', () => {
  it.each([
    ['kek', {}, [], { kind: 'waiting', step: 'waiting for the operator on node-1' }],
    [
      'kek',
      { [KEK_ROTATION_RESULT_ANNOTATION]: answer('older', 'kek-a', 'kek-b') },
      [],
      { kind: 'waiting', step: 'waiting for the operator on node-1' },
    ],
    [
      'kek',
      { [KEK_ROTATION_RESULT_ANNOTATION]: answer('tok', 'kek-a', 'kek-b') },
      [],
      { kind: 'done', from: 'kek-a', to: 'kek-b' },
    ],
    [
      'kek',
      {
        [KEK_ROTATION_RESULT_ANNOTATION]: answer(
          'tok',
          '',
          '',
          'volume vol is not encrypted: there is no key to rotate',
        ),
      },
      [],
      { kind: 'failed', error: 'volume vol is not encrypted: there is no key to rotate' },
    ],
    [
      'data-key',
      {},
      [{ type: 'DataKeyRotation', status: 'True', reason: 'InProgress', message: PROGRESS }],
      { kind: 'waiting', step: 're-encrypting from data key dk-1111 to dk-2222', percent: 42 },
    ],
    [
      'data-key',
      {},
      [
        {
          type: 'DataKeyRotation',
          status: 'True',
          reason: 'InProgress',
          message: 're-encryption from data key dk-1 to dk-2 is paused: the volume is not attached; ...',
        },
      ],
      {
        kind: 'waiting',
        step: 're-encryption from data key dk-1 to dk-2 is paused: the volume is not attached; ...',
      },
    ],
    [
      // A KEK request does not read the data-key condition.
      'kek',
      {},
      [{ type: 'DataKeyRotation', status: 'True', reason: 'InProgress', message: PROGRESS }],
      { kind: 'waiting', step: 'waiting for the operator on node-1' },
    ],
    [
      'data-key',
      { [DATA_KEY_ROTATION_RESULT_ANNOTATION]: answer('tok', 'dk-1111', 'dk-2222') },
      [{ type: 'DataKeyRotation', status: 'True', reason: 'Completed', message: 'every block ...: 100%' }],
      { kind: 'done', from: 'dk-1111', to: 'dk-2222' },
    ],
    [
      'data-key',
      {
        [DATA_KEY_ROTATION_RESULT_ANNOTATION]: answer('tok', '', '', 'volume vol is not attached: attach it'),
      },
      [],
      { kind: 'failed', error: 'volume vol is not attached: attach it' },
    ],
  ] as const)('%s with %j and conditions %j -> %j', (kind, annotations, conditions, want) => {
    expect(rotationStep(encrypted({ ...annotations }, [...conditions]), kind, 'tok')).toEqual(want);
  });

  it('names both key ids in the summary', () => {
    expect(rotationSummary('vol', { kind: 'kek' }, 'kek-a', 'kek-b')).toBe(
      'volume.longhorn.io/vol: key-encryption key rotated from kek-a to kek-b (data key re-wrapped, no data touched)',
    );
    expect(rotationSummary('vol', { kind: 'data-key', bandwidth: 4 << 20 }, 'dk-1', 'dk-2')).toBe(
      'volume.longhorn.io/vol: data key rotated from dk-1 to dk-2 (every block re-encrypted at most 4 MiB/s)',
    );
  });
});
