/**
 * One job server as a client sees it: a connection opened on demand (asking for the "exceptions" option
 * first, so that WORK_EXCEPTION reaches the caller), the requests waiting for an answer in the order they
 * were sent (gearmand answers a connection's requests in order), and the foreground jobs whose WORK_*
 * packets arrive on it. A server that fails is left alone for a backoff before it is tried again.
 */
import {
  GearmanConnectionError,
  GearmanProtocolError,
  GearmanServerError,
  type GearshiftError,
  UnsupportedError,
} from '../../errors.js';
import { backoffDelay } from '../../shared/backoff.js';
import { Fifo } from '../../shared/fifo.js';
import { cancel, everyAfterTurn, type Timer } from '../../shared/timers.js';
import { GearmanConnection } from '../connection.js';
import type { FilledGearmanOptions } from '../gearman-options.js';
import type { ArgumentsOf, Packet } from '../protocol/packet-codec.js';
import { type PacketType, PacketTypes, packetLayouts } from '../protocol/packet-types.js';
import type { ServerAddress } from '../server-address.js';

/** A foreground job created on this server: where its WORK_* packets go. */
export interface LinkJob {
  readonly handle: string;
  work(packet: Packet): void;
  /** The server went away: the job (kept in the server's memory) is lost with it. */
  lost(error: GearshiftError): void;
}

/** A request waiting for its answer. */
export interface Waiting {
  /** The packet type that answers it (an ERROR answers any). */
  readonly answer: PacketType;
  answered(packet: Packet): void;
  /**
   * It will not be answered: `error` says why; `sent` is false when the server never got the request (a
   * submission may then go to another server).
   */
  failed(error: GearshiftError, sent: boolean): void;
}

/** A request sent and not yet answered. */
interface WaitingRequest {
  readonly waiting: Waiting;
  readonly type: PacketType;
  readonly sentAt: number;
}

interface Outgoing {
  readonly type: PacketType;
  readonly args: Record<string, string>;
  readonly data: Buffer | undefined;
  readonly waiting: Waiting | undefined;
}

/** A client's view of one job server. */
export class ServerLink {
  readonly server: ServerAddress;
  /** Foreground jobs created here, by handle. */
  readonly jobs = new Map<string, LinkJob>();
  readonly #options: FilledGearmanOptions;
  #connection: GearmanConnection | undefined;
  #opening = false;
  /** Requests to send once the connection is open. */
  #outbox: Outgoing[] = [];
  /** Requests sent and not yet answered, oldest first, with their type and when they were sent. */
  readonly #waiting = new Fifo<WaitingRequest>();
  /** Extension packets this server refused as unknown: asked again, they fail at once. */
  readonly #refused = new Set<PacketType>();
  #timer: Timer | undefined;
  #failures = 0;
  #downUntil = 0;
  #closing = false;
  /** Whether the connection holds the process open (see #hold). */
  #held = true;

  constructor(server: ServerAddress, options: FilledGearmanOptions) {
    this.server = server;
    this.#options = options;
  }

  /** Whether the server may be tried now (it is not in the backoff after a failure). */
  get usable(): boolean {
    return !this.#closing && Date.now() >= this.#downUntil;
  }

  /** When the server may be tried again: now or in the past if usable, Infinity once closed. */
  get retryAt(): number {
    return this.#closing ? Number.POSITIVE_INFINITY : this.#downUntil;
  }

