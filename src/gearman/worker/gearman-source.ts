/**
 * A worker's jobs from Gearman job servers: registers the functions of a module on every server
 * (CAN_DO, or CAN_DO_TIMEOUT), grabs jobs while the worker host has room, and sends back their status,
 * data, warnings and end (WORK_COMPLETE, or WORK_EXCEPTION with the failure).
 *
 * Besides the module's functions it listens, on a connection of its own that never waits for room, to
 * its control function `gearshift:cancel:<id>`: gearshift clients send there the handle of a running job
 * whose caller left, and the worker aborts it.
 */
import { hostname } from 'node:os';
import type { FunctionInfo } from '../../backend.js';
import {
  type GearshiftError,
  JobAbortedError,
  JobCancelledError,
  UnknownFunctionError,
} from '../../errors.js';
import { jobErrorToData } from '../../payload/job-error.js';
import { BoundedMap } from '../../shared/bounded-map.js';
import { randomHex } from '../../shared/random.js';
import { readUnique } from '../../telemetry/traceparent.js';
import type { HostedJob } from '../../worker/hosted-job.js';
import type { InnocentFailure, JobHost, JobSource } from '../../worker/job-source.js';
import { cancelFunctionOf, decodeControl } from '../control.js';
import type { FilledGearmanOptions } from '../gearman-options.js';
import { PacketTypes } from '../protocol/packet-types.js';
import { checkWireSize, fromWire, toWire } from '../wire-payload.js';
import { type Assignment, GrabLoop, type GrabLoopOwner } from './grab-loop.js';

/** What a Gearman source's options say. */
export interface GearmanSourceOptions {
  readonly gearman: FilledGearmanOptions;
  /** The id given to servers (SET_CLIENT_ID). */
  readonly clientId: string | undefined;
  /** How much work, in recent jobs' run time, to hold beyond the room the pool has (see WorkerOptions). */
  readonly prefetchMs: number;
  /** How a failed job is told to a server where WORK_EXCEPTION ends it (gearmand 1.1): see WorkerOptions. */
  readonly failAs: 'fail' | 'exception';
}

/** The most jobs held per job the pool runs at once, however short the jobs (bounds a burst's memory). */
const maxHeldPerSlot = 64;
/**
 * How many times a job is run again here when another job took down the thread it ran on (after that
 * it fails with the WorkerCrashedError): as gearmand would give it to another worker had this one died.
 */
const maxRunsAgain = 3;
/** The most handles remembered per server of jobs cancelled before they came here. */
const maxCancelledEarly = 1000;

/** Grabs jobs from job servers for a worker. `GrabLoop` is the connection a job came on. */
export class GearmanSource implements JobSource<GrabLoop> {
  /** Short and unique: part of the client id and of the control function's name. */
  readonly id = randomHex(4);
  /** gearmand knows nothing of limits: the worker's pool holds them, for this process. */
  readonly keepsLimits = false;
  readonly clientId: string;
  readonly #options: GearmanSourceOptions;
  #host: JobHost<GrabLoop> | undefined;
  #functions: readonly FunctionInfo[] = [];
  #jobLoops: GrabLoop[] = [];
  #controlLoops: GrabLoop[] = [];
  /** Job loops that a server woke for more jobs than there is room for now. */
  readonly #waitingLoops = new Set<GrabLoop>();
  /**
   * Per server, handles of jobs whose callers left before the job came here: a server that cannot drop a
   * queued job (Perl's Gearman::Server has no `cancel job`) still assigns it, and it is then failed
   * without running. Forgotten when either connection to that server drops: a restarted server hands out
   * its handles anew.
   */
  readonly #cancelledEarly = new Map<string, BoundedMap<string, true>>();
  /** Functions an operator paused: not registered, and so not assigned, until resumed. */
  readonly #paused = new Set<string>();

  constructor(options: GearmanSourceOptions) {
    this.#options = options;
    this.clientId = options.clientId ?? `gearshift-${hostname()}-${process.pid}-${this.id}`;
  }

