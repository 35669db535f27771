import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeErrorPayload,
  decodeLayerWrite,
  encodeErrorPayload,
  encodeFrame,
  encodeLayerWritePrefix,
  type Frame,
  FrameParser,
  HEADER_SIZE,
  MAX_DATA_LENGTH,
  MessageType,
  ProtocolError,
  writeHeader,
} from '../../src/protocol/codec.js';

function collect(): { parser: FrameParser; frames: Frame[] } {
  const frames: Frame[] = [];
  const parser = new FrameParser((seq, type, offset, size, data) =>
    frames.push({ seq, type, offset, size, data: Buffer.from(data) }),
  );
  return { parser, frames };
}

/** Buffers compared as hex: vitest's deep equality walks big Buffers slowly. */
function hex(frames: Frame[]): object[] {
  return frames.map((f) => ({ ...f, data: f.data.toString('hex') }));
}

function sampleFrames(): Frame[] {
  return [
    { seq: 1, type: MessageType.Write, offset: 4096, size: 5, data: Buffer.from('hello') },
    { seq: 2, type: MessageType.Read, offset: 2 ** 40 + 12345, size: 65536, data: Buffer.alloc(0) },
    { seq: 0xffff_ffff, type: MessageType.Response, offset: 0, size: 100_000, data: randomBytes(100_000) },
    { seq: 7, type: MessageType.Flush, offset: 0, size: 0, data: Buffer.alloc(0) },
    { seq: 8, type: MessageType.Control, offset: 0, size: 0, data: Buffer.from('{"op":"info","args":{}}') },
    {
      seq: 9,
      type: MessageType.Write,
      offset: Number.MAX_SAFE_INTEGER - 10,
      size: 3,
      data: Buffer.from('abc'),
    },
  ];
}

describe('codec', () => {
  it('writes the 26-byte little-endian Longhorn header', () => {
    const buf = Buffer.alloc(HEADER_SIZE);
    writeHeader(buf, 0, 0x01020304, MessageType.Write, 0x0000_0102_0304_0506, 4096, 4096);
    expect(buf.toString('hex')).toBe(
      // magic   seq       type      offset            size      dataLength
      '011b' + '04030201' + '01000000' + '0605040302010000' + '00100000' + '00100000',
    );
  });

  it('round-trips frames fed whole', () => {
    const { parser, frames } = collect();
    const input = sampleFrames();
    for (const f of input) parser.push(encodeFrame(f));
    expect(hex(frames)).toEqual(hex(input));
    expect(parser.pending).toBe(0);
  });

  it('parses frames merged into one chunk and split at every byte boundary', () => {
    const input = sampleFrames();
    const stream = Buffer.concat(input.map(encodeFrame));
    const merged = collect();
    merged.parser.push(stream);
    expect(hex(merged.frames)).toEqual(hex(input));

    // Split into chunks of varying small sizes (including 1 byte) at varying starting points.
    for (const chunkSize of [1, 3, 7, 25, 26, 27, 4095, 65536]) {
      const split = collect();
      for (let pos = 0; pos < stream.length; pos += chunkSize)
        split.parser.push(stream.subarray(pos, pos + chunkSize));
      expect(hex(split.frames)).toEqual(hex(input));
    }
  });

  it('passes a payload inside one chunk as a view, not a copy', () => {
    const views: Buffer[] = [];
    const parser = new FrameParser((_s, _t, _o, _z, data) => views.push(data));
    const chunk = encodeFrame({
      seq: 1,
      type: MessageType.Write,
      offset: 0,
      size: 4,
      data: Buffer.from('abcd'),
    });
    parser.push(chunk);
    expect(views[0]!.buffer).toBe(chunk.buffer);
  });

  it('rejects bad magic, unknown types and absurd lengths, and stays failed', () => {
    const bad = (mutate: (b: Buffer) => void): void => {
      const b = encodeFrame({ seq: 1, type: MessageType.Read, offset: 0, size: 4096, data: Buffer.alloc(0) });
      mutate(b);
      const { parser } = collect();
      expect(() => parser.push(b)).toThrow(ProtocolError);
      expect(() => parser.push(Buffer.alloc(1))).toThrow(ProtocolError);
    };
    bad((b) => b.writeUInt16LE(0xdead, 0));
    bad((b) => b.writeUInt32LE(99, 6));
    bad((b) => b.writeUInt32LE(MAX_DATA_LENGTH + 1, 22));
    bad((b) => b.writeUInt32LE(MAX_DATA_LENGTH + 1, 18));
    bad((b) => b.writeInt32LE(-1, 14));
  });

  it('accepts unmap and write-zeroes ranges over 64 MiB (only reads allocate size bytes)', () => {
    const { parser, frames } = collect();
    parser.push(
      encodeFrame({ seq: 1, type: MessageType.Unmap, offset: 0, size: 0xffff_f000, data: Buffer.alloc(0) }),
    );
    parser.push(
      encodeFrame({ seq: 2, type: MessageType.WriteZeroes, offset: 0, size: 2 ** 30, data: Buffer.alloc(0) }),
    );
    expect(frames.map((f) => f.size)).toEqual([0xffff_f000, 2 ** 30]);
  });

  it('rejects bad magic before a whole header has arrived', () => {
    const { parser } = collect();
    expect(() => parser.push(Buffer.from('GET'))).toThrow(/bad magic/);
  });

  it('encodes error and layer-write payloads', () => {
    expect(decodeErrorPayload(encodeErrorPayload('ENOSPC', 'disk full: ü'))).toEqual({
      code: 'ENOSPC',
      message: 'disk full: ü',
    });
    const data = randomBytes(100);
    const payload = Buffer.concat([encodeLayerWritePrefix('snap-ä'), data]);
    expect(decodeLayerWrite(payload)).toEqual({ name: 'snap-ä', data });
  });
});
