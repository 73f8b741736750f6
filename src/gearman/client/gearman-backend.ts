/**
 * The Gearman backend: jobs go to a cluster of gearmand servers, where any worker (gearshift, PHP, C...)
 * runs them. Submissions are pipelined (many in flight per connection, answered in order); a job with a
 * unique goes to the server its unique hashes to, so that coalescing works across the cluster; other jobs
 * are spread round-robin. A server that fails is skipped for a backoff, and a submission it never
 * acknowledged goes to another one.
 *
 * What the Gearman protocol cannot do, gearshift adds around it: a queued job whose caller leaves is
 * cancelled with the admin `cancel job`; a running one is stopped by asking gearshift workers to abort it
 * (each listens on a control function of its own); a caller's timeout counts from the start, which is
 * found by asking GET_STATUS while the job waits.
 */

import type { PayloadMode } from '../../backend.js';
import {
  type Backend,
  type BackgroundRequest,
  coalescingKey,
  type FunctionInfo,
  type JobListener,
  type JobStatus,
  type JobTicket,
  type SubmitRequest,
} from '../../backend.js';
import {
  GearmanConnectionError,
  GearmanProtocolError,
  type GearshiftError,
  JobFailedError,
} from '../../errors.js';
import type { FunctionSet } from '../../functions/define.js';
import { describeFunctions } from '../../functions/load-module.js';
import { isJobErrorText, jobErrorFromData, parseJobErrorData } from '../../payload/job-error.js';
import { BoundedMap } from '../../shared/bounded-map.js';
import { IdleLatch } from '../../shared/idle-latch.js';
import { hash32, randomId } from '../../shared/random.js';
import { after, cancel, every, type Timer } from '../../shared/timers.js';
import { traceUnique } from '../../telemetry/traceparent.js';
import { GearmanAdmin } from '../admin-client.js';
import type { FilledGearmanOptions } from '../gearman-options.js';
import type { Packet } from '../protocol/packet-codec.js';
import { type PacketType, PacketTypes } from '../protocol/packet-types.js';
import { checkWireSize, fromWire, toWire } from '../wire-payload.js';
import { broadcastControl, GearmanControl } from './gearman-control.js';
import { type LinkJob, ServerLink, type Waiting } from './server-link.js';

/** How often a job whose caller counts a timeout is asked about (GET_STATUS) until it starts. */
const startPollMs = 25;
/** Handles of background jobs remembered, to know which server to ask about them (when there are several). */
const rememberedHandles = 10_000;
/** How often a submission that waits for a server (waitForServerMs) tries again. */
const waitPollMs = 100;

const foregroundTypes = {
  high: PacketTypes.SUBMIT_JOB_HIGH,
  normal: PacketTypes.SUBMIT_JOB,
  low: PacketTypes.SUBMIT_JOB_LOW,
};
const backgroundTypes = {
  high: PacketTypes.SUBMIT_JOB_HIGH_BG,
  normal: PacketTypes.SUBMIT_JOB_BG,
  low: PacketTypes.SUBMIT_JOB_LOW_BG,
};

/** The four status fields of STATUS_RES and STATUS_RES_UNIQUE, from their text. */
function statusFields(args: {
  readonly known: string;
  readonly running: string;
  readonly numerator: string;
  readonly denominator: string;
}): Pick<JobStatus, 'known' | 'running' | 'numerator' | 'denominator'> {
  return {
    known: args.known === '1',
    running: args.running === '1',
    numerator: Number(args.numerator),
    denominator: Number(args.denominator),
  };
}

/** A foreground job on its way to (or on) a server, with the callers waiting for it. */
class ForegroundJob implements LinkJob {
  readonly request: SubmitRequest;
  readonly data: Buffer;
  readonly listeners: JobListener[];
  readonly tried = new Set<ServerLink>();
  /** Until when it may wait for a server while every one is down (waitForServerMs). */
  readonly waitUntil: number;
  handle = '';
  link: ServerLink | undefined;
  started = false;
  ended = false;
  poll: Timer | undefined;
  /**
   * A warning that reads as a failure (a gearshift worker's, on gearmand 1.1: see GearmanSource): held
   * until the next packet says whether it was one (a WORK_FAIL right behind it) or a warning after all.
   */
  #heldWarning: Buffer | undefined;
  readonly #backend: GearmanBackend;

