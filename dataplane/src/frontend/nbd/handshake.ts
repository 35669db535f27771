import type { BlockDevice } from '../../block/block-device.js';
import type { ByteQueue } from './byte-queue.js';
import {
  MAX_OPTION_DATA_SIZE,
  MAX_PAYLOAD_SIZE,
  MAX_STRING_SIZE,
  MIN_BLOCK_SIZE,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_C_NO_ZEROES,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_HAS_FLAGS,
  NBD_FLAG_NO_ZEROES,
  NBD_FLAG_SEND_FLUSH,
  NBD_FLAG_SEND_FUA,
  NBD_FLAG_SEND_TRIM,
  NBD_FLAG_SEND_WRITE_ZEROES,
  NBD_IHAVEOPT,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_MAGIC,
  NBD_OPT_ABORT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_INFO,
  NBD_OPT_LIST,
  NBD_OPTION_REPLY_MAGIC,
  NBD_REP_ACK,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_UNKNOWN,
  NBD_REP_ERR_UNSUP,
  NBD_REP_INFO,
  NBD_REP_SERVER,
  OPTION_HEADER_SIZE,
  PREFERRED_BLOCK_SIZE,
} from './constants.js';

/** An export the server offers: a name and the device behind it. */
export interface NbdExport {
  name: string;
  device: BlockDevice;
  description?: string;
}

/** Looks exports up by name; the server builds it from its export map. */
export interface ExportCatalog {
  resolve(name: string): NbdExport | undefined;
  list(): NbdExport[];
}

/** What the connection must do after one handshake step. */
export type HandshakeStep =
  | { kind: 'more' }
  | { kind: 'reply'; out: Buffer[] }
  | { kind: 'close'; out: Buffer[]; reason: string }
  | { kind: 'transmission'; out: Buffer[]; export: NbdExport; size: number };

/** The 16-bit transmission flags for a device. Writable always; multi-conn only if it says so. */
export function transmissionFlags(device: BlockDevice): number {
  let flags =
    NBD_FLAG_HAS_FLAGS |
    NBD_FLAG_SEND_FLUSH |
    NBD_FLAG_SEND_FUA |
    NBD_FLAG_SEND_TRIM |
    NBD_FLAG_SEND_WRITE_ZEROES;
  if (device.canMultiConn) flags |= NBD_FLAG_CAN_MULTI_CONN;
  return flags;
}

/** The server's opening: NBDMAGIC, IHAVEOPT, handshake flags. */
export function encodeGreeting(): Buffer {
  const out = Buffer.alloc(18);
  out.writeBigUInt64BE(NBD_MAGIC, 0);
  out.writeBigUInt64BE(NBD_IHAVEOPT, 8);
  out.writeUInt16BE(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES, 16);
  return out;
}

export function encodeOptionReply(option: number, type: number, data?: Buffer): Buffer {
  const length = data?.length ?? 0;
  const out = Buffer.alloc(20 + length);
  out.writeBigUInt64BE(NBD_OPTION_REPLY_MAGIC, 0);
  out.writeUInt32BE(option, 8);
  out.writeUInt32BE(type, 12);
  out.writeUInt32BE(length, 16);
  data?.copy(out, 20);
  return out;
}

function encodeErrorReply(option: number, type: number, message: string): Buffer {
  return encodeOptionReply(option, type, Buffer.from(message, 'utf8'));
}

function encodeInfoExport(size: number, flags: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(NBD_INFO_EXPORT, 0);
  out.writeBigUInt64BE(BigInt(size), 2);
  out.writeUInt16BE(flags, 10);
  return out;
}

function encodeInfoBlockSize(): Buffer {
  const out = Buffer.alloc(14);
  out.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
  out.writeUInt32BE(MIN_BLOCK_SIZE, 2);
  out.writeUInt32BE(PREFERRED_BLOCK_SIZE, 6);
  out.writeUInt32BE(MAX_PAYLOAD_SIZE, 10);
  return out;
}

function encodeInfoString(type: number, text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const out = Buffer.alloc(2 + body.length);
  out.writeUInt16BE(type, 0);
  body.copy(out, 2);
  return out;
}

/** The body of NBD_OPT_INFO / NBD_OPT_GO: an export name and the info types asked for. */
export interface InfoRequest {
  name: string;
  requests: number[];
}

/** Parses NBD_OPT_INFO / NBD_OPT_GO data; null when it is malformed. */
export function parseInfoRequest(data: Buffer): InfoRequest | null {
  if (data.length < 6) return null;
  const nameLength = data.readUInt32BE(0);
  if (nameLength > MAX_STRING_SIZE || 4 + nameLength + 2 > data.length) return null;
  const name = data.toString('utf8', 4, 4 + nameLength);
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return null;
  const requests: number[] = [];
  for (let i = 0; i < count; i++) requests.push(data.readUInt16BE(4 + nameLength + 2 + 2 * i));
  return { name, requests };
}

/** Replies to a successful NBD_OPT_INFO / NBD_OPT_GO: the INFO replies, then ACK. */
export function encodeInfoReplies(
  option: number,
  exp: NbdExport,
  size: number,
  requests: number[],
): Buffer[] {
  const out = [
    encodeOptionReply(option, NBD_REP_INFO, encodeInfoExport(size, transmissionFlags(exp.device))),
    // Sent unasked too: our constraints are the defaults clients assume, so it is always safe.
    encodeOptionReply(option, NBD_REP_INFO, encodeInfoBlockSize()),
  ];
  if (requests.includes(NBD_INFO_NAME)) {
    out.push(encodeOptionReply(option, NBD_REP_INFO, encodeInfoString(NBD_INFO_NAME, exp.name)));
  }
  if (requests.includes(NBD_INFO_DESCRIPTION) && exp.description !== undefined) {
    out.push(
      encodeOptionReply(option, NBD_REP_INFO, encodeInfoString(NBD_INFO_DESCRIPTION, exp.description)),
    );
  }
  out.push(encodeOptionReply(option, NBD_REP_ACK));
  return out;
}

