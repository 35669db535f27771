/**
 * The xts addon from dataplane/native (built by scripts/setup.sh with the fsext addon): AES-256-
 * XTS per 4 KiB block, in place, with the system's libcrypto, which has AES-NI where Node's
 * bundled OpenSSL here does not (1 MiB: ~1 ms against ~3 ms; 4 KiB: 2 us against 15 us, measured
 * on a loaded 2-core machine). Optional: without it XtsCipher computes XTS itself over AES-ECB.
 */
import { createRequire } from 'node:module';

export interface NativeXts {
  create(key: Buffer): unknown;
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
    // Opening libcrypto happens on first use: try it once here so a failure means "no addon".
    addon.create(Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 2)]));
    loaded = addon;
  } catch {
    loaded = null;
  }
  return loaded;
}
