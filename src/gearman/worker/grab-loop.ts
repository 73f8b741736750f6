/**
 * One worker connection to one job server: it learns which grab packet the server knows, registers its
 * functions (CAN_DO, or CAN_DO_TIMEOUT for a function with a timeout) and a client id, then grabs jobs
 * while its worker has room, sends PRE_SLEEP right behind its grabs, and grabs again on NOOP. When the
 * connection drops, it reconnects with a growing backoff and registers again (a restarted server knows
 * nothing of it).
 */
import { GearmanConnectionError, GearmanProtocolError } from '../../errors.js';
import { backoffDelay } from '../../shared/backoff.js';
import { after, cancel, everyAfterTurn, maxTimerMs, type Timer } from '../../shared/timers.js';
import { GearmanConnection } from '../connection.js';
import type { FilledGearmanOptions } from '../gearman-options.js';
import type { ArgumentsOf, Packet } from '../protocol/packet-codec.js';
import { type PacketType, PacketTypes } from '../protocol/packet-types.js';
import type { ServerAddress } from '../server-address.js';

/**
 * The grab packets, best first: GRAB_JOB_ALL (gearmand 1.1: the unique and any reducer), GRAB_JOB_UNIQ
 * (the unique), GRAB_JOB (the original protocol, all that Perl's Gearman::Server knows).
 */
const grabPackets = [PacketTypes.GRAB_JOB_ALL, PacketTypes.GRAB_JOB_UNIQ, PacketTypes.GRAB_JOB] as const;
type GrabPacket = (typeof grabPackets)[number];
/** Failures counted for a server that broke the protocol: enough for the backoff to reach its cap. */
const maxDoublingsToMaxRetry = 16;
/** The ECHO_REQ data that closes a grab probe. */
const probeEcho = Buffer.from('gearshift:grab-probe');
/** The ECHO_REQ data that follows a registration: its answer says the server has taken it. */
const registeredEcho = Buffer.from('gearshift:registered');

/** A job a server assigned, whichever packet brought it. */
export interface Assignment {
  readonly handle: string;
  readonly functionName: string;
  /** Empty when the packet carries none (JOB_ASSIGN), or the client gave none. */
  readonly unique: string;
  readonly data: Buffer;
}

/** What a grab loop registers, and asks of its worker. */
export interface GrabLoopOwner {
  /** The client id to set, and the functions to register (with their timeouts), read at each (re)connection. */
  readonly clientId: string;
  readonly functions: readonly { readonly name: string; readonly timeout: number | undefined }[];
  /**
   * How many more jobs this loop may grab now, holding at most `ahead` jobs beyond the free slots (the
   * owner may hold fewer).
   */
  room(ahead: number): number;
  /** A job was assigned. */
  assigned(loop: GrabLoop, assignment: Assignment): void;
  /** The loop grabbed what there was room for; `waiting` when the server may have more than that. */
  pumped(loop: GrabLoop, waiting: boolean): void;
  /** The connection opened (and the functions are being registered). */
  connected(loop: GrabLoop): void;
  /** The connection dropped: the jobs it brought can no longer be answered. */
  disconnected(loop: GrabLoop, error: Error | undefined): void;
  /** The server could not be reached (said once, until the next `connected`); the next try is in `retryInMs`. */
  unreachable(loop: GrabLoop, error: Error, retryInMs: number): void;
}

/** Grabs jobs from one server. */
export class GrabLoop {
  readonly server: ServerAddress;
  readonly #options: FilledGearmanOptions;
  readonly #owner: GrabLoopOwner;
  #connection: GearmanConnection | undefined;
  /** GRAB_JOB_ALL requests sent and not yet answered. */
  #grabbing = 0;
  /** Since when the server owes an answer to a grab (reset by each answer). */
  #owedSince = 0;
  #watchdog: Timer | undefined;
  #sleeping = false;
  /**
   * How many jobs beyond the free slots the server has shown it can fill: one more per job it assigned,
   * none after it said NO_JOB. So grabs ahead double each round trip while the queue is deep, and a
   * worker woken for one job at a time sends at most one grab more than it needs.
   */
  #ahead = 0;
  #stopped = false;
  /** Since when the echo behind a registration is owed, if it is. */
  #echoSince: number | undefined;
  /** While start() waits for the first registration: how to tell it. */
  #registered: (() => void) | undefined;
  #failures = 0;
  /** Whether the owner was told the server cannot be reached, since the last connection. */
  #toldUnreachable = false;
  #retry: Timer | undefined;
  /** The grab packet this server knows (learned anew on each connection). */
  #grab: GrabPacket = grabPackets[0];
  /** While the grab packet is being learned: which candidate is tried, and how the server answered it. */
  #probe: { index: number; answered: boolean; refused: boolean } | undefined;

