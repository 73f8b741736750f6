/**
 * A Gearman worker: registers the functions of a module on every job server, runs the jobs it grabs on
 * a local thread pool (up to threads x concurrency at once), and sends back their status, data, warnings
 * and end (WORK_COMPLETE, or WORK_EXCEPTION with the failure). What `gearshift work --gearman` runs, and
 * usable from code with {@link createWorker}.
 *
 * Besides the module's functions it listens, on a connection of its own that never waits for a free
 * slot, to its control function `gearshift:cancel:<id>`: gearshift clients send there the handle of a
 * running job whose caller left, and the worker aborts it.
 */
import { hostname } from 'node:os';
import type { Backend, FunctionInfo, JobListener, JobTicket } from '../../backend.js';
import { checkMilliseconds } from '../../client/options.js';
import {
  type GearshiftError,
  InvalidOptionError,
  JobAbortedError,
  JobTimeoutError,
  tookDownByAnother,
} from '../../errors.js';
import {
  createLocalBackend,
  type LocalPool,
  type LocalPoolOptions,
} from '../../local/create-local-backend.js';
import { jobErrorToData } from '../../payload/job-error.js';
import { randomHex } from '../../random.js';
import { cancelFunctionOf } from '../control.js';
import { type FilledGearmanOptions, fillGearmanOptions, type GearmanOptions } from '../gearman-options.js';
import { PacketTypes } from '../protocol/packet-types.js';
import { checkWireSize, fromWire, toWire } from '../wire-payload.js';
import { type Assignment, GrabLoop, type GrabLoopOwner } from './grab-loop.js';

/** Options of a Gearman worker. */
export interface WorkerOptions extends LocalPoolOptions {
  /** The functions module (its URL or path): the same module clients may name in createClient. */
  readonly functions: URL | string;
  /** The job servers, and how to reach them. */
  readonly gearman: GearmanOptions;
  /** The id the worker gives servers (SET_CLIENT_ID), seen in `gearadmin --workers`. @default gearshift-<host>-<pid>-<random> */
  readonly clientId?: string;
  /**
   * How much work, counted in the measured run time of its recent jobs, the worker grabs beyond its free
   * slots: jobs it holds so that a slot never waits a round trip to the server for its next job. A held
   * job is "running" for gearmand and waits here for at most about this long; 0 grabs only for free
   * slots, as libgearman's workers do. Jobs that take longer than this are never held.
   * @default 1
   */
  readonly prefetchMs?: number;
}

/** The most jobs held per slot, however short the jobs (bounds the memory a burst can take). */
const maxHeldPerSlot = 64;
/**
 * How many times a job is run again here when another job took down the thread it ran on (after that
 * it fails with the WorkerCrashedError): as gearmand would give it to another worker had this one died.
 */
const maxRunsAgain = 3;

/** One job this worker runs. */
class WorkerJob implements JobListener {
  readonly loop: GrabLoop;
  readonly handle: string;
  readonly info: FunctionInfo;
  ticket: JobTicket | undefined;
  timer: NodeJS.Timeout | undefined;
  /** When it started on a thread (performance.now()), if it has. */
  startedAt: number | undefined;
  ended = false;
  /** The job's input, decoded, and its unique: kept to run it again (see maxRunsAgain). */
  input: unknown;
  readonly unique: string | undefined;
  runsAgain = 0;
  readonly #worker: GearmanWorker;

  constructor(
    worker: GearmanWorker,
    loop: GrabLoop,
    assignment: { handle: string; unique: string | undefined },
    info: FunctionInfo,
  ) {
    this.#worker = worker;
    this.loop = loop;
    this.handle = assignment.handle;
    this.unique = assignment.unique;
    this.info = info;
  }

  created(): void {}

  started(): void {
    this.startedAt = performance.now();
    const { timeout } = this.info;
    if (timeout === undefined || this.ended) return;
    this.timer = setTimeout(() => {
      const error = new JobTimeoutError(this.info.name, this.handle, timeout);
      this.ticket?.detach(error);
      this.fail(error);
    }, timeout);
  }

  status(numerator: number, denominator: number): void {
    if (!this.ended)
      this.loop.send(PacketTypes.WORK_STATUS, {
        handle: this.handle,
        numerator: String(numerator),
        denominator: String(denominator),
      });
  }

  data(chunk: unknown): void {
    if (this.ended) return;
    const bytes = this.#encode(chunk, 'data chunk');
    if (bytes) this.loop.send(PacketTypes.WORK_DATA, { handle: this.handle }, bytes);
  }

  warning(message: string): void {
    if (!this.ended)
      this.loop.send(PacketTypes.WORK_WARNING, { handle: this.handle }, Buffer.from(message, 'utf8'));
  }