  constructor(
    backend: GearmanBackend,
    request: SubmitRequest,
    data: Buffer,
    listener: JobListener,
    waitUntil: number,
  ) {
    this.#backend = backend;
    this.request = request;
    this.data = data;
    this.listeners = [listener];
    this.waitUntil = waitUntil;
  }

  work(packet: Packet): void {
    const { functionName, payload } = this.request;
    const held = this.#heldWarning;
    this.#heldWarning = undefined;
    if (held && packet.type !== PacketTypes.WORK_FAIL) this.#warn(held);
    switch (packet.type) {
      case PacketTypes.WORK_STATUS: {
        this.markStarted();
        const numerator = Number(packet.args.numerator);
        const denominator = Number(packet.args.denominator);
        for (const listener of this.listeners) listener.status(numerator, denominator);
        return;
      }
      case PacketTypes.WORK_WARNING:
        this.markStarted();
        if (isJobErrorText(packet.data)) this.#heldWarning = packet.data;
        else this.#warn(packet.data);
        return;
      case PacketTypes.WORK_DATA:
      case PacketTypes.WORK_COMPLETE: {
        this.markStarted();
        let value: unknown;
        try {
          value = fromWire(
            functionName,
            packet.type === PacketTypes.WORK_DATA ? 'data chunk' : 'result',
            packet.data,
            payload,
          );
        } catch (error) {
          this.end((listener) => listener.fail(error as GearshiftError));
          return;
        }
        if (packet.type === PacketTypes.WORK_DATA)
          for (const listener of this.listeners) listener.data(value);
        else this.end((listener) => listener.complete(value));
        return;
      }
      case PacketTypes.WORK_FAIL: {
        const error = held
          ? jobErrorFromData(parseJobErrorData(held.toString('utf8')), functionName, this.handle)
          : new JobFailedError(functionName, this.handle, undefined);
        this.end((listener) => listener.fail(error));
        return;
      }
      case PacketTypes.WORK_EXCEPTION: {
        const error = jobErrorFromData(
          parseJobErrorData(packet.data.toString('utf8')),
          functionName,
          this.handle,
        );
        this.end((listener) => listener.fail(error));
      }
    }
  }

  #warn(message: Buffer): void {
    const text = message.toString('utf8');
    for (const listener of this.listeners) listener.warning(text);
  }

  lost(error: GearshiftError): void {
    // A server that broke the protocol is reported as such; anything else is the connection going away.
    const reason =
      error instanceof GearmanProtocolError
        ? error
        : new GearmanConnectionError(
            this.link?.server.label ?? '?',
            `went away while ${this.request.functionName} (${this.handle}) was in its hands: ${error.message}`,
            error,
          );
    this.end((listener) => listener.fail(reason));
  }

  markStarted(): void {
    if (this.started) return;
    this.started = true;
    cancel(this.poll);
    for (const listener of this.listeners) listener.started();
  }

  end(tell: (listener: JobListener) => void): void {
    if (this.ended) return;
    this.ended = true;
    cancel(this.poll);
    if (this.handle) this.link?.forget(this.handle);
    const listeners = this.listeners.splice(0);
    this.#backend.ended(this);
    for (const listener of listeners) tell(listener);
  }
}

/** Jobs on a Gearman cluster. */
export class GearmanBackend implements Backend {
  readonly #options: FilledGearmanOptions;
  readonly #links: ServerLink[];
  readonly #functions: URL | FunctionSet | undefined;
  #manifest: Promise<FunctionInfo[] | undefined> | undefined;
  #roundRobin = 0;
  /** Foreground jobs in flight with a unique, by function and unique: callers join rather than submit again. */
  readonly #coalesced = new Map<string, ForegroundJob>();
  readonly #inFlight = new Set<ForegroundJob>();
  /** Which server has a background job, by handle (the most recent ones), when there are several. */
  readonly #handleServers = new BoundedMap<string, ServerLink>(rememberedHandles);
  /** Submissions waiting to try the servers again (waitForServerMs), and how to fail each one now. */
  readonly #waits = new Map<Timer, (reason: GearshiftError) => void>();
  readonly #idle = new IdleLatch();
  #closing: Promise<void> | undefined;

  /** An operator's control of the cluster's jobs, as far as gearmand allows (cancel by handle, pause). */
  readonly control: GearmanControl;