  constructor(server: ServerAddress, options: FilledGearmanOptions, owner: GrabLoopOwner) {
    this.server = server;
    this.#options = options;
    this.#owner = owner;
  }

  /** Grabs not yet answered (they may still bring jobs). */
  get grabbing(): number {
    return this.#grabbing;
  }

  /** Connects and starts grabbing; resolves after the first attempt, connected or not (retries go on). */
  async start(): Promise<void> {
    const registered = new Promise<void>((resolve) => {
      this.#registered = resolve;
    });
    await this.#connect();
    // Connected: once the functions are registered the server may assign them (and a control message
    // sent after start() reaches this worker); a connection that drops before that ends the wait too.
    if (this.#connection) await registered;
    this.#registered = undefined;
  }

  /** Sends a packet about a job (WORK_*); dropped if the connection is gone (the server requeues the job). */
  send<T extends PacketType>(type: T, args: { readonly [K in ArgumentsOf<T>]: string }, data?: Buffer): void {
    this.#connection?.send(type, args, data);
  }

  /**
   * Whether WORK_EXCEPTION ends a job on this server, as in gearmand 1.1 (told by its GRAB_JOB_ALL). In the
   * original protocol (Perl's Gearman::Server) an exception is only passed on, and a WORK_FAIL ends the job.
   */
  get exceptionEndsJob(): boolean {
    return this.#speaksGearmand11;
  }

  /** Whether the server is gearmand 1.1 or like it: it knows GRAB_JOB_ALL (learned by the probe). */
  get #speaksGearmand11(): boolean {
    return this.#grab === PacketTypes.GRAB_JOB_ALL;
  }