  /** Sends a request, connecting first if need be; `waiting` hears its answer. */
  request<T extends PacketType>(
    type: T,
    args: { readonly [K in ArgumentsOf<T>]: string },
    data?: Buffer,
    waiting?: Waiting,
  ): void {
    if (this.#refused.has(type)) {
      waiting?.failed(this.#unsupported(type), true);
      return;
    }
    // Closed by its client: nothing will open it again, so a request would wait for ever.
    if (this.#closing) {
      waiting?.failed(new GearmanConnectionError(this.server.label, 'was closed by this client'), false);
      return;
    }
    const outgoing: Outgoing = { type, args, data, waiting };
    if (this.#connection && !this.#connection.closed) this.#send(this.#connection, outgoing);
    else {
      this.#outbox.push(outgoing);
      this.#open();
    }
    this.#hold();
  }

  /** Forgets a job (its caller left, or it ended). */
  forget(handle: string): void {
    this.jobs.delete(handle);
    this.#hold();
  }

  /** Closes the connection; what waits on it is failed with `error`. */
  close(error?: GearshiftError): void {
    this.#closing = true;
    const connection = this.#connection;
    if (connection) connection.close(error);
    else
      this.#closed(
        error ?? new GearmanConnectionError(this.server.label, 'was closed by this client'),
        false,
      );
  }

  #open(): void {
    if (this.#opening || this.#closing) return;
    this.#opening = true;
    GearmanConnection.open(this.server, this.#options, {
      packet: (packet) => this.#packet(packet),
      closed: (error) => this.#closed(error, true),
    }).then(
      (connection) => {
        this.#opening = false;
        // Closed while it connected: what waited was failed then, and the socket must not outlive it.
        if (this.#closing) {
          connection.close();
          return;
        }
        this.#connection = connection;
        this.#held = true; // a new socket holds the process open until told otherwise
        this.#failures = 0;
        // Asked first, so that the answer comes before any other.
        this.#send(connection, {
          type: PacketTypes.OPTION_REQ,
          args: { option: 'exceptions' },
          data: undefined,
          waiting: optionWaiting,
        });
        const outbox = this.#outbox;
        this.#outbox = [];
        for (const outgoing of outbox) this.#send(connection, outgoing);
        this.#hold();
      },
      (error: GearshiftError) => {
        this.#opening = false;
        this.#backOff();
        this.#failAll(error, false);
      },
    );
  }

  #send(connection: GearmanConnection, outgoing: Outgoing): void {
    connection.send(outgoing.type, outgoing.args as never, outgoing.data);
    if (outgoing.waiting) {
      this.#waiting.push({ waiting: outgoing.waiting, type: outgoing.type, sentAt: Date.now() });
      this.#timer ??= everyAfterTurn(Math.min(this.#options.requestTimeoutMs, 1000), (then) =>
        this.#checkTimeouts(then),
      );
      this.#timer.unref();
    }
  }

  #packet(packet: Packet): void {
    switch (packet.type) {
      case PacketTypes.WORK_STATUS:
      case PacketTypes.WORK_DATA:
      case PacketTypes.WORK_WARNING:
      case PacketTypes.WORK_COMPLETE:
      case PacketTypes.WORK_FAIL:
      case PacketTypes.WORK_EXCEPTION:
        // A job whose caller left, or a coalesced job's extra copy: nothing to do.
        this.jobs.get(packet.args.handle)?.work(packet);
        return;
      case PacketTypes.NOOP:
        return;
    }
    const head = this.#waiting.shift();
    if (!head) {
      this.#connection?.close(
        new GearmanProtocolError(
          `an unexpected ${packet.type} packet came with no request waiting`,
          this.server.label,
        ),
      );
      return;
    }
    if (packet.type === PacketTypes.ERROR) {
      const { code, text } = packet.args;
      if (extensions.has(head.type) && isUnknownCommand(code, text)) {
        this.#refused.add(head.type);
        head.waiting.failed(this.#unsupported(head.type), true);
      } else head.waiting.failed(new GearmanServerError(this.server.label, code, text), true);
    } else if (packet.type === head.waiting.answer) {
      head.waiting.answered(packet);
    } else {
      const problem = `packet type ${packet.type} came where type ${head.waiting.answer} was due`;
      head.waiting.failed(new GearmanProtocolError(problem, this.server.label), true);
      this.#connection?.close(new GearmanProtocolError(problem, this.server.label));
    }
    this.#hold();
  }

  #unsupported(type: PacketType): UnsupportedError {
    return new UnsupportedError(
      `The job server ${this.server.label} does not know ${packetLayouts[type].name} (${extensions.get(type)}), an extension of gearmand's protocol; Perl's Gearman::Server, for one, lacks it`,
    );
  }

  /**
   * Runs each second while requests were out: stopped here, at the first tick that finds none waiting,
   * rather than at each answer (a serial caller would make and clear a timer per request). The server
   * is given up when the oldest request still waiting was late already at the tick before (`then`),
   * after which the loop has had a turn to read answers (see everyAfterTurn).
   */
  #checkTimeouts(then: number): void {
    const head = this.#waiting.peek();
    if (!head) {
      cancel(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (then - head.sentAt > this.#options.requestTimeoutMs) {
      this.#connection?.close(
        new GearmanConnectionError(
          this.server.label,
          `did not answer within ${this.#options.requestTimeoutMs} ms (requestTimeoutMs)`,
        ),
      );
    }
  }

  #closed(error: GearshiftError | undefined, wasOpen: boolean): void {
    this.#connection = undefined;
    cancel(this.#timer);
    this.#timer = undefined;
    const reason = error ?? new GearmanConnectionError(this.server.label, 'was closed by this client');
    if (error && wasOpen && !this.#closing) this.#backOff();
    // Requests sent and unanswered may have reached the server; those still in the outbox did not.
    for (const { waiting } of this.#waiting.drain()) waiting.failed(reason, true);
    this.#failAll(reason, false);
    const jobs = [...this.jobs.values()];
    this.jobs.clear();
    for (const job of jobs) job.lost(reason);
  }

  #failAll(error: GearshiftError, sent: boolean): void {
    const outbox = this.#outbox;
    this.#outbox = [];
    for (const outgoing of outbox) outgoing.waiting?.failed(error, sent);
  }

  #backOff(): void {
    this.#failures++;
    const delay = backoffDelay(this.#options.retryMs, this.#failures, this.#options.maxRetryMs);
    this.#downUntil = Date.now() + delay;
  }

  /** Holds the process open while something waits on this server, and lets it go when nothing does. */
  #hold(): void {
    const busy = this.#waiting.length > 0 || this.#outbox.length > 0 || this.jobs.size > 0;
    if (busy !== this.#held) {
      this.#held = busy;
      this.#connection?.hold(busy);
    }
  }
}

/**
 * The packets of gearmand's protocol that older servers may not know, with what a caller asked for. A
 * server that refuses one gets no second try on this link: the next request of that type fails at once.
 */
const extensions = new Map<PacketType, string>([
  [PacketTypes.SUBMIT_JOB_EPOCH, 'a background job with `runAt` or `delay`'],
  [PacketTypes.GET_STATUS_UNIQUE, 'statusOfUnique()'],
  [PacketTypes.SUBMIT_JOB_LOW, "priority 'low'"],
  [PacketTypes.SUBMIT_JOB_LOW_BG, "a background job of priority 'low'"],
  [PacketTypes.SUBMIT_JOB_HIGH_BG, "a background job of priority 'high'"],
]);

/**
 * Whether an ERROR says the server does not know the packet: Perl's Gearman::Server answers one it has no
 * handler for with `server_error` about a missing `CMD_...` method; others say UNKNOWN_COMMAND.
 */
function isUnknownCommand(code: string, text: string): boolean {
  return /unknown[_ ]?(command|packet)/i.test(code) || /object method "CMD_\w*"/.test(text);
}

/** The answer to the "exceptions" option: nothing to do either way (older servers may refuse it). */
const optionWaiting: Waiting = { answer: PacketTypes.OPTION_RES, answered: () => {}, failed: () => {} };
