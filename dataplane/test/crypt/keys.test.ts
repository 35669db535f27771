import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatEnvelopeArg, loadDataKey, parseEnvelopeArg } from '../../src/crypt/envelope-arg.js';
import { kekId, parseKek, readKekFile } from '../../src/crypt/kek-material.js';
import {
  type KeyEnvelope,
  newDataKey,
  rewrapDataKey,
  unwrapDataKey,
  wrapDataKey,
} from '../../src/crypt/key-envelope.js';

const dir = mkdtempSync(join(tmpdir(), 'lh-keys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('key-encryption key material', () => {
  const kek = randomBytes(32);

  it.each([
    ['raw 32 bytes', kek],
    ['64 hex digits', Buffer.from(kek.toString('hex'))],
    ['64 hex digits and a newline', Buffer.from(`${kek.toString('hex').toUpperCase()}\n`)],
    ['44 base64 characters', Buffer.from(kek.toString('base64'))],
    ['base64 and a newline', Buffer.from(`${kek.toString('base64')}\r\n`)],
  ])('accepts %s', (_, material) => {
    expect(parseKek(material, 'key file k').equals(kek)).toBe(true);
  });

  it.each([
    ['empty', Buffer.alloc(0), /got 0 bytes/],
    [
      '31 raw bytes',
      randomBytes(31),
      /key file k: a key-encryption key is 32 bytes, raw or as 64 hex digits or 44 base64 characters; got 31 bytes/,
    ],
    ['33 raw bytes', randomBytes(33), /got 33 bytes/],
    ['63 hex digits', Buffer.from('a'.repeat(63)), /got 63 bytes/],
    ['hex with a stray letter', Buffer.from(`${'a'.repeat(63)}g`), /got 64 bytes that are none of these/],
    ['base64 of 16 bytes', Buffer.from(randomBytes(16).toString('base64')), /got 24 bytes/],
    ['all zeros', Buffer.alloc(32), /key file k: the key is all zeros/],
  ])('refuses %s with a clear message', (_, material, message) => {
    expect(() => parseKek(material, 'key file k')).toThrow(message);
  });

  it('names a missing key file', async () => {
    await expect(readKekFile(join(dir, 'nope'))).rejects.toThrow(/key file .*nope: no such file/);
  });

  it('identifies a key by a fingerprint that does not contain it', () => {
    const id = kekId(kek);
    expect(id).toMatch(/^kek-[0-9a-f]{16}$/);
    expect(kekId(Buffer.from(kek))).toBe(id);
    expect(kekId(randomBytes(32))).not.toBe(id);
    expect(kek.toString('hex')).not.toContain(id.slice(4));
  });
});

describe('data key envelope', () => {
  const kek = randomBytes(32);
  const dataKey = newDataKey();
  const envelope = wrapDataKey(dataKey, kek);

  it('wraps a 64-byte data key under the KEK and unwraps it with that KEK only', () => {
    expect(envelope.cipher).toBe('aes-256-xts');
    expect(envelope.keyId).toBe(kekId(kek));
    expect(Buffer.from(envelope.wrappedKey, 'base64')).toHaveLength(12 + 64 + 16);
    expect(Buffer.from(envelope.wrappedKey, 'base64').includes(dataKey.subarray(0, 16))).toBe(false);
    expect(unwrapDataKey(envelope, kek).equals(dataKey)).toBe(true);
  });

  it('refuses a wrong KEK and a missing one, naming the key id', () => {
    expect(() => unwrapDataKey(envelope, randomBytes(32), 'volume v1')).toThrow(
      new RegExp(
        `volume v1 is encrypted with key ${envelope.keyId}; the key given is kek-[0-9a-f]{16}, not that key`,
      ),
    );
    expect(() => unwrapDataKey(envelope, null, 'volume v1')).toThrow(
      `volume v1 is encrypted with key ${envelope.keyId}; no key-encryption key was given`,
    );
  });

  it('refuses a damaged wrapped key and a relabelled one', () => {
    const raw = Buffer.from(envelope.wrappedKey, 'base64');
    raw[20]! ^= 1;
    const damaged: KeyEnvelope = { ...envelope, wrappedKey: raw.toString('base64') };
    expect(() => unwrapDataKey(damaged, kek)).toThrow(`key ${envelope.keyId} does not unwrap its data key`);
  });

  it('refuses an unknown cipher and malformed envelopes', () => {
    expect(() => unwrapDataKey({ ...envelope, cipher: 'aes-128-cbc' as 'aes-256-xts' }, kek)).toThrow(
      'unknown cipher "aes-128-cbc" (supported: aes-256-xts)',
    );
    expect(() => unwrapDataKey({ ...envelope, keyId: 'x' }, kek)).toThrow('key id "x" is not a key id');
    expect(() => unwrapDataKey({ ...envelope, wrappedKey: 'AAAA' }, kek)).toThrow(
      /wrapped key for kek-[0-9a-f]{16} is not 92 bytes of base64/,
    );
  });

  it('re-wraps the same data key under a new KEK (rotation touches no data)', () => {
    const next = randomBytes(32);
    const rotated = rewrapDataKey(envelope, kek, next);
    expect(rotated.keyId).toBe(kekId(next));
    expect(rotated.wrappedKey).not.toBe(envelope.wrappedKey);
    expect(unwrapDataKey(rotated, next).equals(dataKey)).toBe(true);
    expect(() => unwrapDataKey(rotated, kek)).toThrow(/not that key/);
    expect(() => rewrapDataKey(envelope, next, randomBytes(32))).toThrow(/not that key/);
  });

  it('travels on a command line and loads with the right key file only', async () => {
    const arg = formatEnvelopeArg(envelope);
    expect(parseEnvelopeArg(arg)).toEqual(envelope);
    expect(() => parseEnvelopeArg(`${arg},mode=x`)).toThrow('--encryption: unknown field "mode"');
    expect(() => parseEnvelopeArg('cipher')).toThrow('--encryption: "cipher" is not key=value');
    const good = join(dir, 'good.key');
    const bad = join(dir, 'bad.key');
    writeFileSync(good, kek.toString('hex'));
    writeFileSync(bad, randomBytes(32));
    expect((await loadDataKey('v1', envelope, good)).equals(dataKey)).toBe(true);
    await expect(loadDataKey('v1', envelope, bad)).rejects.toThrow(
      `volume v1 is encrypted with key ${envelope.keyId}`,
    );
    await expect(loadDataKey('v1', envelope, undefined)).rejects.toThrow(/no key-encryption key was given/);
    await expect(loadDataKey('v1', envelope, join(dir, 'gone'))).rejects.toThrow(
      `volume v1 is encrypted with key ${envelope.keyId}; key file ${join(dir, 'gone')}: no such file`,
    );
  });
});
