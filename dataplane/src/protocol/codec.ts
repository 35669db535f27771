/**
 * Binary frames of the engine <-> replica protocol.
 *
 * Every frame starts with Longhorn's 26-byte little-endian header
 * (magic u16, seq u32, type u32, offset i64, size u32, dataLength u32) followed by
 * `dataLength` bytes of payload. Types 0-8 are Longhorn's; 16 and up are ours. Data operations
 * carry raw bytes only; control operations (not on the hot path) carry a small JSON payload.
 */

export const MAGIC = 0x1b01;
export const HEADER_SIZE = 26;
/** Largest payload or read size accepted; anything larger is treated as garbage. */
export const MAX_DATA_LENGTH = 64 * 1024 * 1024;

export const MessageType = {
  Read: 0,
  Write: 1,
  Response: 2,
  Error: 3,
  EOF: 4,
  Close: 5,
  Ping: 6,
  Unmap: 7,
  ENOSPC: 8,
  // Ours (>= 16).
  WriteZeroes: 16,
  Flush: 17,
  /** Binds a connection to a replica (payload JSON `{replicaId}`), or to management when absent. */
  Hello: 18,
  /** A control operation: payload JSON `{op, args}`; the response payload is JSON (or empty). */
  Control: 19,
  /** Rebuild: read a layer's own bytes (no merge); offset/size in the header, payload = name. */
  ReadLayer: 20,
  /** Rebuild: write bytes into a layer being imported; payload = u16 nameLength, name, data. */
  WriteLayer: 21,
  /** Backup: read the volume as of a snapshot; offset/size in the header, payload = name. */
  ReadSnapshot: 22,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Requests whose `size` is a number of bytes to send back. */
const READ_TYPES: ReadonlySet<number> = new Set([
  MessageType.Read,
  MessageType.ReadLayer,
  MessageType.ReadSnapshot,
]);

const KNOWN_TYPES = new Set<number>(Object.values(MessageType));

export function isKnownType(type: number): type is MessageType {
  return KNOWN_TYPES.has(type);
}

export function messageTypeName(type: number): string {
  for (const [name, value] of Object.entries(MessageType)) if (value === type) return name;
  return `unknown(${type})`;
}

const TWO_32 = 0x1_0000_0000;

/** Writes a header into `buf` at `at`. Offsets are safe integers; i64 split into two u32. */
export function writeHeader(
  buf: Buffer,
  at: number,
  seq: number,
  type: number,
  offset: number,
  size: number,
  dataLength: number,
): void {
  buf.writeUInt16LE(MAGIC, at);
  buf.writeUInt32LE(seq >>> 0, at + 2);
  buf.writeUInt32LE(type, at + 6);
  const lo = offset >>> 0 === offset ? offset : ((offset % TWO_32) + TWO_32) % TWO_32;
  const hi = Math.floor(offset / TWO_32);
  buf.writeUInt32LE(lo, at + 10);
  buf.writeInt32LE(hi, at + 14);
  buf.writeUInt32LE(size, at + 18);
  buf.writeUInt32LE(dataLength, at + 22);
}

/** Allocates and fills a header (from Node's shared small-buffer pool). */
export function encodeHeader(
  seq: number,
  type: number,
  offset: number,
  size: number,
  dataLength: number,
): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE);
  writeHeader(buf, 0, seq, type, offset, size, dataLength);
  return buf;
}

export interface Frame {
  seq: number;
  type: number;
  offset: number;
  size: number;
  data: Buffer;
}

/** Encodes one frame as a single buffer (tests and control paths; the hot path writes header + data). */
export function encodeFrame(frame: Frame): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_SIZE + frame.data.length);
  writeHeader(buf, 0, frame.seq, frame.type, frame.offset, frame.size, frame.data.length);
  frame.data.copy(buf, HEADER_SIZE);
  return buf;
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Called once per complete frame. Positional arguments so the hot path allocates no frame object. */
export type FrameHandler = (seq: number, type: number, offset: number, size: number, data: Buffer) => void;

