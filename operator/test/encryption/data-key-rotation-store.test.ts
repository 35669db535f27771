import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import type { Volume } from '@longhorn-ts/api';
import { dataKeyId } from '@longhorn-ts/dataplane/crypt/data-key-rotation';
import { unwrapDataKey } from '@longhorn-ts/dataplane/crypt/index';
import { describe, expect, it } from 'vitest';
import { forgetStaleRotation } from '../../src/controllers/engine-controller.js';
import { CRYPTO_SECRET_ANNOTATION } from '../../src/encryption/crypto-secret-ref.js';
import { staleRotationRecord } from '../../src/encryption/data-key-rotation-step.js';
import { EncryptionKeyError, VolumeKeyStore } from '../../src/encryption/volume-key-store.js';
import { fakeCore } from './fake-core.js';

const volume = {
  metadata: { name: 'v1', uid: 'u1', annotations: { [CRYPTO_SECRET_ANNOTATION]: 'ns/crypto' } },
  spec: { encrypted: true },
} as unknown as Volume;

function field(secrets: Map<string, V1Secret>, name: string): unknown {
  const text = secrets.get('longhorn-system/longhorn-ts-keys-v1')?.data?.[name];
  return text === undefined ? undefined : JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
}

describe('VolumeKeyStore: data-key rotation', () => {
  it('keeps both keys until done, hands both to a start, refuses a KEK rotation meanwhile, drops the old one when done', async () => {
    const { core, secrets } = fakeCore();
    const store = new VolumeKeyStore(core, 'longhorn-system');
    const first = await store.open(volume);
    first.kek.fill(0);
    expect(first.rotation).toBeUndefined();

    const begun = await store.beginDataKeyRotation(volume, 't1', 'node-1', '2026-12-02T00:00:00Z');
    const newKey = unwrapDataKey(begun.current, begun.kek);
    expect(begun.mark).toMatchObject({
      request: 't1',
      node: 'node-1',
      from: first.dataKeyId,
      to: dataKeyId(newKey),
    });
    expect(begun.previous).toEqual(first.envelope);
    begun.kek.fill(0);
    expect(field(secrets, 'key-record.json')).toMatchObject({ envelope: begun.current });
    expect(JSON.stringify([...secrets.values()])).not.toContain(newKey.toString('base64'));

    const mid = await store.open(volume);
    mid.kek.fill(0);
    expect(mid.dataKeyId).toBe(begun.mark.to);
    expect(mid.rotation).toMatchObject({ node: 'node-1', from: first.dataKeyId, previous: first.envelope });
    await expect(store.rotate(volume)).rejects.toThrow(/holds two data keys .* its data-key rotation runs/);
    await expect(store.beginDataKeyRotation(volume, 't2', 'node-1', 'x')).rejects.toBeInstanceOf(
      EncryptionKeyError,
    );
    const again = await store.dataKeyRotationKeys(volume);
    again.kek.fill(0);
    expect(again).toMatchObject({ current: begun.current, previous: first.envelope });

    expect(await store.finishDataKeyRotation('v1', 'dk-other', 'x', false)).toBe(false);
    expect(await store.finishDataKeyRotation('v1', begun.mark.to, '2026-12-02T00:01:00Z', false)).toBe(true);
    const mark = field(secrets, 'data-key-rotation.json') as Record<string, unknown>;
    expect(mark).toMatchObject({ doneAt: '2026-12-02T00:01:00Z', to: begun.mark.to });
    expect(mark.previous).toBeUndefined();
    const after = await store.open(volume);
    after.kek.fill(0);
    expect(after.rotation).toBeUndefined();

    // A KEK rotation now goes (and keeps the mark); the data key stays the same.
    await store.rotate(volume);
    expect(field(secrets, 'data-key-rotation.json')).toEqual(mark);
    const rewrapped = await store.open(volume);
    rewrapped.kek.fill(0);
    expect(rewrapped.dataKeyId).toBe(begun.mark.to);
  });

  it('keeps the previous key of a done rotation while snapshots use it', async () => {
    const { core, secrets } = fakeCore();
    const store = new VolumeKeyStore(core, 'longhorn-system');
    (await store.open(volume)).kek.fill(0);
    const begun = await store.beginDataKeyRotation(volume, 't1', 'node-1', 'x');
    begun.kek.fill(0);
    await store.finishDataKeyRotation('v1', begun.mark.to, 'y', true);
    expect(field(secrets, 'data-key-rotation.json')).toMatchObject({ doneAt: 'y', previous: begun.previous });
    const opened = await store.open(volume);
    opened.kek.fill(0);
    // Done: an engine start gets the current key alone.
    expect(opened.rotation).toBeUndefined();
    await expect(store.rotate(volume)).rejects.toThrow(
      /snapshots taken before its data-key rotation finished/,
    );
  });
});

describe('staleRotationRecord', () => {
  it.each([
    ['no record', undefined, false],
    ['running here', { to: 'dk-b' }, false],
    ['running here, to another key', { to: 'dk-z' }, false],
    ['done, to the current key', { to: 'dk-b', done: {} }, false],
    ['done, to the key being replaced (a new rotation starts)', { to: 'dk-a', done: {} }, false],
    ['done, to an older key', { to: 'dk-0', done: {} }, true],
  ])('%s', (_, saved, stale) => {
    expect(staleRotationRecord(saved, 'dk-b', 'dk-a')).toBe(stale);
  });

  it('is forgotten from the state file, the rest kept', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lh-stale-rotation-'));
    try {
      const file = join(dir, 'v-e-0.json');
      const members = [{ id: 'r1', address: 'tcp://127.0.0.1:1' }];
      await writeFile(file, JSON.stringify({ members, dataKeyRotation: { to: 'dk-0', done: { at: 'x' } } }));
      await forgetStaleRotation(file, 'dk-b', undefined);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ members });
      const current = { members, dataKeyRotation: { to: 'dk-b', done: { at: 'x' } } };
      await writeFile(file, JSON.stringify(current));
      await forgetStaleRotation(file, 'dk-b', undefined);
      expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(current);
      await forgetStaleRotation(join(dir, 'missing.json'), 'dk-b', undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
