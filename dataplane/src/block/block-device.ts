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
}
