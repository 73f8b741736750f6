/**
 * The Gearman codec, with no server: expected bytes are written out independently (the PROTOCOL
 * document's own example bytes, and a frame helper that does not use the encoder), every packet is split
 * at every offset, and random and mutated bytes are thrown at the decoder.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GearmanProtocolError } from '../src/errors.js';
import {
  LineReader,
  parseErrorLine,
  parseStatusLine,
  parseWorkerLine,
} from '../src/gearman/protocol/admin-text.js';
import { decodePacket, encodePacket, type Packet } from '../src/gearman/protocol/packet-codec.js';
import { PacketDecoder } from '../src/gearman/protocol/packet-decoder.js';
import { type PacketType, packetLayouts } from '../src/gearman/protocol/packet-types.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** A frame built by hand: magic, type and size written byte by byte, then the body as given. */
function frame(magic: 'REQ' | 'RES', type: number, body: Buffer | string = ''): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'latin1');
  const size = bytes.length;
  return Buffer.concat([
    Buffer.from([0, ...Buffer.from(magic, 'latin1')]),
    Buffer.from([type >>> 24, (type >>> 16) & 255, (type >>> 8) & 255, type & 255]),
    Buffer.from([size >>> 24, (size >>> 16) & 255, (size >>> 8) & 255, size & 255]),
    bytes,
  ]);
}

describe('encoding, byte for byte as the PROTOCOL document shows', () => {
  it('CAN_DO reverse', () => {
    expect(encodePacket('REQ', 1, { functionName: 'reverse' })).toEqual(
      hex('00524551 00000001 00000007 72657665727365'),
    );
  });
  it('GRAB_JOB, NO_JOB, PRE_SLEEP, NOOP', () => {
    expect(encodePacket('REQ', 9, {})).toEqual(hex('00524551 00000009 00000000'));
    expect(encodePacket('RES', 10, {})).toEqual(hex('00524553 0000000a 00000000'));
    expect(encodePacket('REQ', 4, {})).toEqual(hex('00524551 00000004 00000000'));
    expect(encodePacket('RES', 6, {})).toEqual(hex('00524553 00000006 00000000'));
  });
  it('SUBMIT_JOB reverse, empty unique, workload "test"', () => {
    expect(encodePacket('REQ', 7, { functionName: 'reverse', unique: '' }, Buffer.from('test'))).toEqual(
      hex('00524551 00000007 0000000d 7265766572736500 00 74657374'),
    );
  });
  it('JOB_CREATED, JOB_ASSIGN and WORK_COMPLETE of H:lap:1', () => {
    expect(encodePacket('RES', 8, { handle: 'H:lap:1' })).toEqual(
      hex('00524553 00000008 00000007 483a6c61703a31'),
    );
    expect(
      encodePacket('RES', 11, { handle: 'H:lap:1', functionName: 'reverse' }, Buffer.from('test')),
    ).toEqual(hex('00524553 0000000b 00000014 483a6c61703a3100 7265766572736500 74657374'));
    expect(encodePacket('REQ', 13, { handle: 'H:lap:1' }, Buffer.from('tset'))).toEqual(
      hex('00524551 0000000d 0000000c 483a6c61703a3100 74736574'),
    );
  });
});

describe('layouts where libgearman differs from the document', () => {
  it('SUBMIT_REDUCE_JOB carries function, unique, reducer and an empty aggregate before the data', () => {
    const bytes = encodePacket(
      'REQ',
      37,
      { functionName: 'count', unique: 'u', reducer: 'sum', aggregate: '' },
      Buffer.from('x'),
    );
    expect(bytes).toEqual(frame('REQ', 37, 'count\u0000u\u0000sum\u0000\u0000x'));
  });

  it('STATUS_RES_UNIQUE as gearmand sends it: the unique echoed, the client count running to the end', () => {
    const packet = decodePacket(frame('RES', 42, 'my-unique\u00001\u00000\u00003\u000010\u00002'));
    expect(packet).toMatchObject({
      type: 42,
      args: {
        unique: 'my-unique',
        known: '1',
        running: '0',
        numerator: '3',
        denominator: '10',
        clientCount: '2',
      },
    });
  });

  it("drops the NUL that gearmand adds after a last argument (STATUS_RES's fields)", () => {
    const packet = decodePacket(frame('RES', 20, 'H:x:1\u00001\u00001\u00002\u00004\u0000'));
    expect(packet).toMatchObject({ args: { handle: 'H:x:1', denominator: '4' } });
  });
});

/** A sample packet of every type, with binary data (NUL bytes included) where the type has a data part. */
function samples(): Packet[] {
  const binary = Buffer.from([0, 1, 0, 255, 10, 13, 0]);
  return (Object.keys(packetLayouts) as unknown as PacketType[]).map((key) => {
    const type = Number(key) as PacketType;
    const layout = packetLayouts[type];
    const args = Object.fromEntries(layout.args.map((name, index) => [name, `${name}-${index}-é`]));
    return {
      type,
      magic: layout.magic[0],
      args,
      data: layout.data ? binary : Buffer.alloc(0),
    } as unknown as Packet;
  });
}

