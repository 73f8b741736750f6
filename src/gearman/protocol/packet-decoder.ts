/**
 * The streaming decoder: bytes in, whole packets out, however the bytes were split or joined on the way.
 * It keeps what does not yet make a packet, and never throws on a frame that is merely incomplete; it
 * throws a GearmanProtocolError on bytes that cannot be the protocol, before allocating anything a
 * header announces beyond the allowed size.
 */
import { GearmanProtocolError } from '../../errors.js';
import { decodeBody, decodeHeader, headerSize, type Packet } from './packet-codec.js';
import type { Magic, PacketType } from './packet-types.js';

/** Decodes a stream of packets. */
export class PacketDecoder {
  readonly #maxBodyBytes: number;
  readonly #server: string | undefined;
  #chunks: Buffer[] = [];
  #length = 0;
  #header: { magic: Magic; type: PacketType; size: number } | undefined;

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
    return this.#length + (this.#header ? headerSize : 0);
  }

  /** Adds bytes and returns the packets they complete, in order. */
  push(chunk: Buffer): Packet[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#length += chunk.length;
    }
    const packets: Packet[] = [];
    for (;;) {
      if (!this.#header) {
        if (this.#length < headerSize) break;
        const header = decodeHeader(this.#take(headerSize), this.#server);
        if (header.size > this.#maxBodyBytes) {
          throw new GearmanProtocolError(
            `a packet announces ${header.size} bytes, more than the ${this.#maxBodyBytes} allowed (maxPacketBytes)`,
            this.#server,
          );
        }
        this.#header = header;
      }
      if (this.#length < this.#header.size) break;
      const { magic, type, size } = this.#header;
      this.#header = undefined;
      packets.push(decodeBody(magic, type, this.#take(size), this.#server));
    }
    return packets;
  }

  /** Removes and returns the first `count` buffered bytes, copying only when they span chunks. */
  #take(count: number): Buffer {
    this.#length -= count;
    const first = this.#chunks[0];
    if (count === 0) return Buffer.alloc(0);
    if (first && first.length >= count) {
      if (first.length === count) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }
    const taken = Buffer.allocUnsafe(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.#chunks[0] as Buffer;
      const wanted = count - filled;
      if (chunk.length <= wanted) {
        filled += chunk.copy(taken, filled);
        this.#chunks.shift();
      } else {
        filled += chunk.copy(taken, filled, 0, wanted);
        this.#chunks[0] = chunk.subarray(wanted);
      }
    }
    return taken;
  }
}