  /**
   * @param functions the functions the workers run (the module, or the set), if this process has them:
   *   names and payloads are then checked before anything is sent. Without them, any name is accepted,
   *   as gearmand does, and an input's type says its payload (a Buffer is sent as bytes).
   */
  constructor(options: FilledGearmanOptions, functions: URL | FunctionSet | undefined) {
    this.#options = options;
    this.#links = options.servers.map((server) => new ServerLink(server, options));
    this.#functions = functions;
    this.control = new GearmanControl({
      options,
      links: () => this.#links,
      linkOf: (handle) => this.#linkOf(handle),
      status: (handle) => this.status(handle),
    });
  }

  manifest(): Promise<readonly FunctionInfo[] | undefined> {
    const functions = this.#functions;
    this.#manifest ??= functions === undefined ? Promise.resolve(undefined) : describeFunctions(functions);
    return this.#manifest;
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    const key = coalescingKey(request);
    const existing = key === undefined ? undefined : this.#coalesced.get(key);
    if (existing) {
      existing.listeners.push(listener);
      queueMicrotask(() => {
        if (!existing.listeners.includes(listener) || !existing.handle || !existing.link) return;
        listener.created(existing.handle);
        if (existing.started) listener.started();
        else if (request.needsStart && !existing.poll) this.#watchStart(existing, existing.link);
      });
      return { detach: (reason) => this.#detach(existing, listener, reason) };
    }
    let data: Buffer;
    try {
      data = this.#encode(request.functionName, request.input, request.payload);
    } catch (error) {
      // Refused before anything is sent; told on a later turn, as any other end of a job.
      queueMicrotask(() => listener.fail(error as GearshiftError));
      return { detach: () => {} };
    }
    const job = new ForegroundJob(this, request, data, listener, this.#waitUntil());
    this.#inFlight.add(job);
    if (key !== undefined) this.#coalesced.set(key, job);
    this.#submitForeground(job);
    return { detach: (reason) => this.#detach(job, listener, reason) };
  }

  background(requests: readonly BackgroundRequest[]): Promise<string[]> {
    const waitUntil = this.#waitUntil();
    // One job, the common call, without Promise.all's own promise and its turns.
    if (requests.length === 1)
      return this.#submitBackground(requests[0] as BackgroundRequest, waitUntil).then((handle) => [handle]);
    return Promise.all(requests.map((request) => this.#submitBackground(request, waitUntil)));
  }

  async status(handle: string): Promise<JobStatus> {
    const known = this.#linkOf(handle);
    for (const link of known ? [known] : this.#links.filter((candidate) => candidate.usable)) {
      const packet = (await this.#ask(
        link,
        PacketTypes.GET_STATUS,
        { handle },
        PacketTypes.STATUS_RES,
      )) as Packet<20>;
      if (packet.args.known === '1' || link === known) return { handle, ...statusFields(packet.args) };
    }
    return { handle, known: false, running: false, numerator: 0, denominator: 0 };
  }

  /** Gearman's GET_STATUS_UNIQUE: the status of the job with this unique, on the server the unique hashes to. */
  async statusOfUnique(unique: string): Promise<JobStatus> {
    const link = this.#pick(unique, new Set());
    if (!link) throw this.#noServer(new Set());
    const packet = (await this.#ask(
      link,
      PacketTypes.GET_STATUS_UNIQUE,
      { unique },
      PacketTypes.STATUS_RES_UNIQUE,
    )) as Packet<42>;
    return { handle: '', ...statusFields(packet.args), waiting: Number(packet.args.clientCount) };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#inFlight.size > 0) await this.#idle.wait();
    for (const link of this.#links) link.close();
  }

  async destroy(reason: GearshiftError): Promise<void> {
    for (const [timer, fail] of this.#waits) {
      cancel(timer);
      fail(reason);
    }
    this.#waits.clear();
    for (const job of [...this.#inFlight]) job.end((listener) => listener.fail(reason));
    for (const link of this.#links) link.close(reason);
  }

  /** Called by a job that ended. */
  ended(job: ForegroundJob): void {
    this.#inFlight.delete(job);
    const key = coalescingKey(job.request);
    if (key !== undefined && this.#coalesced.get(key) === job) this.#coalesced.delete(key);
    if (this.#inFlight.size === 0) this.#idle.open();
  }

  /** Sends a foreground job to a server not yet tried; `cause` is why the last one failed. */
  #submitForeground(job: ForegroundJob, cause?: GearshiftError): void {
    if (job.ended) return;
    const link = this.#pick(job.request.unique, job.tried);
    if (!link) {
      const waiting = this.#waitForServer(
        job.tried,
        job.waitUntil,
        () => this.#submitForeground(job, cause),
        (reason) => job.end((listener) => listener.fail(reason)),
      );
      if (!waiting) job.end((listener) => listener.fail(this.#noServer(job.tried, cause)));
      return;
    }
    job.tried.add(link);
    const { functionName, priority, traceparent } = job.request;
    // A traced job without a unique of its own carries its trace there, to a gearshift worker.
    const unique = job.request.unique ?? (traceparent === undefined ? '' : traceUnique(traceparent));
    link.request(foregroundTypes[priority], { functionName, unique }, job.data, {
      answer: PacketTypes.JOB_CREATED,
      answered: (packet) => this.#created(job, link, (packet as Packet<8>).args.handle),
      failed: (error, sent) => {
        // A server error is an answer: the job was refused. Otherwise it may go elsewhere.
        if (!sent || error.code === 'ERR_CONNECTION') this.#submitForeground(job, error);
        else job.end((listener) => listener.fail(error));
      },
    });
  }

  #created(job: ForegroundJob, link: ServerLink, handle: string): void {
    job.handle = handle;
    job.link = link;
    if (job.ended) {
      // Every caller left before the server answered: the job must not run for nobody.
      this.#cancelRemote(link, handle);
      return;
    }
    link.jobs.set(handle, job);
    for (const listener of job.listeners) listener.created(handle);
    if (job.request.needsStart) this.#watchStart(job, link);
  }

  /** Asks GET_STATUS until the job runs: the only way a client learns that a job started. */
  #watchStart(job: ForegroundJob, link: ServerLink): void {
    let asking = false;
    job.poll = every(startPollMs, () => {
      if (asking || job.started || job.ended) return;
      asking = true;
      this.#ask(link, PacketTypes.GET_STATUS, { handle: job.handle }, PacketTypes.STATUS_RES).then(
        (packet) => {
          asking = false;
          if ((packet as Packet<20>).args.running === '1') job.markStarted();
        },
        () => {
          asking = false;
        },
      );
    });
    job.poll.unref();
  }

  #detach(job: ForegroundJob, listener: JobListener, _reason: GearshiftError): void {
    const index = job.listeners.indexOf(listener);
    if (index === -1) return;
    job.listeners.splice(index, 1);
    if (job.listeners.length > 0 || job.ended) return;
    const { link, handle } = job;
    job.end(() => {});
    if (link && handle) this.#cancelRemote(link, handle);
  }

  /**
   * Stops a job nobody waits for: `cancel job` drops it if it is still queued (for a running job gearmand
   * only marks it, and it runs on); and every gearshift worker on that server is asked, through its
   * control function, to abort it if it runs there. A job running on another kind of worker runs to its
   * end: the Gearman protocol has no way to stop it.
   */
  #cancelRemote(link: ServerLink, handle: string): void {
    // Either may fail (the job already ended, the server went away): the job is then as good as stopped.
    Promise.allSettled([
      new GearmanAdmin(link.server, this.#options).cancelJob(handle),
      broadcastControl(link, this.#options, { kind: 'cancel', handle, by: 'caller' }),
    ]);
  }

  /**
   * Submits a background job, to the next server when one fails. Without a unique of its own, a job gets
   * a random one (as libgearman's clients do): gearmand's persistent queues key their rows by function
   * and unique, so jobs sharing the empty unique would overwrite each other there and all but one be lost
   * on a restart. A traced job's carries its trace. The unique is chosen once: a submission tried again
   * after a connection failed, which may have reached the server, joins the job it made there, if that
   * job has not ended, instead of queueing a second one.
   */
  #submitBackground(
    request: BackgroundRequest,
    waitUntil: number,
    unique = request.unique ??
      (request.traceparent === undefined ? randomId() : traceUnique(request.traceparent)),
    tried = new Set<ServerLink>(),
    cause?: GearshiftError,
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      const link = this.#pick(request.unique, tried);
      if (!link) {
        const again = () =>
          this.#submitBackground(request, waitUntil, unique, tried, cause).then(resolve, reject);
        if (!this.#waitForServer(tried, waitUntil, again, reject)) reject(this.#noServer(tried, cause));
        return;
      }
      tried.add(link);
      const { functionName, priority, runAt } = request;
      let data: Buffer;
      try {
        data = this.#encode(functionName, request.input, request.payload);
      } catch (error) {
        reject(error);
        return;
      }
      const answer: Waiting = {
        answer: PacketTypes.JOB_CREATED,
        answered: (packet) => {
          const { handle } = (packet as Packet<8>).args;
          if (this.#links.length > 1) this.#handleServers.set(handle, link);
          resolve(handle);
        },
        failed: (error, sent) => {
          if (!sent || error.code === 'ERR_CONNECTION')
            this.#submitBackground(request, waitUntil, unique, tried, error).then(resolve, reject);
          else reject(error);
        },
      };
      if (runAt === undefined)
        link.request(backgroundTypes[priority], { functionName, unique }, data, answer);
      else {
        // SUBMIT_JOB_EPOCH takes seconds, and has no priority of its own (gearmand queues it as normal).
        const epoch = String(Math.max(0, Math.ceil(runAt / 1000)));
        link.request(PacketTypes.SUBMIT_JOB_EPOCH, { functionName, unique, epoch }, data, answer);
      }
    });
  }

  /** Sends a request that is answered by one packet, and resolves with it. */
  #ask<T extends PacketType>(
    link: ServerLink,
    type: T,
    args: Parameters<ServerLink['request']>[1] & object,
    answer: PacketType,
  ): Promise<Packet> {
    return new Promise((resolve, reject) => {
      link.request(type, args as never, undefined, {
        answer,
        answered: resolve,
        failed: (error) => reject(error),
      });
    });
  }

  /** A job's input as bytes on the wire, refused when larger than a packet may be. */
  #encode(functionName: string, input: unknown, payload: PayloadMode): Buffer {
    const data = toWire(input, payload);
    checkWireSize(functionName, 'input', data, this.#options.maxPacketBytes);
    return data;
  }

  /** The server for a job: by its unique's hash (so that it coalesces cluster-wide), or in turn; skipping failed ones. */
  #pick(unique: string | undefined, tried: ReadonlySet<ServerLink>): ServerLink | undefined {
    const count = this.#links.length;
    const start = unique === undefined ? this.#roundRobin++ % count : hash32(unique) % count;
    let soonest: ServerLink | undefined;
    for (let step = 0; step < count; step++) {
      const link = this.#links[(start + step) % count] as ServerLink;
      if (tried.has(link)) continue;
      if (link.usable) return link;
      if (link.retryAt < (soonest?.retryAt ?? Number.POSITIVE_INFINITY)) soonest = link;
    }
    // Every untried server is in its backoff: rather than fail a job that a restarted server could take,
    // try the one whose backoff ends first (a lone server is then reconnected to at once).
    return soonest;
  }

  /** Until when a submission made now may wait for a server (waitForServerMs). */
  #waitUntil(): number {
    return Date.now() + this.#options.waitForServerMs;
  }

  /**
   * Every server has failed this submission: when it may still wait for one (waitForServerMs) and the
   * client is open, tries them all again after a pause and says true; otherwise says false.
   */
  #waitForServer(
    tried: Set<ServerLink>,
    waitUntil: number,
    again: () => void,
    fail: (reason: GearshiftError) => void,
  ): boolean {
    const left = waitUntil - Date.now();
    if (left <= 0 || this.#links.every((link) => link.retryAt === Number.POSITIVE_INFINITY)) return false;
    tried.clear();
    const timer = after(Math.min(waitPollMs, left), () => {
      this.#waits.delete(timer);
      again();
    });
    this.#waits.set(timer, fail);
    return true;
  }

  #linkOf(handle: string): ServerLink | undefined {
    // A lone server has every job: nothing is remembered then (a map entry per background job, saved).
    if (this.#links.length === 1) return this.#links[0];
    return this.#handleServers.get(handle) ?? this.#links.find((link) => link.jobs.has(handle));
  }

  #noServer(tried: ReadonlySet<ServerLink>, cause?: GearshiftError): GearmanConnectionError {
    const servers = this.#links.map((link) => link.server.label).join(', ');
    const what =
      tried.size > 0
        ? `the servers tried (${[...tried].map((link) => link.server.label).join(', ')}) failed`
        : 'the client is closed';
    const last = cause ? `; the last: ${cause.message}` : '';
    return new GearmanConnectionError(servers, `cannot take the job: ${what}${last}`, cause);
  }
}
