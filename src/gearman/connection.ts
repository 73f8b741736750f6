/**
 * A binary-protocol connection to one job server: packets in, packets out. Bytes that are not the
 * protocol close it with a GearmanProtocolError (the process carries on; what depended on the
 * connection is told why); so does the server going away, with a GearmanConnectionError.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { GearmanConnectionError, type GearshiftError } from '../errors.js';
import type { ArgumentsOf } from './protocol/packet-codec.js';
import { encodePacket, type Packet } from './protocol/packet-codec.js';
import { PacketDecoder } from './protocol/packet-decoder.js';
import type { PacketType } from './protocol/packet-types.js';
import type { ServerAddress } from './server-address.js';
import { openSocket, type SocketOptions } from './socket.js';

/** The most packets gathered into one write (see send()). */
const packetsPerWrite = 32;

/** How a connection behaves. */
export interface ConnectionOptions extends SocketOptions {
  /** The largest packet body accepted from the server. */
  readonly maxPacketBytes: number;
}

/** What a connection reports. */
export interface ConnectionHandlers {
  packet(packet: Packet): void;
  /** The connection is gone: `error` says why, undefined when it was closed on purpose. */
  closed(error: GearshiftError | undefined): void;
}

/** One connection to a job server. */
export class GearmanConnection {
  readonly server: ServerAddress;
  readonly #handlers: ConnectionHandlers;
  readonly #socket: Socket;
  #closed = false;
  /** Takes the bytes of one read from the socket. */
  readonly #read: (chunk: Buffer) => void;
  /** Packets sent in this pass of the event loop and not yet written. */
  #pending: Buffer[] = [];

  private constructor(
    server: ServerAddress,
    socket: Socket,
    maxPacketBytes: number,
    handlers: ConnectionHandlers,
  ) {
    this.server = server;
    this.#socket = socket;
    this.#handlers = handlers;
    const decoder = new PacketDecoder(maxPacketBytes, server.label);
    let failure: GearshiftError | undefined;
    let heard = false;
    // A TLS 1.3 server that requires a client certificate refuses a client without one only after the
    // handshake, with an alert that races the reset of the connection: the client may see just
    // ECONNRESET. A connection of that kind that dies before any answer says what probably happened.
    // (A TLS socket is told by its getCertificate: node:tls is loaded only when TLS is configured.)
    const tlsSocket = 'getCertificate' in socket ? (socket as TLSSocket) : undefined;
    const hint =
      tlsSocket && Object.keys(tlsSocket.getCertificate() ?? {}).length === 0
        ? '; it ended before any answer, as when the server requires a client certificate and none was ' +
          'given (gearman.tls cert and key)'
        : '';
    this.#read = (chunk: Buffer) => {
      heard = true;
      if (this.#closed) return;
      let packets: Packet[];
      try {
        packets = decoder.push(chunk);
      } catch (error) {
        // A typed error and a closed connection, never an exception thrown from a socket event.
        this.close(error as GearshiftError);
        return;
      }
      for (const packet of packets) {
        if (this.#closed) return;
        this.#handlers.packet(packet);
      }
    };
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const why = `failed: ${error.code ?? error.message}${heard ? '' : hint}`;
      failure ??= new GearmanConnectionError(server.label, why, error);
    });
    socket.on('close', () => {
      if (this.#closed) return;
      this.#closed = true;
      const pending = decoder.pending > 0 ? ` with ${decoder.pending} bytes of a packet still to come` : '';
      this.#handlers.closed(
        failure ??
          new GearmanConnectionError(server.label, `closed the connection${pending}${heard ? '' : hint}`),
      );
    });
  }

  /** Connects; rejects with a GearmanConnectionError when the server cannot be reached in time. */
  static async open(
    server: ServerAddress,
    options: ConnectionOptions,
    handlers: ConnectionHandlers,
  ): Promise<GearmanConnection> {
    // Bytes read before the connection exists (none from a job server, which only ever answers) wait,
    // and reach it a turn later, as a stream's buffered bytes would: a packet in them may close the
    // connection, which its owner must hear after open() has given it the connection, not before.
    let connection: GearmanConnection | undefined;
    const early: Buffer[] = [];
    const socket = await openSocket(server, options, (chunk) => {
      if (connection && early.length === 0) connection.#read(chunk);
      else early.push(chunk);
    });
    const opened = new GearmanConnection(server, socket, options.maxPacketBytes, handlers);
    connection = opened;
    if (early.length > 0)
      setImmediate(() => {
        for (const chunk of early.splice(0)) opened.#read(chunk);
      });
    return opened;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends a request packet. Ignored once closed (whoever waits was told by closed()). */
  send<T extends PacketType>(type: T, args: { readonly [K in ArgumentsOf<T>]: string }, data?: Buffer): void {
    if (this.#closed) return;
    // The packets sent in one pass of the event loop (a WORK_COMPLETE and the GRAB_JOB after it, the
    // answers of a batch of jobs whose results came from a thread as separate messages, a runAll's
    // submissions) leave together, up to a few dozen per write: fewer system calls and server wake-ups
    // than one write per packet, while a long burst still reaches the server in pieces it can start on
    // (one write of 20,000 submissions was measured slower than either). setImmediate, not nextTick:
    // it waits for all the messages and socket reads of the pass (a worker on a thread did 40,000 to
    // 60,000 jobs/s in runAll against 29,000 to 40,000). Joined into one buffer rather than corked:
    // Node's writev path for a corked socket cost twice the CPU per job in a worker.
    if (this.#pending.length === 0) setImmediate(this.#flush);
    this.#pending.push(encodePacket('REQ', type, args, data));
    if (this.#pending.length === packetsPerWrite) this.#flush();
  }

  /** Writes the packets gathered so far, as one buffer. */
  readonly #flush = () => {
    const pending = this.#pending;
    if (pending.length === 0 || this.#closed) return;
    this.#pending = [];
    this.#socket.write(pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending));
  };

  /** Lets the process exit while this connection is idle (or not). */
  hold(holding: boolean): void {
    if (holding) this.#socket.ref();
    else this.#socket.unref();
  }

  /** Closes the connection; `error` (if any) is what its handlers are told. */
  close(error?: GearshiftError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.destroy();
    this.#handlers.closed(error);
  }
}
