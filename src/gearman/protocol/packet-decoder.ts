/**
 * The streaming decoder: bytes in, whole packets out, however the bytes were split or joined on the way.
 * It keeps what does not yet make a packet, and never throws on a frame that is merely incomplete; it
 * throws a GearmanProtocolError on bytes that cannot be the protocol, before allocating anything a
 * header announces beyond the allowed size.
 */
import { GearmanProtocolError } from '../../errors.js';
import { decodeBody, decodeHeader, headerSize, type Packet } from './packet-codec.js';

/** Decodes a stream of packets. */
export class PacketDecoder {
  readonly #maxBodyBytes: number;
  readonly #server: string | undefined;
  /** Bytes kept from earlier reads: the start of a packet, in the pieces it came in. */
  #chunks: Buffer[] = [];
  #length = 0;
  /** How many bytes the kept packet needs before it can be read: its header, then all of it. */
  #needed = headerSize;

  /**
   * @param maxBodyBytes the largest body accepted; a larger one is an error, and is not read
   * @param server where the bytes come from, for error messages
   */
  constructor(maxBodyBytes: number, server?: string) {
    this.#maxBodyBytes = maxBodyBytes;
    this.#server = server;
  }

  /** Bytes received that do not yet make a whole packet. */
  get pending(): number {
    return this.#length;
  }

  /**
   * Adds bytes and returns the packets they complete, in order. Packets are read in place from the read
   * that brought them (a body is a view of it, not a copy); only a packet split across reads is joined,
   * once, when all of it is there.
   */
  push(chunk: Buffer): Packet[] {
    let bytes = chunk;
    if (this.#length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
      if (this.#length < this.#needed) return [];
      bytes = Buffer.concat(this.#chunks, this.#length);
    }
    const packets: Packet[] = [];
    let offset = 0;
    let needed = headerSize;
    while (bytes.length - offset >= headerSize) {
      const { magic, type, size } = decodeHeader(bytes, offset, this.#server);
      if (size > this.#maxBodyBytes) {
        throw new GearmanProtocolError(
          `a packet announces ${size} bytes, more than the ${this.#maxBodyBytes} allowed (maxPacketBytes)`,
          this.#server,
        );
      }
      if (bytes.length - offset < headerSize + size) {
        needed = headerSize + size;
        break;
      }
      const start = offset + headerSize;
      offset = start + size;
      packets.push(decodeBody(magic, type, bytes.subarray(start, offset), this.#server));
    }
    this.#keep(offset === bytes.length ? undefined : bytes.subarray(offset), needed);
    return packets;
  }

  /** Keeps the start of the next packet (if any), which needs `needed` bytes in all. */
  #keep(rest: Buffer | undefined, needed: number): void {
    this.#chunks = rest ? [rest] : [];
    this.#length = rest ? rest.length : 0;
    this.#needed = needed;
  }
}
