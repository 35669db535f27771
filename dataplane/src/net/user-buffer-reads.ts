import type { Socket } from 'node:net';

/**
 * Switches an established socket (also one a `net.Server` accepted, where Node offers no
 * `onread` option) to reading into buffers the caller chooses, as `net.connect({ onread })`
 * does: `next()` is asked for the buffer of every read and `onRead(n, buf)` gets the bytes.
 * No 'data' events follow; 'end', 'close', 'error', pause() and resume() behave as before.
 *
 * Why: by default Node allocates a fresh 64 KiB ArrayBuffer for every read. A process that
 * otherwise allocates little (the engine) then frees them only in full mark-compacts, which V8
 * runs 10-25 times a second at a few hundred MiB/s; reading into one reused buffer, or straight
 * into the payload being assembled, removes them.
 *
 * It sets the same fields `net.Socket`'s constructor sets for `onread` (found by their symbol
 * descriptions) and calls the handle's `useUserBuffer`. If this Node does not look as expected,
 * it changes nothing and returns false, and the caller keeps using 'data' events.
 */
export function readIntoUserBuffers(
  socket: Socket,
  next: () => Buffer,
  onRead: (n: number, buf: Buffer) => void,
): boolean {
  const symbols = Object.getOwnPropertySymbols(socket);
  const find = (name: string) => symbols.find((s) => s.description === name);
  const kBuffer = find('kBuffer');
  const kBufferCb = find('kBufferCb');
  const kBufferGen = find('kBufferGen');
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (buf: Uint8Array) => void } })._handle;
  if (!kBuffer || !kBufferCb || !kBufferGen || typeof handle?.useUserBuffer !== 'function') return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  if (fields[kBuffer] !== null || fields[kBufferCb] !== null || fields[kBufferGen] !== null) return false;
  const first = next();
  fields[kBuffer] = first;
  fields[kBufferGen] = next;
  fields[kBufferCb] = (n: number, buf: Buffer): boolean => {
    onRead(n, buf);
    return true;
  };
  handle.useUserBuffer(first);
  return true;
}