  get description(): string {
    const servers = this.#options.gearman.servers.map((server) => server.label).join(',');
    return `runs ${this.#functions.map((fn) => fn.name).join(', ') || '(no functions)'} for ${servers} as ${this.clientId}`;
  }

  /** Connects to every server (retrying those that fail) and starts grabbing. */
  async start(host: JobHost<GrabLoop>, functions: readonly FunctionInfo[]): Promise<void> {
    this.#host = host;
    this.#functions = functions;
    const registered = functions.map((fn) => ({ name: fn.name, timeout: fn.timeout }));
    const paused = this.#paused;
    const connection = (loop: GrabLoop, state: 'connected' | 'disconnected', error?: Error) =>
      host.events.emit('connection', { source: loop.server.label, state, ...(error ? { error } : {}) });
    const unreachable = (loop: GrabLoop, error: Error, retryInMs: number) =>
      host.events.emit('connection', { source: loop.server.label, state: 'unreachable', error, retryInMs });
    const jobs: GrabLoopOwner = {
      clientId: this.clientId,
      get functions() {
        return registered.filter((fn) => !paused.has(fn.name));
      },
      room: (ahead) =>
        host.stopping
          ? 0
          : host.capacity + Math.min(ahead, this.#held(host)) - host.running - this.#grabbing(),
      assigned: (loop, assignment) => this.#assigned(host, loop, assignment),
      pumped: (loop, waiting) => this.#pumped(host, loop, waiting),
      connected: (loop) => connection(loop, 'connected'),
      disconnected: (loop, error) => {
        connection(loop, 'disconnected', error);
        this.#disconnected(host, loop);
      },
      unreachable,
    };
    const { gearman } = this.#options;
    this.#jobLoops = gearman.servers.map((server) => new GrabLoop(server, gearman, jobs));
    this.#controlLoops = gearman.servers.map((server) => {
      const owner: GrabLoopOwner = {
        clientId: `${this.clientId}:control`,
        functions: [{ name: cancelFunctionOf(this.id), timeout: undefined }],
        room: () => (loop.grabbing === 0 ? 1 : 0),
        assigned: (_loop, assignment) => this.#controlRequested(host, loop, assignment),
        pumped: () => {},
        connected: () => {},
        disconnected: () => this.#cancelledEarly.delete(server.label),
        // Its job loop to the same server says so.
        unreachable: () => {},
      };
      const loop = new GrabLoop(server, gearman, owner);
      return loop;
    });
    await Promise.all([...this.#jobLoops, ...this.#controlLoops].map((loop) => loop.start()));
  }

  roomChanged(): void {
    for (const loop of this.#jobLoops) loop.pump();
  }

  started(): void {
    // Gearman has no packet for it: the caller learns a job started from its first status or data.
  }

  status(job: HostedJob<GrabLoop>, numerator: number, denominator: number): void {
    job.origin.send(PacketTypes.WORK_STATUS, {
      handle: job.handle,
      numerator: String(numerator),
      denominator: String(denominator),
    });
  }

  data(job: HostedJob<GrabLoop>, chunk: unknown): void {
    const bytes = this.#encode(job, chunk, 'data chunk');
    if (bytes) job.origin.send(PacketTypes.WORK_DATA, { handle: job.handle }, bytes);
  }

  warning(job: HostedJob<GrabLoop>, message: string): void {
    job.origin.send(PacketTypes.WORK_WARNING, { handle: job.handle }, Buffer.from(message, 'utf8'));
  }

  checkpoint(): void {
    // Gearman keeps no state of a job: the host keeps it in memory, for a run again here after a crash.
  }

  completed(job: HostedJob<GrabLoop>, result: unknown): void {
    const bytes = this.#encode(job, result, 'result');
    if (bytes) job.origin.send(PacketTypes.WORK_COMPLETE, { handle: job.handle }, bytes);
  }

  failed(job: HostedJob<GrabLoop>, error: GearshiftError): void {
    this.#sendFailure(job.origin, job.handle, error);
  }

  innocentFailure(job: HostedJob<GrabLoop>): InnocentFailure {
    return job.runsAgain < maxRunsAgain ? 'run-again' : 'fail';
  }

  abandon(): void {
    // Nothing to say: when this worker's connection closes, the server gives the job to another worker.
  }

  stopTaking(): void {
    this.#waitingLoops.clear();
    for (const loop of [...this.#jobLoops, ...this.#controlLoops]) loop.stopGrabbing();
  }

  async close(): Promise<void> {
    for (const loop of [...this.#jobLoops, ...this.#controlLoops]) loop.close();
  }

  /**
   * Tells the server a job failed so that every client waiting on it hears the end, with the failure as
   * JSON (which gearshift clients turn back into the same typed error) wherever the client can take it.
   *
   * gearmand 1.1 relays WORK_EXCEPTION only to clients that asked for the "exceptions" option; to every
   * other client it sends a WORK_FAIL whose handle ends with a NUL (libgearman-server/server.cc,
   * _server_queue_work_data: the handle's size as parsed counts the NUL that separated it from the
   * data), which a client that matches handles exactly never recognises: its caller waits for ever. So
   * by default the failure goes as WORK_WARNING (relayed to every client as it is) and the end as a
   * WORK_FAIL of its own; `failAs: 'exception'` sends WORK_EXCEPTION instead, for clusters whose callers
   * all ask for exceptions and rely on their exception callbacks.
   *
   * The original protocol (Perl's Gearman::Server) relays WORK_EXCEPTION to the clients that asked for
   * it without ending the job, and knows no WORK_WARNING: the exception, then WORK_FAIL, which ends the
   * job for everyone.
   */
  #sendFailure(loop: GrabLoop, handle: string, error: GearshiftError): void {
    const data = Buffer.from(JSON.stringify(jobErrorToData(error)), 'utf8');
    if (loop.exceptionEndsJob && this.#options.failAs === 'exception') {
      loop.send(PacketTypes.WORK_EXCEPTION, { handle }, data);
      return;
    }
    loop.send(
      loop.exceptionEndsJob ? PacketTypes.WORK_WARNING : PacketTypes.WORK_EXCEPTION,
      { handle },
      data,
    );
    loop.send(PacketTypes.WORK_FAIL, { handle });
  }

  /** Fails a job this worker will not run, and says so (stderr, and a `refused` event). */
  #refuse(host: JobHost<GrabLoop>, loop: GrabLoop, assignment: Assignment, error: GearshiftError): void {
    const { handle, functionName } = assignment;
    host.events.emit('refused', { handle, functionName, source: loop.server.label, error });
    this.#sendFailure(loop, handle, error);
  }

  /** A result or data chunk as bytes; undefined, with the job failed, when it is too large to send. */
  #encode(job: HostedJob<GrabLoop>, value: unknown, what: string): Buffer | undefined {
    const bytes = toWire(value, job.info.payload);
    try {
      checkWireSize(job.info.name, what, bytes, this.#options.gearman.maxPacketBytes);
      return bytes;
    } catch (error) {
      this.#host?.abort(job, error as GearshiftError, 'fail');
      return undefined;
    }
  }

  /** How many jobs to hold beyond the room: as many as recent run times say start within prefetchMs. */
  #held(host: JobHost<GrabLoop>): number {
    const average = host.averageRunMs;
    const { prefetchMs } = this.#options;
    if (average === undefined || prefetchMs === 0) return 0;
    const perSlot = Math.min(maxHeldPerSlot, Math.floor(prefetchMs / Math.max(average, 0.001)));
    return perSlot * host.capacity;
  }

  #grabbing(): number {
    return this.#jobLoops.reduce((total, loop) => total + loop.grabbing, 0);
  }

  /**
   * While a server has jobs this worker has no room for, the pool looks for threads whose jobs wait on
   * I/O, and grows its capacity for them (then this worker grabs more).
   */
  #pumped(host: JobHost<GrabLoop>, loop: GrabLoop, waiting: boolean): void {
    if (waiting && !host.stopping) this.#waitingLoops.add(loop);
    else this.#waitingLoops.delete(loop);
    host.pool.backend.setHostDemand(this.#waitingLoops.size > 0);
  }

  #assigned(host: JobHost<GrabLoop>, loop: GrabLoop, assignment: Assignment): void {
    const { handle, functionName } = assignment;
    const info = this.#functions.find((fn) => fn.name === functionName);
    if (!info) {
      // A server assigns only what was registered: this one is confused, or not a job server.
      const known = this.#functions.map((fn) => fn.name);
      this.#refuse(host, loop, assignment, new UnknownFunctionError(functionName, known));
      return;
    }
    const cancelled = this.#cancelledEarly.get(loop.server.label);
    if (cancelled?.delete(handle)) {
      this.#sendFailure(
        loop,
        handle,
        new JobAbortedError(functionName, handle, 'its caller stopped waiting'),
      );
      return;
    }
    // A gearshift client without a unique of its own sends its trace there (traceparent.ts).
    const { unique, traceparent } = readUnique(assignment.unique || undefined);
    const job = host.accept({ handle, info, unique, traceparent, origin: loop });
    try {
      job.input = fromWire(functionName, 'input', assignment.data, info.payload);
    } catch (error) {
      host.refuse(job, error as GearshiftError, loop.server.label);
      return;
    }
    host.run(job);
  }