describe('every packet type, 1 to 42', () => {
  it('round-trips through encode and decode, data binary-safe', () => {
    const all = samples();
    expect(all).toHaveLength(42);
    for (const packet of all) {
      const bytes = encodePacket(packet.magic, packet.type, packet.args as never, packet.data);
      expect(decodePacket(bytes)).toEqual(packet);
    }
  });

  it('decodes a stream split at every offset, and joined, into the same packets', () => {
    const all = samples();
    const stream = Buffer.concat(
      all.map((packet) => encodePacket(packet.magic, packet.type, packet.args as never, packet.data)),
    );
    for (let split = 0; split <= stream.length; split++) {
      const decoder = new PacketDecoder(1024);
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      expect(decoded).toEqual(all);
      expect(decoder.pending).toBe(0);
    }
    const byteByByte = new PacketDecoder(1024);
    const decoded: Packet[] = [];
    for (const byte of stream) decoded.push(...byteByByte.push(Buffer.from([byte])));
    expect(decoded).toEqual(all);
  });

  it('refuses arguments that would hold a NUL, and data on a type without a data part', () => {
    expect(() => encodePacket('REQ', 1, { functionName: 'a\u0000b' })).toThrow(GearmanProtocolError);
    expect(() => encodePacket('REQ', 9, {}, Buffer.from('x'))).toThrow(/GRAB_JOB has no data part/);
  });
});

describe('bytes that are not the protocol', () => {
  const decoding = (bytes: Buffer) => () => new PacketDecoder(1024).push(bytes);

  it('a bad magic', () => {
    expect(decoding(Buffer.from('HTTP/1.1 200 OK\r\n'))).toThrow(/bad magic "HTTP"/);
  });
  it('an unknown packet type', () => {
    expect(decoding(frame('RES', 43))).toThrow(/unknown packet type 43/);
    expect(decoding(frame('RES', 0))).toThrow(/unknown packet type 0/);
  });
  it('a packet going the wrong way', () => {
    expect(decoding(frame('REQ', 6))).toThrow(/NOOP cannot be a REQ/);
  });
  it('a header announcing 4 GiB, refused from the header alone', () => {
    const header = Buffer.concat([
      Buffer.from('\u0000RES', 'latin1'),
      Buffer.from([0, 0, 0, 8, 255, 255, 255, 255]),
    ]);
    expect(decoding(header)).toThrow(/announces 4294967295 bytes, more than the 1024 allowed/);
  });
  it('a packet without the arguments its type needs', () => {
    expect(decoding(frame('RES', 11, 'H:x:1\u0000'))).toThrow(
      /JOB_ASSIGN is cut short: its functionName argument has no ending NUL/,
    );
    expect(decoding(frame('RES', 11, 'H:x:1'))).toThrow(
      /JOB_ASSIGN is cut short: its handle argument has no ending NUL/,
    );
  });
  it('a truncated frame is kept, not an error, until the rest comes', () => {
    const decoder = new PacketDecoder(1024);
    const whole = encodePacket('RES', 8, { handle: 'H:x:1' });
    expect(decoder.push(whole.subarray(0, 15))).toEqual([]);
    expect(decoder.pending).toBe(15);
  });

  it('never throws anything but a GearmanProtocolError, whatever the bytes (fuzz)', () => {
    const valid = samples().map((packet) =>
      encodePacket(packet.magic, packet.type, packet.args as never, packet.data),
    );
    const mutated = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }),
      )
      .map(([bytes, edits]) => {
        const copy = Buffer.from(bytes);
        for (const [position, value] of edits) copy[position % copy.length] = value;
        return copy;
      });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
          mutated,
        ),
        fc.nat(64),
        (bytes, cut) => {
          const decoder = new PacketDecoder(1 << 16);
          try {
            const split = cut % (bytes.length + 1);
            decoder.push(bytes.subarray(0, split));
            decoder.push(bytes.subarray(split));
          } catch (error) {
            if (!(error instanceof GearmanProtocolError)) throw error;
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('the text admin protocol', () => {
  it('reads lines ending in \\n and in \\r\\n, however they arrive', () => {
    const reader = new LineReader();
    expect(reader.push('OK 1.1.20\nsta')).toEqual(['OK 1.1.20']);
    expect(reader.push('tus\r\nERR UNKNOWN_JOB\r')).toEqual(['status']);
    expect(reader.push('\n.\n')).toEqual(['ERR UNKNOWN_JOB', '.']);
  });

  it('parses status, workers and ERR lines as gearmand writes them', () => {
    expect(parseStatusLine('reverse\t3\t1\t2')).toEqual({
      functionName: 'reverse',
      total: 3,
      running: 1,
      workers: 2,
    });
    expect(parseWorkerLine('38 127.0.0.1 worker-7 : reverse upper')).toEqual({
      fd: 38,
      address: '127.0.0.1',
      clientId: 'worker-7',
      functions: ['reverse', 'upper'],
    });
    expect(parseWorkerLine('12 ::1 - :')).toMatchObject({ clientId: '-', functions: [] });
    expect(parseErrorLine('ERR UNKNOWN_COMMAND Unknown+server+commandbogus')).toEqual({
      code: 'UNKNOWN_COMMAND',
      text: 'Unknown server commandbogus',
    });
  });
});
