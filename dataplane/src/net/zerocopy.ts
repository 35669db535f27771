import { createRequire } from 'node:module';

/**
 * The zerocopy addon (dataplane/native/zerocopy.c): NBD read replies sent from a layer file's
 * cached pages by sendfile(2), never through a Buffer. Everything in it runs on the event loop
 * without blocking.
 */
export interface ZeroCopy {
  /** True when the page cache holds every page of the range (cachestat(2)). */
  allCached(fd: number, position: number, length: number): boolean;
  /** A close-on-exec duplicate of `fd`. */
  dupFd(fd: number): number;
  /**
   * Sends `header` then `length` bytes of `fileFd` at `position`, resuming after the first
   * `sent` bytes of that whole, as far as the socket takes them now. Returns the new `sent`.
   */
  sendSpan(
    socketFd: number,
    header: Buffer,
    fileFd: number,
    position: number,
    length: number,
    sent: number,
  ): number;
  /** Calls back once the socket takes more bytes (or failed); a handle for cancelWait. */
  whenWritable(socketFd: number, callback: (err: Error | null) => void): WaitHandle;
  /** Stops a wait whose callback has not run yet. */
  cancelWait(handle: WaitHandle): void;
}

declare const waitHandle: unique symbol;
export type WaitHandle = { readonly [waitHandle]: true };

let loaded: ZeroCopy | null | undefined;

/**
 * The addon, or null when it was not built (an older checkout's build) or is switched off with
 * LONGHORN_ZERO_COPY=0 (to compare against the copying path): callers then read into Buffers.
 */
export function zeroCopy(): ZeroCopy | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.env.LONGHORN_ZERO_COPY === '0') return loaded;
  // src/net and dist/net are both two levels below the workspace root.
  const path = new URL('../../native/build/Release/zerocopy.node', import.meta.url).pathname;
  try {
    loaded = createRequire(import.meta.url)(path) as ZeroCopy;
  } catch {
    // Without it every read is copied, as before the addon existed.
  }
  return loaded;
}
