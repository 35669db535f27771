/**
 * The storage interface the NBD frontend serves and the engine implements: a flat array of
 * bytes with the operations a block client can ask for. Offsets and lengths are byte counts
 * (safe integers); implementations validate them and reject with a BlockError.
 */
export interface BlockDevice {
  /** Current size in bytes. May grow (online expansion); clients see it after reconnect. */
  size(): number;
  /** Reads `length` bytes at `offset`. Holes read as zeros. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Writes `data` at `offset`; with `fua` the bytes are on stable storage before resolving. */
  write(offset: number, data: Buffer, fua: boolean): Promise<void>;
  /** Makes every write acknowledged before this call durable. */
  flush(): Promise<void>;
  /** Discards a range: afterwards it reads as zeros (Longhorn semantics: punched holes). */
  trim(offset: number, length: number, fua: boolean): Promise<void>;
  /** Writes zeros over a range, punching holes where that is cheaper. */
  writeZeroes(offset: number, length: number, fua: boolean): Promise<void>;
  /** True when several connections see each other's flushed writes (NBD CAN_MULTI_CONN). */
  readonly canMultiConn: boolean;
  /**
   * Where the bytes of [offset, offset + length) lie, whole, in one file whose pages the page
   * cache holds, for a frontend that sends them from there without copying (sendfile); null
   * when they do not (holes, several layers, not cached, encrypted, held back by QoS, a
   * structural change pending), and the frontend reads them with `read`. Synchronous: the
   * answer holds for this turn of the event loop only, and counts as the read having happened.
   * The kernel sends the file's pages by reference, so a write racing the read (one the client
   * issued before it had the reply) may reach the client in the reply, as it may with any read
   * racing a write; never a device wrapper that transforms bytes (encryption) offers spans.
   */
  readSpan?(offset: number, length: number): FileSpan | null;
}

/** Bytes of a file: `length` bytes from `position` of the open file `fd` (owned by the device). */
export interface FileSpan {
  fd: number;
  position: number;
}
