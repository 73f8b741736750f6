/**
 * A worker's jobs from a queue file: claims the best ready jobs of its functions, hands them to the
 * worker host, and writes back what they report. Any number of workers, in any number of processes,
 * may share a file.
 *
 * At least once: a claimed job holds a lease that this source renews while it runs; if the process
 * dies, the lease expires and another worker claims the job again (as its next attempt). Every write
 * about a job is fenced by its lease token, so a worker that lost a lease changes nothing of the job
 * afterwards; and one that finds, when it renews, that it lost a lease (it stalled past `leaseMs` while
 * another worker took the job) aborts that job and writes nothing more for it.
 */
import { hostname } from 'node:os';
import type { FunctionInfo } from '../backend.js';
import { type GearshiftError, JobAbortedError, JobCancelledError } from '../errors.js';
import { jobErrorToData } from '../payload/job-error.js';
import { thisProcess } from '../shared/local-processes.js';
import { randomId, randomToken } from '../shared/random.js';
import { after, cancel, type Timer } from '../shared/timers.js';
import type { HostedJob } from '../worker/hosted-job.js';
import type { InnocentFailure, JobHost, JobSource } from '../worker/job-source.js';
import { afterFailure } from './after-failure.js';
import { priorityNames } from './priority.js';
import type { QueueOrigin } from './queue-origin.js';
import type { QueueStore } from './queue-store.js';
import { heartbeatMsFor, RunnerUpkeep } from './runner-upkeep.js';
import { ScheduleTicker } from './schedule-ticker.js';
import type { ClaimedJob } from './sql/claim-jobs.js';
import { type ClaimLimits, type ClaimStarts, claimLimitsOf } from './sql/claim-limited.js';
import { operatorCancel } from './sql/control-jobs.js';
import type { Retention } from './sql/retention.js';
import { EventKind } from './stored-codes.js';
import { fromStored, toStored } from './stored-payload.js';
import type { WriteBatcher } from './write-batcher.js';

/** How a queue source behaves. */
export interface QueueSourceOptions {
  /** How long a claim lasts without renewal, in milliseconds; a dead worker's jobs come back after it. */
  readonly leaseMs: number;
  readonly retention: Retention;
  /** Opens the file (at start: a worker does no I/O before), or gives the connection a client has. */
  readonly store: () => QueueStore;
  /** Whether closing the source closes the file (false when a client shares its connection). */
  readonly ownsStore: boolean;
}

/** How often the progress of background jobs is written, at most (the first report goes at once). */
const progressEveryMs = 100;
/**
 * How long a background job's begin waits to be written, at most: a job that ends sooner has it written
 * with its end, in one write. A begin written at once cost every short job a commit of its own, and a
 * wake of the runner, on its way from start to end.
 */
const beginWriteMs = 10;
/** Claim ahead enough to keep the pool busy for this long. */
const claimAheadMs = 50;
const maxClaimAhead = 512;

/** Claims jobs from a queue file for a worker. */
export class QueueSource implements JobSource<QueueOrigin> {
  /** The id this worker has in the file's `runners` table. */
  readonly id = randomId();
  /** Its claim counts every limit across the file's runners (sql/claim-limited.ts). */
  readonly keepsLimits = true;
  #store: QueueStore | undefined;
  readonly #options: QueueSourceOptions;
  #host: JobHost<QueueOrigin> | undefined;
  #functions = new Map<string, FunctionInfo>();
  /** The function names as a JSON array, as the claim query takes them. */
  #functionList = '[]';
  /** The limits among them, when any function declares one. */
  #limits: ClaimLimits | undefined;
  /** Claims with rate-limited jobs seen to begin, not dated in the file yet (see #begun). */
  #begins: ClaimStarts[] = [];
  /** Whether a write of the begins is asked for and has not run yet. */
  #beginsWriting = false;
  #claiming = false;
  /**
   * A claim that found fewer jobs than it wanted, and was the last write of its transaction, has just
   * committed: the wake its commit causes (next) would find nothing new to claim, and skips the claim.
   */
  #claimCameShort = false;
  #stopping = false;
  #registered = false;
  #unsubscribe: (() => void) | undefined;
  #upkeep: RunnerUpkeep | undefined;
  #schedules: ScheduleTicker | undefined;
  #readyTimer: Timer | undefined;
  /** The look for the next ready time, waiting for the end of the turn of the claim that came up short. */
  #readyLook: NodeJS.Immediate | undefined;
  #progressTimer: Timer | undefined;
  #beginTimer: Timer | undefined;
  #lastProgressFlush = 0;
  #lastReap = 0;