const EMPTY = Buffer.alloc(0);

/**
 * Incremental frame parser. Headers that straddle chunks are assembled in a 26-byte scratch
 * buffer; a payload that lies inside one chunk is passed as a view of it (no copy); one that
 * straddles chunks is copied once into a buffer of its final size as the pieces arrive.
 * The receive buffer is never re-concatenated.
 */
export class FrameParser {
  private readonly scratch = Buffer.allocUnsafe(HEADER_SIZE);
  private headerFill = 0;
  private payload: Buffer | null = null;
  private payloadFill = 0;
  private seq = 0;
  private type = 0;
  private offset = 0;
  private size = 0;
  private failed: ProtocolError | null = null;

  /**
   * `copySmallPayloads`: the caller reuses the chunks it pushes (a socket reading into one
   * buffer), so a payload inside a chunk is copied out instead of passed as a view.
   */
  constructor(
    private readonly onFrame: FrameHandler,
    private readonly copySmallPayloads = false,
    private readonly allocate: (size: number) => Buffer = Buffer.allocUnsafe,
  ) {}

  /**
   * Where the rest of a large payload in progress can be read straight into (its final buffer,
   * from the first byte still missing), or null between frames and near a payload's end. A
   * socket that reads into this and then calls `filled(n)` moves the payload without a copy.
   */
  directTarget(minBytes: number): Buffer | null {
    const p = this.payload;
    if (!p || p.length - this.payloadFill < minBytes) return null;
    return p.subarray(this.payloadFill);
  }

  /** `n` bytes were read into the buffer `directTarget` returned. */
  filled(n: number): void {
    const p = this.payload;
    if (!p || n > p.length - this.payloadFill) throw new ProtocolError('direct read past the payload');
    this.payloadFill += n;
    if (this.payloadFill === p.length) {
      this.payload = null;
      this.payloadFill = 0;
      this.onFrame(this.seq, this.type, this.offset, this.size, p);
    }
  }

  /** Feeds one chunk. Throws ProtocolError on garbage; the parser stays failed afterwards. */
  push(chunk: Buffer): void {
    if (this.failed) throw this.failed;
    let pos = 0;
    const end = chunk.length;
    while (pos < end) {
      if (this.payload) {
        const need = this.payload.length - this.payloadFill;
        const take = Math.min(need, end - pos);
        chunk.copy(this.payload, this.payloadFill, pos, pos + take);
        this.payloadFill += take;
        pos += take;
        if (this.payloadFill === this.payload.length) {
          const data = this.payload;
          this.payload = null;
          this.payloadFill = 0;
          this.onFrame(this.seq, this.type, this.offset, this.size, data);
        }
        continue;
      }
      let dataLength: number;
      if (this.headerFill === 0 && end - pos >= HEADER_SIZE) {
        dataLength = this.parseHeader(chunk, pos);
        pos += HEADER_SIZE;
      } else {
        const take = Math.min(HEADER_SIZE - this.headerFill, end - pos);
        chunk.copy(this.scratch, this.headerFill, pos, pos + take);
        this.headerFill += take;
        pos += take;
        if (this.headerFill < HEADER_SIZE) {
          // Judge the magic as soon as it is in, so short garbage does not wait for more bytes.
          if (this.headerFill >= 2 && this.scratch.readUInt16LE(0) !== MAGIC)
            this.parseHeader(this.scratch, 0);
          break;
        }
        this.headerFill = 0;
        dataLength = this.parseHeader(this.scratch, 0);
      }
      if (dataLength === 0) {
        this.onFrame(this.seq, this.type, this.offset, this.size, EMPTY);
      } else if (end - pos >= dataLength) {
        let data = chunk.subarray(pos, pos + dataLength);
        if (this.copySmallPayloads) {
          data = this.allocate(dataLength);
          chunk.copy(data, 0, pos, pos + dataLength);
        }
        pos += dataLength;
        this.onFrame(this.seq, this.type, this.offset, this.size, data);
      } else {
        this.payload = this.allocate(dataLength);
        this.payloadFill = 0;
      }
    }
  }

