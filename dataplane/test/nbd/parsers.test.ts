import { describe, expect, it } from 'vitest';
import { BlockError } from '../../src/block/index.js';
import {
  ByteQueue,
  encodeGreeting,
  Handshake,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_FLAG_CAN_MULTI_CONN,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_IHAVEOPT,
  NBD_OPT_EXPORT_NAME,
  NBD_OPT_GO,
  NBD_OPT_STRUCTURED_REPLY,
  NBD_REP_ERR_INVALID,
  NBD_REP_ERR_UNSUP,
  NBD_REQUEST_MAGIC,
  nbdErrnoOf,
  parseInfoRequest,
  RequestParser,
  transmissionFlags,
} from '../../src/frontend/nbd/index.js';
import { MemoryBlockDevice } from './memory-device.js';
import { infoRequest } from './raw-client.js';

function requestBytes(
  type: number,
  handle: number,
  offset: number,
  length: number,
  payload?: Buffer,
): Buffer {
  const header = Buffer.alloc(28);
  header.writeUInt32BE(NBD_REQUEST_MAGIC, 0);
  header.writeUInt16BE(type, 6);
  header.writeBigUInt64BE(BigInt(handle), 8);
  header.writeBigUInt64BE(BigInt(offset), 16);
  header.writeUInt32BE(length, 24);
  return payload ? Buffer.concat([header, payload]) : header;
}

function option(opt: number, data: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(NBD_IHAVEOPT, 0);
  header.writeUInt32BE(opt, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

describe('ByteQueue', () => {
  it('reads across chunk boundaries and slices within one chunk', () => {
    const q = new ByteQueue();
    q.push(Buffer.from('abc'));
    q.push(Buffer.from('defgh'));
    expect(q.length).toBe(8);
    const scratch = Buffer.alloc(5);
    const { buf, pos } = q.peek(5, scratch);
    expect(buf.toString('latin1', pos, pos + 5)).toBe('abcde');
    q.skip(2);
    expect(q.take(3).toString()).toBe('cde');
    const target = Buffer.alloc(10);
    expect(q.readInto(target, 1, 10)).toBe(3);
    expect(target.toString('latin1', 1, 4)).toBe('fgh');
    expect(q.length).toBe(0);
  });
});

describe('RequestParser', () => {
  it('parses requests delivered one byte at a time, payload copied once into its own buffer', () => {
    const payload = Buffer.alloc(1000, 7);
    const stream = Buffer.concat([
      requestBytes(NBD_CMD_WRITE, 0x1_0000_0002, 2 ** 40, payload.length, payload),
      requestBytes(NBD_CMD_READ, 3, 512, 4096),
    ]);
    const q = new ByteQueue();
    const parser = new RequestParser(q);
    const seen: string[] = [];
    for (const byte of stream) {
      q.push(Buffer.from([byte]));
      while (parser.next() === 'request') {
        seen.push(`${parser.type}:${parser.handleHi}:${parser.handleLo}:${parser.offset}:${parser.length}`);
        if (parser.type === NBD_CMD_WRITE) expect(parser.payload?.equals(payload)).toBe(true);
      }
    }
    expect(seen).toEqual([`1:1:2:${2 ** 40}:1000`, '0:0:3:512:4096']);
  });

  it('reports garbage and oversized write payloads as faults', () => {
    const q = new ByteQueue();
    const parser = new RequestParser(q);
    q.push(Buffer.alloc(28, 0x41));
    expect(parser.next()).toBe('fault');
    expect(parser.fault).toBe('bad-magic');

    const q2 = new ByteQueue();
    const parser2 = new RequestParser(q2);
    q2.push(requestBytes(NBD_CMD_WRITE, 1, 0, 32 * 1024 * 1024 + 1));
    expect(parser2.next()).toBe('fault');
    expect(parser2.fault).toBe('payload-too-large');
  });

  it('flags offsets beyond 2^53 as unsafe instead of rounding them', () => {
    const q = new ByteQueue();
    const parser = new RequestParser(q);
    const bytes = requestBytes(NBD_CMD_READ, 1, 0, 512);
    bytes.writeBigUInt64BE(0xffff_ffff_ffff_f000n, 16);
    q.push(bytes);
    expect(parser.next()).toBe('request');
    expect(parser.offsetSafe).toBe(false);
  });
});

describe('handshake', () => {
  const device = new MemoryBlockDevice(1 << 20);
  const catalog = {
    resolve: (name: string) => (name === 'vol' ? { name, device } : undefined),
    list: () => [{ name: 'vol', device }],
  };

  it('greets with fixed newstyle and no-zeroes', () => {
    const greeting = encodeGreeting();
    expect(greeting.readUInt16BE(16)).toBe(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  });

  it('advertises multi-conn only when the device allows it', () => {
    expect(transmissionFlags(device) & NBD_FLAG_CAN_MULTI_CONN).toBe(NBD_FLAG_CAN_MULTI_CONN);
    const single = Object.assign(new MemoryBlockDevice(512), { canMultiConn: false });
    expect(transmissionFlags(single)).toBe(0b1101101);
  });

  it('parses info requests and rejects inconsistent lengths', () => {
    expect(parseInfoRequest(infoRequest('vol', [1, 3]))).toEqual({ name: 'vol', requests: [1, 3] });
    const bad = infoRequest('vol', [1]);
    bad.writeUInt16BE(5, 7);
    expect(parseInfoRequest(bad)).toBeNull();
    expect(parseInfoRequest(Buffer.alloc(3))).toBeNull();
  });

  it('walks flags, unsupported options, malformed GO, then EXPORT_NAME into transmission', () => {
    const q = new ByteQueue();
    const hs = new Handshake(q, catalog);
    q.push(Buffer.from([0, 0, 0, 3]));
    q.push(option(NBD_OPT_STRUCTURED_REPLY, Buffer.alloc(0)));
    q.push(option(NBD_OPT_GO, Buffer.from([1, 2])));
    q.push(option(NBD_OPT_EXPORT_NAME, Buffer.from('vol')));
    expect(hs.step()).toEqual({ kind: 'reply', out: [] });
    const unsup = hs.step();
    expect(unsup.kind === 'reply' && unsup.out[0]!.readUInt32BE(12)).toBe(NBD_REP_ERR_UNSUP);
    const invalid = hs.step();
    expect(invalid.kind === 'reply' && invalid.out[0]!.readUInt32BE(12)).toBe(NBD_REP_ERR_INVALID);
    const done = hs.step();
    expect(done.kind).toBe('transmission');
    // NO_ZEROES negotiated: size (8) + flags (2) only.
    expect(done.kind === 'transmission' && done.out[0]!.length).toBe(10);
  });

  it('closes on unknown client flags', () => {
    const q = new ByteQueue();
    const hs = new Handshake(q, catalog);
    q.push(Buffer.from([0, 0, 0, 0x10]));
    expect(hs.step().kind).toBe('close');
  });
});

describe('errno mapping', () => {
  it('maps every BlockError code and system errors', () => {
    const codes = ['EIO', 'EINVAL', 'ENOSPC', 'EPERM', 'ENOTSUP', 'ESHUTDOWN'] as const;
    expect(codes.map((c) => nbdErrnoOf(new BlockError(c, 'x')))).toEqual([5, 22, 28, 1, 95, 108]);
    expect(nbdErrnoOf(Object.assign(new Error('quota'), { code: 'EDQUOT' }))).toBe(28);
    expect(nbdErrnoOf(new Error('boom'))).toBe(5);
    expect(nbdErrnoOf(undefined)).toBe(5);
  });
});