  constructor(options: QueueSourceOptions) {
    this.#options = options;
  }

  get description(): string {
    const file = this.#store?.file ?? 'a queue file';
    return `runs ${[...this.#functions.keys()].join(', ') || '(no functions)'} from ${file}`;
  }

  /** Opens the file, registers this worker for its functions, and starts claiming. */
  async start(host: JobHost<QueueOrigin>, functions: readonly FunctionInfo[]): Promise<void> {
    this.#host = host;
    if (this.#stopping) return;
    this.#store = this.#options.store();
    this.#functions = new Map(functions.map((fn) => [fn.name, fn]));
    this.#functionList = JSON.stringify([...this.#functions.keys()]);
    this.#limits = claimLimitsOf(functions);
    const now = Date.now();
    const { leaseMs, retention } = this.#options;
    const { hostKey, pid, startTime } = thisProcess();
    await this.#write(() =>
      this.#opened.runners.register({
        id: this.id,
        pid,
        host: hostname(),
        hostKey,
        startTime,
        functions: this.#functionList,
        threads: host.pool.threads,
        leaseMs,
        heartbeatMs: heartbeatMsFor(leaseMs),
        startedAt: now,
        heartbeatAt: now,
      }),
    );
    this.#registered = true;
    host.events.emit('connection', { source: this.#opened.file, state: 'connected' });
    this.#upkeep = new RunnerUpkeep(this.#opened, {
      id: this.id,
      leaseMs,
      retention,
      write: (operation) => this.#write(operation),
      held: () => host.jobs(),
      lost: (job) => this.#lost(job),
      buried: (dead) => {
        for (const { runner, jobs } of dead)
          host.events.emit('runnerGone', { runner: runner.id, pid: runner.pid, host: runner.host, jobs });
        this.#fill();
      },
    });
    // The jobs of a runner of this host that died before this one started are taken back first.
    await this.#upkeep.sweep();
    // Stopped while it started: nothing of its own clock may outlive the stop.
    if (this.#stopping) return;
    this.#upkeep.start();
    const store = this.#opened;
    this.#schedules = new ScheduleTicker(store, null, async () => {
      const ticked = await this.#write(() => store.schedules.tick(Date.now()));
      for (const { id, reason } of ticked?.parked ?? [])
        process.emitWarning(
          `queue worker ${this.id}: schedule ${id} of ${store.file} was parked (it enqueues nothing until kept again): ${reason}`,
          'GearshiftWarning',
        );
    });
    this.#schedules.arm();
    // A claim along with a client's insert, made while this start was under way, said nothing of the
    // wakes to come.
    this.#claimCameShort = false;
    this.#unsubscribe = this.#opened.changes.subscribe(() => {
      this.#checkCancellations();
      this.#schedules?.arm();
      if (this.#claimCameShort) this.#claimCameShort = false;
      else this.#fill();
    });
    this.#fill();
  }

  /**
   * A rate-limited job's start counts from the first of these (its begin, its end, its giving back): see
   * claim-limited.ts. The next write dates what began since the last one, by the latest of those begins:
   * until then the claim counts as starting now, which its jobs did. The rows are the claim's (named by
   * the token), so a date written after the claim was reaped still dates it, unless the sweep dated it
   * first.
   */
  #begun(origin: QueueOrigin, at: number): void {
    const starts = origin.starts;
    if (!starts) return;
    origin.starts = undefined;
    starts.left--;
    starts.at = Math.max(starts.at, at);
    if (starts.begun++ === 0) this.#begins.push(starts);
    if (this.#beginsWriting) return;
    this.#beginsWriting = true;
    void this.#write(() => {
      const written = this.#begins;
      this.#begins = [];
      this.#beginsWriting = false;
      this.#opened.claimLimited.begun(this.id, written);
    }).then(() => {
      // A batch that failed to begin never ran the write: the next begin asks for another.
      this.#beginsWriting = false;
    });
  }

  /** The rows of `limit_starts` a claim made, as its runner counts their begins; none without a rate. */
  #claimStarts(rows: readonly ClaimedJob[], token: number): Map<string, ClaimStarts> | undefined {
    const byFunction = this.#limits?.byFunction;
    if (!byFunction) return undefined;
    const claims = new Map<string, ClaimStarts>();
    for (const { functionName, limitKey } of rows) {
      if (byFunction.get(functionName)?.rate === undefined) continue;
      const group = limitKey ?? '';
      const slot = `${functionName}\u0000${group}`;
      const claim = claims.get(slot);
      if (claim) claim.left++;
      else claims.set(slot, { functionName, group, token, left: 1, begun: 0, at: 0, parts: 0 });
    }
    return claims;
  }

  roomChanged(): void {
    // At once: the write about the job that ended (its end, or its giving back) is queued already, and
    // the claim joins its transaction.
    this.#fill();
  }

  started(job: HostedJob<QueueOrigin>): void {
    const { row, token } = job.origin;
    const at = Date.now();
    this.#begun(job.origin, at);
    // A foreground job's caller hears of its start from this write, and so does a caller that joined a
    // background job by its unique; any other background job's may wait a little.
    if (row.foreground || row.unique !== null) {
      void this.#write(() => this.#opened.settle.started(row.id, token, at));
      return;
    }
    job.origin.begunAt = at;
    this.#beginTimer ??= after(beginWriteMs, () => this.#flushBegins());
  }

  status(job: HostedJob<QueueOrigin>, numerator: number, denominator: number): void {
    const { row, token } = job.origin;
    // The row keeps the latest progress, for status(): a background job's is written at most every
    // progressEveryMs; a foreground job's with each report, which its caller reads in order anyway.
    if (row.foreground) {
      const body = JSON.stringify([numerator, denominator]);
      void this.#write(() => {
        if (this.#opened.settle.progress(row.id, token, numerator, denominator))
          this.#opened.events.append(row.id, token, EventKind.status, body);
      });
      return;
    }
    job.origin.progress = [numerator, denominator];
    if (this.#progressTimer) return;
    const wait = this.#lastProgressFlush + progressEveryMs - Date.now();
    if (wait <= 0) this.#flushProgress();
    else this.#progressTimer = after(wait, () => this.#flushProgress());
  }

  data(job: HostedJob<QueueOrigin>, chunk: unknown): void {
    // Background jobs have nobody to hear partial results; foreground callers read them in order.
    if (job.origin.row.foreground) this.#event(job, EventKind.data, toStored(chunk, job.info.payload));
  }

  warning(job: HostedJob<QueueOrigin>, message: string): void {
    if (job.origin.row.foreground) this.#event(job, EventKind.warning, JSON.stringify(message));
  }

  checkpoint(job: HostedJob<QueueOrigin>, state: unknown): void {
    const { row, token } = job.origin;
    const stored = JSON.stringify(state);
    void this.#write(() => this.#opened.settle.checkpoint(row.id, token, stored));
  }

  completed(job: HostedJob<QueueOrigin>, result: unknown): void {
    const { row, token, progress } = job.origin;
    const stored = toStored(result, job.info.payload);
    const begunAt = this.#unwrittenBegin(job);
    this.#begun(job.origin, Date.now());
    this.#writeEnd(job, () => {
      if (progress) this.#opened.settle.progress(row.id, token, ...progress);
      return this.#opened.settle.complete(row, token, stored, Date.now(), begunAt);
    });
  }

  /** A failed attempt: retried after a backoff while attempts remain, unless `final`; else the job ends. */
  failed(job: HostedJob<QueueOrigin>, error: GearshiftError, final: boolean): void {
    const { row, token } = job.origin;
    const now = Date.now();
    const kind = error instanceof JobCancelledError ? 'cancelled' : final ? 'final' : 'retryable';
    const { state, runAt } = afterFailure(row, now, kind);
    const stored = JSON.stringify(jobErrorToData(error));
    const begunAt = this.#unwrittenBegin(job);
    this.#begun(job.origin, now);
    this.#writeEnd(job, () => this.#opened.settle.fail(row, token, state, runAt, stored, now, begunAt));
  }

  /** Not its own failure: the job goes back to the queue with its attempt given back. */
  innocentFailure(job: HostedJob<QueueOrigin>): InnocentFailure {
    this.abandon(job);
    return 'given-back';
  }

  abandon(job: HostedJob<QueueOrigin>): void {
    const { row, token } = job.origin;
    const at = Date.now();
    // Given back unrun as far as the file is concerned: its begin is not written.
    this.#unwrittenBegin(job);
    this.#begun(job.origin, at);
    void this.#write(() => this.#opened.settle.release(row, token, at));
  }

  stopTaking(): void {
    this.#stopping = true;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    cancel(this.#readyTimer);
    clearImmediate(this.#readyLook);
    this.#schedules?.stop();
  }

  async close(): Promise<void> {
    this.stopTaking();
    // The timers first: a flush forgets its timer, and one left would fire after the close.
    cancel(this.#progressTimer);
    cancel(this.#beginTimer);
    this.#flushProgress();
    this.#flushBegins();
    this.#upkeep?.stop();
    if (this.#registered) await this.#write(() => this.#opened.runners.remove(this.id));
    if (this.#options.ownsStore) this.#store?.close();
  }

  /** The file, once started (every path that uses it runs after start). */
  get #opened(): QueueStore {
    if (!this.#store) throw new Error('gearshift: the queue source was used before it started');
    return this.#store;
  }

  /**
   * How many jobs to hold claimed: enough for the pool for about claimAheadMs of its recent jobs, and at
   * least two per job it runs at once. The pool's capacity grows while its jobs wait on I/O, and so does
   * this.
   */
  #claimAhead(host: JobHost<QueueOrigin>): number {
    const average = host.averageRunMs;
    const factor = average === undefined ? 2 : Math.max(2, claimAheadMs / Math.max(average, 0.01));
    return Math.min(maxClaimAhead, Math.ceil(host.capacity * factor));
  }

  /**
   * Claims in the next transaction of `writes`, after what was asked of it before (the jobs this
   * process's client is adding): a runner of this process with nothing running takes them in the commit
   * that adds them, instead of after that commit's wake and a transaction of its own.
   */
  claimAlong(writes: WriteBatcher): void {
    if (this.#host?.running === 0) this.#fill(writes);
  }

  /**
   * Claims more jobs when enough room is free, in one write with whatever else is pending (in `writes`:
   * this runner's own batches, unless claimAlong says otherwise).
   */
  #fill(writes?: WriteBatcher): void {
    const host = this.#host;
    if (!host || this.#stopping || this.#claiming || this.#functions.size === 0) return;
    const ahead = this.#claimAhead(host);
    const wanted = ahead - host.running;
    if (wanted < Math.max(1, Math.floor(ahead / 4))) return;
    this.#claiming = true;
    const token = randomToken();
    const { leaseMs } = this.#options;
    // When the claim looked: the next ready time is looked for from then (see #scheduleNextReady).
    let lookedAt = 0;
    // Answered in the flush itself: the claimed jobs go to the pool before the listeners that the commit
    // wakes (this runner's own among them) and before a promise's turns.
    this.#writeThen(
      () => {
        const now = Date.now();
        lookedAt = now;
        if (now - this.#lastReap >= Math.min(1000, leaseMs)) {
          this.#lastReap = now;
          this.#opened.claimJobs.reapExpired(now);
        }
        const limits = this.#limits;
        if (!limits)
          return {
            jobs: this.#opened.claimJobs.claim(this.id, token, this.#functionList, now, leaseMs, wanted),
            roomAt: undefined,
          };
        return this.#opened.claimLimited.claim(
          this.id,
          token,
          this.#functionList,
          now,
          leaseMs,
          wanted,
          limits,
        );
      },
      (claimed, last) => {
        if (claimed === undefined) {
          this.#claiming = false;
          return;
        }
        const starts = this.#claimStarts(claimed.jobs, token);
        // Still claiming while the jobs are handed over: one that ends at once (refused for its input)
        // frees room, and a claim then would count none of the others, not yet accepted.
        for (const row of claimed.jobs)
          this.#run(host, row, token, starts?.get(`${row.functionName}\u0000${row.limitKey ?? ''}`));
        this.#claiming = false;
        if (claimed.jobs.length === wanted) this.#fill();
        else {
          // A write after it in the same transaction (a job added, or given back) may have made work.
          this.#claimCameShort = last === true;
          this.#lookForNextReady(claimed.roomAt, lookedAt);
        }
      },
      writes,
    );
  }

  #run(host: JobHost<QueueOrigin>, row: ClaimedJob, token: number, starts: ClaimStarts | undefined): void {
    const info = this.#functions.get(row.functionName) as FunctionInfo;
    const handle = this.#opened.handle(row.id);
    const origin: QueueOrigin = { row, token, progress: undefined, begunAt: undefined, starts };
    const job = host.accept({
      handle,
      info,
      unique: row.unique ?? undefined,
      traceparent: row.traceparent ?? undefined,
      priority: priorityNames[row.priority],
      origin,
    });
    if (this.#stopping) {
      host.abort(job, new JobAbortedError(row.functionName, handle, 'its worker is shutting down'), 'drop');
      this.abandon(job);
      return;
    }
    try {
      job.input = fromStored(row.input);
      if (row.checkpoint !== null) job.resumeFrom = JSON.parse(row.checkpoint);
      if (row.flowLeft !== null) job.children = this.#opened.flows.outcomes(row.id);
    } catch (error) {
      host.refuse(
        job,
        new JobAbortedError(row.functionName, handle, `its stored input is not JSON: ${String(error)}`),
        this.#opened.file,
      );
      return;
    }
    host.run(job);
  }

  #event(job: HostedJob<QueueOrigin>, kind: number, body: string | Uint8Array | null): void {
    const { row, token } = job.origin;
    void this.#write(() => this.#opened.events.append(row.id, token, kind, body));
  }

  /**
   * Wakes up when the next scheduled job becomes ready, or when a limited group that ran out of starts
   * gets one back (`roomAt`). The change signal covers the rest: a job queued, or one ending anywhere,
   * which gives its group a place. `lookedAt`: when the claim that came up short looked for ready jobs;
   * a job that became ready since then is found too, and claimed at once (by now, the clock has gone on).
   */
  #scheduleNextReady(roomAt: number | undefined, lookedAt: number): void {
    cancel(this.#readyTimer);
    const now = Date.now();
    const ready = this.#opened.claimJobs.nextReadyAt(this.#functionList, lookedAt);
    const next = ready === null ? roomAt : roomAt === undefined ? ready : Math.min(ready, roomAt);
    if (next === undefined) return;
    this.#readyTimer = after(Math.max(0, next - now), () => this.#fill());
    this.#readyTimer.unref();
  }

  /**
   * #scheduleNextReady at the end of this turn, for a claim that came up short. Its look is a read of the
   * file of its own: in the claim's answer, it came before the claimed jobs started and before the
   * callers that the same commit answers resumed (a caller of finished() whose job's end the claim
   * joined). The latest claim's `roomAt` and time count.
   */
  #lookForNextReady(roomAt: number | undefined, lookedAt: number): void {
    clearImmediate(this.#readyLook);
    this.#readyLook = setImmediate(() => {
      this.#readyLook = undefined;
      if (!this.#stopping && !this.#opened.closed) this.#scheduleNextReady(roomAt, lookedAt);
    });
  }

  /** Aborts the jobs whose callers stopped waiting (a foreground job's timeout or abort). */
  #checkCancellations(): void {
    const host = this.#host;
    if (!host || host.running === 0 || this.#opened.closed) return;
    for (const { id, how } of this.#opened.leases.cancelled(this.id)) {
      const job = host.job(this.#opened.handle(id));
      if (!job) continue;
      const error =
        how === operatorCancel
          ? new JobCancelledError(job.info.name, job.handle, 'running')
          : new JobAbortedError(job.info.name, job.handle, 'its caller stopped waiting');
      host.abort(job, error, 'fail');
    }
  }

  #lost(job: HostedJob<QueueOrigin>): void {
    const host = this.#host;
    if (!host || job.ended) return;
    process.emitWarning(
      `queue worker ${this.id}: lost the lease of ${job.handle} (${job.info.name}), which another worker took after leaseMs (${this.#options.leaseMs} ms) without renewal; stopping it here and writing nothing more for it`,
      'GearshiftWarning',
    );
    host.abort(
      job,
      new JobAbortedError(job.info.name, job.handle, 'its lease was lost to another worker'),
      'drop',
    );
  }

  /**
   * Queues the write of a job's end (`operation`: whether the runner still held the job), and tells a
   * caller of this process awaiting it in the flush of its commit (QueueStore.jobEnded), rather than on
   * the change signal's wake, which came a microtask later, after the runner's own listener.
   */
  #writeEnd(job: HostedJob<QueueOrigin>, operation: () => boolean): void {
    this.#writeThen(operation, (written) => {
      if (written === undefined) return;
      if (written) this.#opened.jobEnded(job.origin.row.id);
      else this.#fenced(job);
    });
  }

  /** Says that the end of a job was not written: its lease was lost meanwhile (it ended here anyway). */
  #fenced(job: HostedJob<QueueOrigin>): void {
    process.emitWarning(
      `queue worker ${this.id}: the end of ${job.handle} (${job.info.name}) was not written: its lease is another worker's now`,
      'GearshiftWarning',
    );
  }

  /** A job's begin not written yet, taken to be written with its end (null when it was, or it had none). */
  #unwrittenBegin(job: HostedJob<QueueOrigin>): number | null {
    const at = job.origin.begunAt;
    job.origin.begunAt = undefined;
    return at ?? null;
  }

  /** Writes the begins of running background jobs that have not ended yet. */
  #flushBegins(): void {
    this.#beginTimer = undefined;
    const begun = (this.#host?.jobs() ?? []).filter((job) => job.origin.begunAt !== undefined);
    if (begun.length === 0) return;
    const writes = begun.map((job) => ({
      id: job.origin.row.id,
      token: job.origin.token,
      at: this.#unwrittenBegin(job) as number,
    }));
    void this.#write(() => {
      for (const { id, token, at } of writes) this.#opened.settle.started(id, token, at);
    });
  }

  #flushProgress(): void {
    this.#progressTimer = undefined;
    this.#lastProgressFlush = Date.now();
    const dirty = (this.#host?.jobs() ?? []).filter((job) => job.origin.progress);
    if (dirty.length === 0) return;
    const writes = dirty.map((job) => ({
      id: job.origin.row.id,
      token: job.origin.token,
      progress: job.origin.progress as [number, number],
    }));
    for (const job of dirty) job.origin.progress = undefined;
    void this.#write(() => {
      for (const { id, token, progress } of writes) this.#opened.settle.progress(id, token, ...progress);
    });
  }

  /** Queues a write; a failed write is reported as a warning and left to the lease to repair. */
  #write<T>(operation: () => T): Promise<T | undefined> {
    return new Promise((resolve) => this.#writeThen(operation, resolve));
  }

  /**
   * As #write, calling `then` in the flush itself (WriteBatcher.writeThen): undefined when it failed.
   * `writes`: the batches to join, this runner's own by default.
   */
  #writeThen<T>(
    operation: () => T,
    then: (value: T | undefined, last?: boolean) => void,
    writes?: WriteBatcher,
  ): void {
    const store = this.#store;
    if (!store || store.closed) {
      then(undefined);
      return;
    }
    (writes ?? store.runnerWrites).writeThen(operation, then, (error: unknown) => {
      process.emitWarning(
        `queue worker ${this.id}: a write to ${store.file} failed: ${String(error)}`,
        'GearshiftWarning',
      );
      then(undefined);
    });
  }
}