  complete(result: unknown): void {
    if (this.ended) return;
    const bytes = this.#encode(result, 'result');
    if (!bytes) return;
    // The answer goes before the end frees the slot (and asks for the next job): the server then passes
    // it on to the caller before it deals with the grab.
    this.loop.send(PacketTypes.WORK_COMPLETE, { handle: this.handle }, bytes);
    this.#end();
  }

  fail(error: GearshiftError): void {
    // WORK_EXCEPTION carries the failure as JSON, which gearshift clients turn back into the same typed
    // error; a client without the "exceptions" option gets WORK_FAIL from the server instead.
    if (this.ended) return;
    if (tookDownByAnother(error) && this.runsAgain < maxRunsAgain) {
      this.runsAgain++;
      clearTimeout(this.timer);
      this.startedAt = undefined;
      this.#worker.run(this);
      return;
    }
    const data = Buffer.from(JSON.stringify(jobErrorToData(error)), 'utf8');
    this.loop.send(PacketTypes.WORK_EXCEPTION, { handle: this.handle }, data);
    this.#end();
  }

  /** Stops the job here: its caller left, or its server did. */
  abort(reason: string, answer: boolean): void {
    const error = new JobAbortedError(this.info.name, this.handle, reason);
    this.ticket?.detach(error);
    if (answer) this.fail(error);
    else this.#end();
  }

  /** A result or data chunk as bytes; undefined, with the job failed, when it is too large to send. */
  #encode(value: unknown, what: string): Buffer | undefined {
    const bytes = toWire(value, this.info.payload);
    try {
      checkWireSize(this.info.name, what, bytes, this.#worker.maxPacketBytes);
      return bytes;
    } catch (error) {
      this.ticket?.detach(error as GearshiftError);
      this.fail(error as GearshiftError);
      return undefined;
    }
  }

  #end(): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.#worker.ended(this);
  }
}

/** Runs a module's jobs from Gearman job servers. */
export class GearmanWorker {
  /** Short and unique: part of the client id and of the control function's name. */
  readonly id = randomHex(4);
  readonly clientId: string;
  readonly #pool: LocalPool;
  readonly #options: FilledGearmanOptions;
  #functions = new Map<string, FunctionInfo>();
  #jobLoops: GrabLoop[] = [];
  #controlLoops: GrabLoop[] = [];
  /** Jobs running, by handle. */
  readonly #running = new Map<string, WorkerJob>();
  #started: Promise<void> | undefined;
  readonly #prefetchMs: number;
  /** Moving average of how long jobs take from start to answer, in ms; undefined before the first. */
  #averageRunMs: number | undefined;
  #stopping = false;
  #idle: (() => void) | undefined;
  /** Job loops that a server woke for more jobs than there is room for now. */
  readonly #waitingLoops = new Set<GrabLoop>();

  constructor(options: WorkerOptions) {
    if (options.functions === undefined)
      throw new InvalidOptionError('functions', 'the functions module the worker runs', undefined);
    this.#options = fillGearmanOptions(options.gearman);
    this.#prefetchMs = checkMilliseconds('prefetchMs', options.prefetchMs ?? 1, 0);
    this.#pool = createLocalBackend(options);
    this.clientId = options.clientId ?? `gearshift-${hostname()}-${process.pid}-${this.id}`;
  }

  /** The largest packet sent or accepted (`gearman.maxPacketBytes`). */
  get maxPacketBytes(): number {
    return this.#options.maxPacketBytes;
  }