  /** Grabs as many jobs as there is room for. */
  pump(): void {
    const connection = this.#connection;
    if (!connection || connection.closed || this.#stopped || this.#sleeping || this.#probe) return;
    let grabs = 0;
    while (this.#owner.room(this.#ahead) > 0) {
      this.#owed();
      grabs++;
      connection.send(this.#grab, {});
    }
    // Awake with no room: the server woke this loop for jobs that wait for room here.
    this.#owner.pumped(this, grabs === 0);
    if (grabs === 0) return;
    // Asleep right behind the grabs, in the same write: gearmand answers PRE_SLEEP with NOOP at once if
    // jobs are still queued after them, and otherwise wakes the worker when one comes. Waiting for a
    // NO_JOB before sleeping would cost a wake-up and a write per job when jobs come one at a time.
    this.#sleeping = true;
    connection.send(PacketTypes.PRE_SLEEP, {});
  }

  /** Grabs nothing more; the connection stays for the answers of jobs still running. */
  stopGrabbing(): void {
    this.#stopped = true;
    cancel(this.#retry);
  }

  close(): void {
    this.stopGrabbing();
    cancel(this.#watchdog);
    this.#connection?.close();
    this.#connection = undefined;
  }

  async #connect(): Promise<void> {
    if (this.#stopped) return;
    try {
      const connection = await GearmanConnection.open(this.server, this.#options, {
        packet: (packet) => this.#packet(packet),
        closed: (error) => this.#dropped(error),
      });
      if (this.#stopped) {
        connection.close();
        return;
      }
      this.#connection = connection;
      this.#toldUnreachable = false;
      this.#owner.connected(this);
      this.#failures = 0;
      this.#grabbing = 0;
      this.#ahead = 0;
      this.#sleeping = false;
      this.#watch(connection);
      this.#tryGrab(connection, 0);
    } catch (error) {
      const delay = this.#scheduleRetry();
      if (delay !== undefined && !this.#toldUnreachable) {
        this.#toldUnreachable = true;
        this.#owner.unreachable(this, error as Error, delay);
      }
    }
  }

  /**
   * Asks the server a grab packet before any function is registered, so that it cannot bring a job,
   * followed by an ECHO_REQ: a server that knows the packet answers NO_JOB before the echo; one that does
   * not answers ERROR (Perl's Gearman::Server) or nothing. gearmand answers a connection's packets in
   * order, and closes the connection on a packet type it has never heard of, which none of these is.
   */
  #tryGrab(connection: GearmanConnection, index: number): void {
    this.#probe = { index, answered: false, refused: false };
    this.#owed();
    connection.send(grabPackets[index] as GrabPacket, {});
    connection.send(PacketTypes.ECHO_REQ, {}, probeEcho);
  }

  /** One packet while a grab probe is out; registers and grabs once the echo closes the last try. */
  #probed(packet: Packet): void {
    const probe = this.#probe;
    const connection = this.#connection;
    if (!probe || !connection) return;
    if (packet.type === PacketTypes.NO_JOB) probe.answered = true;
    else if (packet.type === PacketTypes.ERROR) probe.refused = true;
    else if (packet.type === PacketTypes.ECHO_RES && packet.data.equals(probeEcho)) {
      this.#answered();
      const last = probe.index === grabPackets.length - 1;
      if ((!probe.answered || probe.refused) && !last) {
        this.#tryGrab(connection, probe.index + 1);
        return;
      }
      this.#probe = undefined;
      this.#grab = grabPackets[probe.index] as GrabPacket;
      this.#register(connection);
    }
  }

  #register(connection: GearmanConnection): void {
    connection.send(PacketTypes.SET_CLIENT_ID, { clientId: this.#owner.clientId });
    for (const fn of this.#owner.functions) this.#canDo(connection, fn);
    this.pump();
    // What was sent is registered once the server answers what follows it: an echo, watched like a grab
    // (a server that never answers it is taken for gone after requestTimeoutMs).
    this.#echoSince = Date.now();
    connection.send(PacketTypes.ECHO_REQ, {}, registeredEcho);
  }

  /** Takes jobs of a function again (after `cantDo`), from now on. */
  canDo(fn: { readonly name: string; readonly timeout: number | undefined }): void {
    if (!this.#connection || this.#probe) return;
    this.#canDo(this.#connection, fn);
    // Jobs of it may be queued already: gearmand wakes a sleeping worker only for jobs that come later.
    this.#sleeping = false;
    this.pump();
  }

  /** Takes no more jobs of a function: the server stops assigning them here (CANT_DO). */
  cantDo(name: string): void {
    if (this.#connection && !this.#probe) this.#connection.send(PacketTypes.CANT_DO, { functionName: name });
  }

  #canDo(
    connection: GearmanConnection,
    fn: { readonly name: string; readonly timeout: number | undefined },
  ): void {
    const { name, timeout } = fn;
    if (timeout === undefined) {
      connection.send(PacketTypes.CAN_DO, { functionName: name });
      return;
    }
    // The worker times the job itself and answers with a typed JobTimeoutError; the server's timer, a
    // little longer, is a backstop for a worker that stopped answering. gearmand re-queues the job then
    // (the last one it assigned here; PRE_SLEEP cancels it), Perl's Gearman::Server fails it. The
    // protocol gives no unit: gearmand 1.1 reads milliseconds (at least 1000), the original protocol's
    // server seconds (both measured).
    const backstopMs = timeout + Math.max(1000, timeout / 10);
    const backstop = this.#speaksGearmand11 ? backstopMs : backstopMs / 1000;
    // Servers keep it in 32 bits (libgearman's uint32_t, gearmand's int): a longer one is no timeout.
    connection.send(PacketTypes.CAN_DO_TIMEOUT, {
      functionName: name,
      timeout: String(Math.min(Math.ceil(backstop), maxTimerMs)),
    });
  }

  #packet(packet: Packet): void {
    if (this.#probe) {
      this.#probed(packet);
      return;
    }
    switch (packet.type) {
      // gearmand answers GRAB_JOB_ALL with JOB_ASSIGN_UNIQ unless the job has a reducer; GRAB_JOB brings
      // JOB_ASSIGN, without the unique: take all three.
      case PacketTypes.JOB_ASSIGN:
      case PacketTypes.JOB_ASSIGN_UNIQ:
      case PacketTypes.JOB_ASSIGN_ALL: {
        const { handle, functionName } = packet.args;
        if (this.#grabbing === 0) {
          this.#misbehaved(
            `sent a job it was not asked for (${handle}, ${functionName}: no grab was outstanding)`,
          );
          return;
        }
        this.#answered();
        this.#ahead++;
        const unique = 'unique' in packet.args ? packet.args.unique : '';
        this.#owner.assigned(this, { handle, functionName, unique, data: packet.data });
        this.pump();
        return;
      }
      case PacketTypes.NO_JOB:
        // Nothing queued: the PRE_SLEEP sent after the grab stands, and NOOP will say when to grab again.
        this.#answered();
        this.#ahead = 0;
        return;
      case PacketTypes.NOOP:
        this.#sleeping = false;
        this.pump();
        return;
      case PacketTypes.ECHO_RES:
        if (!packet.data.equals(registeredEcho)) return;
        this.#echoSince = undefined;
        this.#registered?.();
        return;
      default:
        // ERROR about a job the server no longer holds (it timed it out, say): nothing to do.
        return;
    }
  }

  /**
   * The server broke the protocol in a way that could make this worker run what it did not ask for (a
   * job beyond its grabs): the connection is dropped, so that the server hands its jobs to others, and
   * it is tried again only after the longest backoff (`maxRetryMs`).
   */
  #misbehaved(problem: string): void {
    this.#failures = Math.max(this.#failures, maxDoublingsToMaxRetry);
    this.#connection?.close(new GearmanProtocolError(problem, this.server.label));
  }

  /** One more answer is owed (a grab, or a probe's echo). */
  #owed(): void {
    if (this.#grabbing === 0) this.#owedSince = Date.now();
    this.#grabbing++;
  }

  #answered(): void {
    this.#grabbing--;
    this.#owedSince = Date.now();
  }

