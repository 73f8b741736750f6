/**
 * Encoding and decoding Gearman packets, over Buffers and nothing else. A packet is a 12-byte header
 * (`\0REQ` or `\0RES`, the type and the body's size, both big-endian 32-bit) and a body: the type's
 * arguments, each ended by a NUL byte, then its opaque data part, which may hold any bytes.
 */
import { GearmanProtocolError } from '../../errors.js';
import { layoutOf, type Magic, type PacketType, packetLayouts } from './packet-types.js';

/** The names of a packet type's arguments. */
export type ArgumentsOf<T extends PacketType> = (typeof packetLayouts)[T]['args'][number];

/** A decoded packet: its type, its arguments by name, and its data part (empty when it has none). */
export type Packet<T extends PacketType = PacketType> = T extends PacketType
  ? {
      readonly type: T;
      readonly magic: Magic;
      readonly args: { readonly [K in ArgumentsOf<T>]: string };
      readonly data: Buffer;
    }
  : never;

/** The size of a packet header. */
export const headerSize = 12;

const magicBytes: Readonly<Record<Magic, Buffer>> = {
  REQ: Buffer.from('\u0000REQ', 'latin1'),
  RES: Buffer.from('\u0000RES', 'latin1'),
};
/** The magic bytes as the big-endian word a header starts with. */
const magicWords: Readonly<Record<Magic, number>> = {
  REQ: magicBytes.REQ.readUInt32BE(0),
  RES: magicBytes.RES.readUInt32BE(0),
};
const noData = Buffer.alloc(0);

/**
 * Encodes one packet. Arguments are UTF-8 and may not hold a NUL byte (it would end them early); the data
 * part may hold anything. Each argument is written straight into the one buffer of the packet: a worker
 * or client encodes a few packets per job, and a buffer per argument was a good part of its allocation.
 */
export function encodePacket<T extends PacketType>(
  magic: Magic,
  type: T,
  args: { readonly [K in ArgumentsOf<T>]: string },
  data: Buffer = noData,
): Buffer {
  const layout = packetLayouts[type];
  const names = layout.args as readonly string[];
  const values: string[] = [];
  let size = data.length;
  for (const name of names) {
    const value = (args as Record<string, string>)[name];
    if (typeof value !== 'string')
      throw new GearmanProtocolError(`${layout.name} needs its ${name} argument`);
    if (value.includes('\u0000'))
      throw new GearmanProtocolError(`${layout.name}: ${name} cannot hold a NUL byte`);
    values.push(value);
    size += Buffer.byteLength(value, 'utf8');
  }
  if (!layout.data && data.length > 0) throw new GearmanProtocolError(`${layout.name} has no data part`);
  // Every argument ends in NUL, but for the last one of a type without a data part.
  const separators = layout.data ? values.length : Math.max(values.length - 1, 0);
  size += separators;
  const packet = Buffer.allocUnsafe(headerSize + size);
  packet.writeUInt32BE(magicWords[magic], 0);
  packet.writeUInt32BE(type, 4);
  packet.writeUInt32BE(size, 8);
  let offset = headerSize;
  for (let index = 0; index < values.length; index++) {
    offset += packet.write(values[index] as string, offset, 'utf8');
    if (index < separators) packet[offset++] = 0;
  }
  data.copy(packet, offset);
  return packet;
}

/**
 * Reads the header at `offset`: which way the packet goes, its type and its body's size. Throws on a bad
 * magic or type.
 */
export function decodeHeader(
  bytes: Buffer,
  offset: number,
  server?: string,
): { magic: Magic; type: PacketType; size: number } {
  const word = bytes.readUInt32BE(offset);
  let magic: Magic;
  if (word === magicWords.REQ) magic = 'REQ';
  else if (word === magicWords.RES) magic = 'RES';
  else
    throw new GearmanProtocolError(
      `bad magic ${JSON.stringify(bytes.toString('latin1', offset, offset + 4))}`,
      server,
    );
  const type = bytes.readUInt32BE(offset + 4);
  const layout = layoutOf(type);
  if (!layout) throw new GearmanProtocolError(`unknown packet type ${type}`, server);
  if (!layout.magic.includes(magic))
    throw new GearmanProtocolError(`${layout.name} cannot be a ${magic}`, server);
  return { magic, type: type as PacketType, size: bytes.readUInt32BE(offset + 8) };
}

/** Splits a body into its type's arguments and data part. Throws when arguments are missing. */
export function decodeBody(magic: Magic, type: PacketType, body: Buffer, server?: string): Packet {
  const layout = packetLayouts[type];
  const names = layout.args as readonly string[];
  const args: Record<string, string> = {};
  let offset = 0;
  for (let index = 0; index < names.length; index++) {
    const last = index === names.length - 1 && !layout.data;
    let end = last ? body.length : body.indexOf(0, offset);
    if (end === -1) {
      throw new GearmanProtocolError(
        `${layout.name} is cut short: its ${names[index]} argument has no ending NUL`,
        server,
      );
    }
    // A last argument that runs to the end may still carry the NUL gearmand sometimes adds.
    if (last && end > offset && body[end - 1] === 0) end--;
    args[names[index] as string] = body.toString('utf8', offset, end);
    offset = last ? body.length : end + 1;
  }
  const data = layout.data ? body.subarray(offset) : noData;
  return { type, magic, args, data } as Packet;
}

/** Decodes one whole packet, header and body. */
export function decodePacket(frame: Buffer): Packet {
  if (frame.length < headerSize)
    throw new GearmanProtocolError(`a packet of ${frame.length} bytes is shorter than its header`);
  const { magic, type, size } = decodeHeader(frame, 0);
  if (frame.length !== headerSize + size) {
    throw new GearmanProtocolError(
      `the header says ${size} bytes of body, the packet has ${frame.length - headerSize}`,
    );
  }
  return decodeBody(magic, type, frame.subarray(headerSize), undefined);
}
