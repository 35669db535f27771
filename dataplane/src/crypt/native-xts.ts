/**
 * The xts addon from dataplane/native (built by scripts/setup.sh with the fsext addon): AES-256-
 * XTS per 4 KiB block, in place, natively where Node's bundled OpenSSL here has no AES-NI: its
 * own XTS over VAES (AVX-512) where the CPU has it, else the system's libcrypto (CPU per MiB,
 * measured on the 2-core VM: vaes ~55 us, libcrypto ~155 us, the JS fallback ~3 ms). Optional:
 * without it XtsCipher computes XTS itself over AES-ECB.
 */
import { createRequire } from 'node:module';

/** Which code in the addon encrypts: its own over VAES, or the system's libcrypto. */
export type NativeXtsEngine = 'vaes' | 'libcrypto';

export interface NativeXts {
  /** The vaes engine where the CPU has it, unless 'libcrypto' is asked for. */
  create(key: Buffer, engine?: 'libcrypto'): unknown;
  /** Missing from builds that predate the vaes engine (those are libcrypto). */
  engine?(handle: unknown): NativeXtsEngine;
  run(handle: unknown, encrypt: boolean, data: Buffer, firstBlock: number): void;
  /** The same on libuv's thread pool; `data` must not be touched until `done`. */
  runAsync(
    handle: unknown,
    encrypt: boolean,
    data: Buffer,
    firstBlock: number,
    done: (err: Error | null) => void,
  ): void;
}

let loaded: NativeXts | null | undefined;

/** The addon, or null when it is not built or cannot open libcrypto. */
export function nativeXts(): NativeXts | null {
  if (loaded !== undefined) return loaded;
  // src/crypt and dist/crypt are both two levels below the workspace root.
  const path = new URL('../../native/build/Release/xts.node', import.meta.url).pathname;
  try {
    const addon = createRequire(import.meta.url)(path) as NativeXts;
    if (typeof addon.runAsync !== 'function') throw new Error('xts addon predates runAsync; rebuild it');
    // Opening libcrypto (without VAES) happens on first use: try it once here so a failure
    // means "no addon".
    addon.create(Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 2)]));
    loaded = addon;
  } catch {
    loaded = null;
  }
  return loaded;
}