  #controlRequested(host: JobHost<GrabLoop>, loop: GrabLoop, assignment: Assignment): void {
    // Only this worker's own control function may ask anything; anything else a server assigns here fails.
    const message =
      assignment.functionName === cancelFunctionOf(this.id) ? decodeControl(assignment.data) : undefined;
    if (!message) {
      loop.send(PacketTypes.WORK_FAIL, { handle: assignment.handle });
      return;
    }
    if (message.kind === 'cancel') {
      const job = host.job(message.handle);
      const error = (name: string) =>
        message.by === 'operator'
          ? new JobCancelledError(name, message.handle, 'running')
          : new JobAbortedError(name, message.handle, 'its caller stopped waiting');
      if (job) host.abort(job, error(job.info.name), 'fail');
      else this.#cancelEarly(loop.server.label, message.handle);
    } else this.#setPaused(message.functionName, message.kind === 'pause');
    loop.send(PacketTypes.WORK_COMPLETE, { handle: assignment.handle });
  }

  /**
   * Stops or starts taking a function's jobs on every server: CANT_DO, or CAN_DO again. Kept through
   * reconnections (the registration leaves paused functions out), not past this worker's life.
   */
  #setPaused(functionName: string, paused: boolean): void {
    const fn = this.#functions.find((candidate) => candidate.name === functionName);
    if (!fn || this.#paused.has(functionName) === paused) return;
    if (paused) this.#paused.add(functionName);
    else this.#paused.delete(functionName);
    for (const loop of this.#jobLoops) {
      if (paused) loop.cantDo(functionName);
      else loop.canDo({ name: fn.name, timeout: fn.timeout });
    }
  }

  #cancelEarly(server: string, handle: string): void {
    const handles = this.#cancelledEarly.get(server) ?? new BoundedMap<string, true>(maxCancelledEarly);
    this.#cancelledEarly.set(server, handles);
    // Most such jobs were dropped by the server or ran elsewhere: only the latest are kept.
    handles.set(handle, true);
  }

  /** A server went away: the answers of its jobs can no longer be given, and it will give them to others. */
  #disconnected(host: JobHost<GrabLoop>, loop: GrabLoop): void {
    this.#pumped(host, loop, false);
    this.#cancelledEarly.delete(loop.server.label);
    for (const job of host.jobs()) {
      if (job.origin !== loop) continue;
      const reason = `its server ${loop.server.label} went away`;
      host.abort(job, new JobAbortedError(job.info.name, job.handle, reason), 'drop');
    }
  }
}