  /** Bytes buffered towards an incomplete frame (0 at a frame boundary). */
  get pending(): number {
    return this.payload ? HEADER_SIZE + this.payloadFill : this.headerFill;
  }

  private parseHeader(buf: Buffer, at: number): number {
    const magic = buf.readUInt16LE(at);
    if (magic !== MAGIC) return this.fail(`bad magic 0x${magic.toString(16)}`);
    this.seq = buf.readUInt32LE(at + 2);
    this.type = buf.readUInt32LE(at + 6);
    if (!KNOWN_TYPES.has(this.type)) return this.fail(`unknown message type ${this.type}`);
    const lo = buf.readUInt32LE(at + 10);
    const hi = buf.readInt32LE(at + 14);
    this.offset = hi * TWO_32 + lo;
    this.size = buf.readUInt32LE(at + 18);
    const dataLength = buf.readUInt32LE(at + 22);
    if (dataLength > MAX_DATA_LENGTH)
      return this.fail(`data length ${dataLength} exceeds ${MAX_DATA_LENGTH}`);
    // Only reads make the peer allocate `size` bytes; for unmap and write-zeroes it is a range.
    if (this.size > MAX_DATA_LENGTH && READ_TYPES.has(this.type)) {
      return this.fail(`size ${this.size} exceeds ${MAX_DATA_LENGTH}`);
    }
    if (this.offset < 0 || !Number.isSafeInteger(this.offset)) return this.fail(`bad offset ${this.offset}`);
    return dataLength;
  }

  private fail(message: string): never {
    this.failed = new ProtocolError(message);
    throw this.failed;
  }
}

// --- Payload helpers (control and error frames; never on the data path) ---

/** Error payload: u8 codeLength, code (ASCII), message (UTF-8). */
export function encodeErrorPayload(code: string, message: string): Buffer {
  const codeBuf = Buffer.from(code.slice(0, 255), 'latin1');
  const msgBuf = Buffer.from(message, 'utf8');
  const buf = Buffer.allocUnsafe(1 + codeBuf.length + msgBuf.length);
  buf[0] = codeBuf.length;
  codeBuf.copy(buf, 1);
  msgBuf.copy(buf, 1 + codeBuf.length);
  return buf;
}

export function decodeErrorPayload(data: Buffer): { code: string; message: string } {
  if (data.length === 0) return { code: 'EIO', message: 'error without payload' };
  const codeLength = data[0]!;
  return {
    code: data.toString('latin1', 1, 1 + codeLength),
    message: data.toString('utf8', 1 + codeLength),
  };
}

export function encodeJson(value: unknown): Buffer {
  return value === undefined ? EMPTY : Buffer.from(JSON.stringify(value), 'utf8');
}

export function decodeJson(data: Buffer): unknown {
  return data.length === 0 ? undefined : JSON.parse(data.toString('utf8'));
}

/** WriteLayer payload: u16 nameLength, name (UTF-8), data. */
export function encodeLayerWritePrefix(name: string): Buffer {
  const nameBuf = Buffer.from(name, 'utf8');
  const buf = Buffer.allocUnsafe(2 + nameBuf.length);
  buf.writeUInt16LE(nameBuf.length, 0);
  nameBuf.copy(buf, 2);
  return buf;
}

export function decodeLayerWrite(payload: Buffer): { name: string; data: Buffer } {
  if (payload.length < 2) throw new ProtocolError('short layer write payload');
  const nameLength = payload.readUInt16LE(0);
  if (2 + nameLength > payload.length) throw new ProtocolError('bad layer name length');
  return {
    name: payload.toString('utf8', 2, 2 + nameLength),
    data: payload.subarray(2 + nameLength),
  };
}

export { EMPTY as EMPTY_PAYLOAD };