  /** The function names registered (once started). */
  get functions(): string[] {
    return [...this.#functions.keys()];
  }

  /** Jobs running now. */
  get running(): number {
    return this.#running.size;
  }

  /** Loads the module, then connects to every server (retrying those that fail) and starts grabbing. */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const functions = (await this.#pool.backend.manifest()) ?? [];
    this.#functions = new Map(functions.map((fn) => [fn.name, fn]));
    const jobs: GrabLoopOwner = {
      clientId: this.clientId,
      functions: functions.map((fn) => ({ name: fn.name, timeout: fn.timeout })),
      room: (ahead) =>
        this.#stopping
          ? 0
          : this.#pool.backend.capacity +
            Math.min(ahead, this.#held()) -
            this.#running.size -
            this.#grabbing(),
      assigned: (loop, packet) => this.#assigned(loop, packet),
      pumped: (loop, waiting) => this.#pumped(loop, waiting),
      disconnected: (loop) => this.#disconnected(loop),
    };
    this.#jobLoops = this.#options.servers.map((server) => new GrabLoop(server, this.#options, jobs));
    // The pool found its threads waiting on their jobs: it can run more at once, so grab more.
    this.#pool.backend.onCapacityGrew(() => {
      for (const loop of this.#jobLoops) loop.pump();
    });
    this.#controlLoops = this.#options.servers.map((server) => {
      const owner: GrabLoopOwner = {
        clientId: `${this.clientId}:control`,
        functions: [{ name: cancelFunctionOf(this.id), timeout: undefined }],
        room: () => (loop.grabbing === 0 ? 1 : 0),
        assigned: (_loop, assignment) => this.#cancelRequested(loop, assignment),
        pumped: () => {},
        disconnected: () => {},
      };
      const loop = new GrabLoop(server, this.#options, owner);
      return loop;
    });
    await Promise.all([...this.#jobLoops, ...this.#controlLoops].map((loop) => loop.start()));
  }

  /**
   * Stops grabbing, lets running jobs finish for up to `graceMs`, then aborts the rest (their servers give
   * them to other workers) and disconnects.
   */
  async stop(graceMs = 10_000): Promise<void> {
    this.#stopping = true;
    this.#waitingLoops.clear();
    this.#pool.backend.setHostDemand(false);
    await this.#started?.catch(() => {});
    for (const loop of [...this.#jobLoops, ...this.#controlLoops]) loop.stopGrabbing();
    if (this.#running.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.#idle = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    for (const job of [...this.#running.values()]) job.abort('its worker is shutting down', false);
    for (const loop of [...this.#jobLoops, ...this.#controlLoops]) loop.close();
    await this.#pool.backend.close();
  }

  /** Stops now: running jobs are aborted (their servers give them to other workers). */
  async destroy(): Promise<void> {
    await this.stop(0);
  }

  /** Called by a job that ended. */
  ended(job: WorkerJob): void {
    this.#running.delete(job.handle);
    if (job.startedAt !== undefined) {
      const ms = performance.now() - job.startedAt;
      this.#averageRunMs = this.#averageRunMs === undefined ? ms : this.#averageRunMs * 0.8 + ms * 0.2;
    }
    if (this.#running.size === 0) this.#idle?.();
    // A slot is free: every server may be asked for more.
    for (const loop of this.#jobLoops) loop.pump();
  }

  /** How many jobs to hold beyond the slots: as many as recent run times say start within prefetchMs. */
  #held(): number {
    const average = this.#averageRunMs;
    if (average === undefined || this.#prefetchMs === 0) return 0;
    const perSlot = Math.min(maxHeldPerSlot, Math.floor(this.#prefetchMs / Math.max(average, 0.001)));
    return perSlot * this.#pool.backend.capacity;
  }

  /**
   * While a server has jobs this worker has no room for, the pool looks for threads whose jobs wait on
   * I/O, and grows its capacity for them (then this worker grabs more).
   */
  #pumped(loop: GrabLoop, waiting: boolean): void {
    if (waiting) this.#waitingLoops.add(loop);
    else this.#waitingLoops.delete(loop);
    this.#pool.backend.setHostDemand(this.#waitingLoops.size > 0);
  }

  #grabbing(): number {
    return this.#jobLoops.reduce((total, loop) => total + loop.grabbing, 0);
  }

  #assigned(loop: GrabLoop, assignment: Assignment): void {
    const { handle, functionName } = assignment;
    const info = this.#functions.get(functionName);
    if (!info) {
      loop.send(PacketTypes.WORK_FAIL, { handle });
      return;
    }
    const job = new WorkerJob(this, loop, { handle, unique: assignment.unique || undefined }, info);
    this.#running.set(handle, job);
    try {
      job.input = fromWire(functionName, 'input', assignment.data, info.payload);
    } catch (error) {
      job.fail(error as GearshiftError);
      return;
    }
    this.run(job);
  }

  /** Runs a job on the pool (again, when another job took down the thread it ran on). */
  run(job: WorkerJob): void {
    const { handle, unique, input, info } = job;
    const backend: Backend = this.#pool.backend;
    job.ticket = backend.submit(
      { functionName: info.name, input, payload: info.payload, priority: 'normal', unique, handle },
      job,
    );
  }

  #cancelRequested(loop: GrabLoop, assignment: Assignment): void {
    // Only this worker's own control function may stop a job; anything else a server assigns here fails.
    if (assignment.functionName !== cancelFunctionOf(this.id)) {
      loop.send(PacketTypes.WORK_FAIL, { handle: assignment.handle });
      return;
    }
    this.#running.get(assignment.data.toString('utf8'))?.abort('its caller stopped waiting', true);
    loop.send(PacketTypes.WORK_COMPLETE, { handle: assignment.handle });
  }

  /** A server went away: the answers of its jobs can no longer be given, and it will give them to others. */
  #disconnected(loop: GrabLoop): void {
    this.#pumped(loop, false);
    for (const job of [...this.#running.values()])
      if (job.loop === loop) job.abort(`its server ${loop.server.label} went away`, false);
  }
}

/**
 * Makes a Gearman worker for a functions module. Nothing connects until `start()`.
 *
 * @example
 * ```ts
 * const worker = createWorker({ functions: new URL('./functions.js', import.meta.url), gearman: { servers: ['10.0.0.5'] } });
 * await worker.start();
 * process.once('SIGTERM', () => worker.stop());
 * ```
 */
export function createWorker(options: WorkerOptions): GearmanWorker {
  return new GearmanWorker(options);
}