  /**
   * A server that owes a grab its answer for longer than requestTimeoutMs is taken for gone: its
   * connection is closed and opened again. TCP alone would take many minutes to say so when the link
   * died with our packets unacknowledged (keepalive only covers an idle connection). Lateness is judged
   * as of the tick before (see everyAfterTurn): after a stall of this process (a job run on this
   * thread, say), a tick runs before the answers that came meanwhile are read, and would otherwise drop
   * a connection that works, and the jobs it holds.
   */
  #watch(connection: GearmanConnection): void {
    cancel(this.#watchdog);
    const limit = this.#options.requestTimeoutMs;
    this.#watchdog = everyAfterTurn(Math.min(limit, 1000), (then) => {
      const owed =
        this.#grabbing > 0 && then - this.#owedSince > limit
          ? 'a grab'
          : this.#echoSince !== undefined && then - this.#echoSince > limit
            ? 'its registration'
            : undefined;
      if (owed) {
        connection.close(
          new GearmanConnectionError(
            this.server.label,
            `did not answer ${owed} within ${limit} ms (requestTimeoutMs)`,
          ),
        );
      }
    });
    this.#watchdog.unref();
  }

  /** The connection is gone: `error` says why, undefined when this worker closed it. */
  #dropped(error: Error | undefined): void {
    this.#registered?.();
    cancel(this.#watchdog);
    this.#connection = undefined;
    this.#grabbing = 0;
    this.#echoSince = undefined;
    this.#probe = undefined;
    this.#owner.disconnected(this, error);
    this.#scheduleRetry();
  }

  /** Tries again after a backoff; returns the delay, or undefined when stopped. */
  #scheduleRetry(): number | undefined {
    if (this.#stopped) return undefined;
    this.#failures++;
    const delay = backoffDelay(this.#options.retryMs, this.#failures, this.#options.maxRetryMs);
    this.#retry = after(delay, () => void this.#connect());
    return delay;
  }
}
