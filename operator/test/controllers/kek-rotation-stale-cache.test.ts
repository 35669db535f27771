import {
  KEK_ROTATION_REQUEST_ANNOTATION,
  KEK_ROTATION_RESULT_ANNOTATION,
  type Volume,
} from '@longhorn-ts/api';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { ControllerContext } from '../../src/controllers/context.js';
import { KekRotationController } from '../../src/controllers/kek-rotation-controller.js';
import type { VolumeKeyStore } from '../../src/encryption/volume-key-store.js';

const NS = 'longhorn-system';

/** A controller whose Volume cache answers `volume()`, and a key store counting rotations. */
function setup(volume: () => Volume) {
  const patches: Array<{ name: string; body: { metadata: { annotations: Record<string, string> } } }> = [];
  let n = 0;
  const ctx = {
    id: { node: 'n1', namespace: NS },
    caches: { volumes: { get: () => volume() }, engines: { get: () => undefined } },
    client: {
      patch: async (_kind: unknown, name: string, body: (typeof patches)[number]['body']) => {
        patches.push({ name, body });
      },
    },
    events: { record: () => {} },
    dispatcher: { watch: () => {}, add: () => {} },
    clock: { now: () => Date.parse('2026-12-02T10:00:00Z') },
    log: pino({ level: 'silent' }),
  } as unknown as ControllerContext;
  const keys = {
    rotate: async () => {
      n++;
      return { from: `kek-${n - 1}`, to: `kek-${n}` };
    },
  } as unknown as VolumeKeyStore;
  return { controller: new KekRotationController(ctx, keys), patches, rotations: () => n };
}

const vol = (request: string, answer?: string): Volume =>
  ({
    apiVersion: 'longhorn.io/v1beta2',
    kind: 'Volume',
    metadata: {
      name: 'v',
      namespace: NS,
      annotations: {
        [KEK_ROTATION_REQUEST_ANNOTATION]: request,
        ...(answer ? { [KEK_ROTATION_RESULT_ANNOTATION]: answer } : {}),
      },
    },
    spec: { encrypted: true },
    status: { ownerID: 'n1' },
  }) as unknown as Volume;

describe('KEK rotation: a reconcile that reads the Volume before its answer reached the cache', () => {
  it('does not rotate the key again for the request it answered; a new request rotates', async () => {
    let current = vol('r1');
    const { controller, patches, rotations } = setup(() => current);
    await controller.reconcile(`${NS}/v`);
    expect(rotations()).toBe(1);
    expect(patches).toHaveLength(1);
    const answer = patches[0]!.body.metadata.annotations[KEK_ROTATION_RESULT_ANNOTATION]!;
    expect(JSON.parse(answer)).toMatchObject({ request: 'r1', from: 'kek-0', to: 'kek-1', error: '' });

    // The cache still shows r1 without its answer (a Volume update from before the answer).
    await controller.reconcile(`${NS}/v`);
    expect(rotations()).toBe(1);
    expect(patches).toHaveLength(1);

    // The answer arrives; then a new request.
    current = vol('r1', answer);
    await controller.reconcile(`${NS}/v`);
    expect(rotations()).toBe(1);
    current = vol('r2', answer);
    await controller.reconcile(`${NS}/v`);
    expect(rotations()).toBe(2);
    expect(JSON.parse(patches[1]!.body.metadata.annotations[KEK_ROTATION_RESULT_ANNOTATION]!)).toMatchObject({
      request: 'r2',
      from: 'kek-1',
      to: 'kek-2',
    });
  });
});