/** Replies to NBD_OPT_LIST: one SERVER reply per export, then ACK. */
export function encodeListReplies(exports: NbdExport[]): Buffer[] {
  const out: Buffer[] = [];
  for (const exp of exports) {
    const name = Buffer.from(exp.name, 'utf8');
    const description = Buffer.from(exp.description ?? '', 'utf8');
    const data = Buffer.alloc(4 + name.length + description.length);
    data.writeUInt32BE(name.length, 0);
    name.copy(data, 4);
    description.copy(data, 4 + name.length);
    out.push(encodeOptionReply(NBD_OPT_LIST, NBD_REP_SERVER, data));
  }
  out.push(encodeOptionReply(NBD_OPT_LIST, NBD_REP_ACK));
  return out;
}

/** The answer to NBD_OPT_EXPORT_NAME: size, transmission flags, and 124 zeroes unless waived. */
export function encodeExportNameReply(size: number, flags: number, noZeroes: boolean): Buffer {
  const out = Buffer.alloc(noZeroes ? 10 : 134);
  out.writeBigUInt64BE(BigInt(size), 0);
  out.writeUInt16BE(flags, 8);
  return out;
}

/** The `reason` of the close step that answers NBD_OPT_ABORT. */
export const CLIENT_ABORTED = 'client aborted';

const KNOWN_CLIENT_FLAGS = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES;

/**
 * The handshake of one connection as a state machine over received bytes: no socket here.
 * The connection writes `encodeGreeting()`, then calls `step()` until it says 'more',
 * 'close' or 'transmission'.
 */
export class Handshake {
  private phase: 'client-flags' | 'options' = 'client-flags';
  private noZeroes = false;

  constructor(
    private readonly input: ByteQueue,
    private readonly catalog: ExportCatalog,
  ) {}

  step(): HandshakeStep {
    const input = this.input;
    if (this.phase === 'client-flags') {
      if (input.length < 4) return MORE;
      const flags = input.take(4).readUInt32BE(0);
      if ((flags & ~KNOWN_CLIENT_FLAGS) !== 0) {
        return { kind: 'close', out: [], reason: `unknown client flags 0x${flags.toString(16)}` };
      }
      this.noZeroes = (flags & NBD_FLAG_C_NO_ZEROES) !== 0;
      this.phase = 'options';
      return { kind: 'reply', out: [] };
    }
    if (input.length < OPTION_HEADER_SIZE) return MORE;
    const header = input.peek(OPTION_HEADER_SIZE, this.scratch);
    if (header.buf.readBigUInt64BE(header.pos) !== NBD_IHAVEOPT) {
      return { kind: 'close', out: [], reason: 'bad option magic' };
    }
    const option = header.buf.readUInt32BE(header.pos + 8);
    const length = header.buf.readUInt32BE(header.pos + 12);
    if (length > MAX_OPTION_DATA_SIZE) {
      return { kind: 'close', out: [], reason: `option ${option} data too large (${length} bytes)` };
    }
    if (input.length < OPTION_HEADER_SIZE + length) return MORE;
    input.skip(OPTION_HEADER_SIZE);
    const data = Buffer.from(input.take(length));
    return this.option(option, data);
  }

  private readonly scratch = Buffer.allocUnsafe(OPTION_HEADER_SIZE);

  private option(option: number, data: Buffer): HandshakeStep {
    switch (option) {
      case NBD_OPT_EXPORT_NAME: {
        const name = data.toString('utf8');
        const exp = this.catalog.resolve(name);
        // This option cannot answer an error: the spec says to drop the connection.
        if (!exp) return { kind: 'close', out: [], reason: `unknown export ${JSON.stringify(name)}` };
        const size = exp.device.size();
        const reply = encodeExportNameReply(size, transmissionFlags(exp.device), this.noZeroes);
        return { kind: 'transmission', out: [reply], export: exp, size };
      }
      case NBD_OPT_ABORT:
        return { kind: 'close', out: [encodeOptionReply(option, NBD_REP_ACK)], reason: CLIENT_ABORTED };
      case NBD_OPT_LIST:
        if (data.length !== 0) {
          return reply(encodeErrorReply(option, NBD_REP_ERR_INVALID, 'NBD_OPT_LIST takes no data'));
        }
        return { kind: 'reply', out: encodeListReplies(this.catalog.list()) };
      case NBD_OPT_INFO:
      case NBD_OPT_GO: {
        const request = parseInfoRequest(data);
        if (!request) return reply(encodeErrorReply(option, NBD_REP_ERR_INVALID, 'malformed info request'));
        const exp = this.catalog.resolve(request.name);
        if (!exp) {
          return reply(encodeErrorReply(option, NBD_REP_ERR_UNKNOWN, `no export named "${request.name}"`));
        }
        const size = exp.device.size();
        const out = encodeInfoReplies(option, exp, size, request.requests);
        if (option === NBD_OPT_INFO) return { kind: 'reply', out };
        return { kind: 'transmission', out, export: exp, size };
      }
      default:
        // Includes NBD_OPT_STRUCTURED_REPLY (we send simple replies) and NBD_OPT_STARTTLS.
        return reply(encodeErrorReply(option, NBD_REP_ERR_UNSUP, `option ${option} not supported`));
    }
  }
}

const MORE: HandshakeStep = { kind: 'more' };

function reply(out: Buffer): HandshakeStep {
  return { kind: 'reply', out: [out] };
}
