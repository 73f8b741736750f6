/**
 * The queue backend: jobs kept in a SQLite file, run by any runner that works on the file (this
 * process's own, or `gearshift work` processes). Background jobs are answered with a handle once
 * committed; a foreground job is committed too, and its caller reads its events and its end back from
 * the file, so the runner may be in another process.
 */
import type {
  Backend,
  BackgroundRequest,
  FlowHandles,
  FunctionInfo,
  JobFlows,
  JobListener,
  JobStatus,
  JobTicket,
  PayloadMode,
  SubmitRequest,
} from '../backend.js';
import { ClientClosedError, type GearshiftError, InvalidOptionError, QueueFileError } from '../errors.js';
import type { LocalPool } from '../local/create-local-backend.js';
import { jobErrorFromData, jobErrorToData, parseJobErrorData } from '../payload/job-error.js';
import { IdleLatch } from '../shared/idle-latch.js';
import { cancel, every, maxTimerMs, type Timer } from '../shared/timers.js';
import { WorkerEvents } from '../worker/worker-events.js';
import { WorkerHost } from '../worker/worker-host.js';
import { logWorkerEvents, stderrLog } from '../worker/worker-log.js';
import { JobEnds } from './job-ends.js';
import { toStatus } from './job-status.js';
import { priorityRank } from './priority.js';
import { QueueControl } from './queue-control.js';
import type { Durability } from './queue-options.js';
import type { QueueOrigin } from './queue-origin.js';
import { QueueSchedules } from './queue-schedules.js';
import { QueueSource } from './queue-source.js';
import { QueueStore } from './queue-store.js';
import type { NewJob } from './sql/insert-jobs.js';
import type { JobRow } from './sql/read-jobs.js';
import type { Retention } from './sql/retention.js';
import { inSavepoint } from './sql/savepoint.js';
import { EventKind, flowWaitingAt, State } from './stored-codes.js';
import { fromStored, toStored } from './stored-payload.js';

/** A runner in this process: the local pool it runs jobs on. */
export interface EmbeddedRunner {
  readonly pool: LocalPool;
  /** Whether closing the queue closes that backend too (false when the client shares it). */
  readonly ownsBackend: boolean;
}

/** Options of the queue backend, filled in. */
export interface QueueBackendOptions {
  readonly path: string;
  readonly durability: Durability;
  readonly pollMs: number;
  readonly leaseMs: number;
  readonly retention: Retention;
  /** How long close() lets the runner's running jobs finish before it releases them. */
  readonly shutdownGraceMs: number;
  /** Attempts and backoff of background jobs that set none. */
  readonly attempts: number;
  readonly backoff: number;
  readonly runner: EmbeddedRunner | undefined;
  /**
   * What the client's functions are, when it has them: names are then checked before anything is
   * written. Without them any name is accepted (runners elsewhere know the functions).
   */
  readonly describe: (() => Promise<readonly FunctionInfo[]>) | undefined;
}

/** The callers waiting on one foreground job, and how far they have read its events. */
interface WaitGroup {
  readonly listeners: JobListener[];
  readonly functionName: string;
  readonly payload: PayloadMode;
  lastSeq: number;
  started: boolean;
}

/** When a job runs, and how often it is tried. */
interface JobTiming {
  readonly runAt?: number | undefined;
  readonly attempts?: number | undefined;
  readonly backoff?: number | undefined;
}

/** A foreground job: at once, and one attempt. */
const foregroundTiming: JobTiming = { attempts: 1 };

/** Jobs kept in a SQLite file. */
export class QueueBackend implements Backend {
  readonly #options: QueueBackendOptions;
  #store: QueueStore | undefined;
  /** This process's own worker on the file, sharing the client's pool and connection. */
  #runner: WorkerHost<QueueOrigin> | undefined;
  /** That worker's source: it claims along with this client's writes when it has nothing running. */
  #runnerSource: QueueSource | undefined;
  #runnerStarted: Promise<void> | undefined;
  readonly #waiting = new Map<number, WaitGroup>();
  /** Callers of finished(), once there has been one. */
  #ends: JobEnds | undefined;
  #unsubscribe: (() => void) | undefined;
  #holdOpen: Timer | undefined;
  /** Foreground submissions not yet committed: close() waits for them too. */
  #submitting = 0;
  readonly #idle = new IdleLatch();
  #closing: Promise<void> | undefined;

  constructor(options: QueueBackendOptions) {
    this.#options = options;
  }

  /** Control of the file's jobs (opening it on first use). */
  readonly control: QueueControl = new QueueControl(() => this.#open());

  /** The file's schedules (opening it on first use); its runners enqueue them. */
  readonly schedules: QueueSchedules = new QueueSchedules(
    () => this.#open(),
    () => this.#options,
  );

  /** The file's flows: a continuation and its children kept in one transaction. */
  readonly flows: JobFlows = {
    flow: (continuation, children) => this.#flow(continuation, children),
  };

  /** The file, once opened. */
  get store(): QueueStore | undefined {
    return this.#store;
  }

  async manifest(): Promise<readonly FunctionInfo[] | undefined> {
    return this.#options.describe?.();
  }

  async start(): Promise<void> {
    this.#open();
    await this.#runnerStarted;
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    let id: number | undefined;
    let detached = false;
    let store: QueueStore;
    try {
      store = this.#open();
    } catch (error) {
      queueMicrotask(() => listener.fail(error as GearshiftError));
      return { detach: () => {} };
    }
    this.#submitting++;
    const job = this.#newJob(request, true, foregroundTiming);
    store.writes
      .write(() => store.insertJobs([job], Date.now())[0] as number)
      .then(
        (jobId) => {
          id = jobId;
          if (detached) this.#cancel(jobId, undefined);
          else this.#wait(jobId, request, listener);
        },
        (error: unknown) => listener.fail(asQueueError(store.file, error)),
      )
      .finally(() => {
        this.#submitting--;
        this.#checkIdle();
      });
    this.#runnerSource?.claimAlong(store.writes);
    return {
      detach: (reason) => {
        detached = true;
        if (id !== undefined) this.#stopWaiting(id, listener, reason);
      },
    };
  }

  async background(requests: readonly BackgroundRequest[]): Promise<string[]> {
    const store = this.#open();
    const jobs = requests.map((request) => this.#newJob(request, false, request));
    try {
      const written = store.writes.write(() => store.insertJobs(jobs, Date.now()));
      this.#runnerSource?.claimAlong(store.writes);
      const ids = await written;
      return ids.map((id) => store.handle(id));
    } catch (error) {
      throw asQueueError(store.file, error);
    }
  }

  async #flow(continuation: BackgroundRequest, children: readonly BackgroundRequest[]): Promise<FlowHandles> {
    const store = this.#open();
    const parent: NewJob = {
      ...this.#newJob(continuation, false, continuation),
      childCount: children.length,
      // Out of any claim's reach until its last child ends; at once when it has none.
      ...(children.length > 0 ? { runAt: flowWaitingAt } : {}),
    };
    const kids = children.map((request) => this.#newJob(request, false, request));
    const joining = kids.findIndex((kid) => kid.unique !== null);
    if (joining !== -1)
      throw new InvalidOptionError(
        `children[${joining}].unique`,
        "no unique: a child that joined another job in flight would not be the flow's",
        kids[joining]?.unique,
      );
    try {
      const [parentId, ...childIds] = await store.writes.write(() => {
        // The continuation's unique names the flow: one kept already is the answer.
        const kept =
          parent.unique === null ? undefined : store.flows.named(parent.functionName, parent.unique);
        if (kept) return kept;
        // All or none, within the batch's shared transaction: a child that fails to insert must not
        // leave its continuation waiting for it for ever.
        return inSavepoint(
          store.db,
          () => {
            const now = Date.now();
            // Not coalesced by insertJobs: a flow's continuation is found by the lookup above, in any state.
            const [id] = store.insertJobs([{ ...parent, unique: null }], now) as [number];
            store.flows.name(id, parent.unique);
            return [
              id,
              ...store.insertJobs(
                kids.map((kid) => ({ ...kid, parentId: id })),
                now,
              ),
            ];
          },
          store.counts.snapshot(),
        );
      });
      return { handle: store.handle(parentId as number), children: childIds.map((id) => store.handle(id)) };
    } catch (error) {
      throw asQueueError(store.file, error);
    }
  }

  /**
   * Resolves once the job has ended (see JobEnds); woken by the commit that ends it. Not an async
   * function: the caller awaits JobEnds' own promise, without the two microtasks an async function's
   * return of a promise adds.
   */
  finished(handle: string, signal: AbortSignal | undefined): Promise<JobStatus> {
    if (this.#closing)
      return Promise.reject(new ClientClosedError('finished() was called after the client was closed'));
    let store: QueueStore;
    try {
      store = this.#open();
    } catch (error) {
      return Promise.reject(error);
    }
    const id = store.idOf(handle);
    if (id === undefined)
      return Promise.resolve({ handle, known: false, running: false, numerator: 0, denominator: 0 });
    this.#ends ??= new JobEnds(store);
    return this.#ends.wait(id, signal);
  }

  async status(handle: string): Promise<JobStatus> {
    const store = this.#open();
    const id = store.idOf(handle);
    const row = id === undefined ? undefined : store.readJobs.byId(id);
    if (!row) return { handle, known: false, running: false, numerator: 0, denominator: 0 };
    return toStatus(handle, row);
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#waiting.size > 0 || this.#submitting > 0) await this.#idle.wait();
    await this.#runner?.stop(this.#options.shutdownGraceMs);
    await this.#closeRest();
  }

  async destroy(reason: GearshiftError): Promise<void> {
    for (const [id, group] of [...this.#waiting]) {
      this.#waiting.delete(id);
      this.#cancel(id, reason);
      for (const listener of group.listeners) listener.fail(reason);
    }
    await this.#runner?.stop(0);
    await this.#closeRest(reason);
  }

  async #closeRest(reason?: GearshiftError): Promise<void> {
    this.#ends?.close(reason ?? new ClientClosedError('The client was closed while finished() waited'));
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    cancel(this.#holdOpen);
    this.#holdOpen = undefined;
    const runner = this.#options.runner;
    if (runner?.ownsBackend)
      await (reason ? runner.pool.backend.destroy(reason) : runner.pool.backend.close());
    this.#store?.close();
  }

  /** Opens the file on first use, and starts this process's runner on it. */
  #open(): QueueStore {
    if (this.#store) return this.#store;
    const { path, durability, pollMs } = this.#options;
    this.#store = new QueueStore(path, { durability, pollMs });
    const embedded = this.#options.runner;
    if (embedded) {
      const { leaseMs, retention } = this.#options;
      const store = this.#store;
      const source = new QueueSource({ leaseMs, retention, store: () => store, ownsStore: false });
      this.#runnerSource = source;
      const events = new WorkerEvents();
      logWorkerEvents(events, stderrLog, `gearshift queue runner ${process.pid}`);
      this.#runner = new WorkerHost(embedded.pool, async () => source, events, false);
      this.#runnerStarted = this.#runner.start().then(
        () => {},
        (error: unknown) => {
          process.emitWarning(
            `the queue runner of ${path} did not start: ${String(error)}`,
            'GearshiftWarning',
          );
        },
      );
    }
    return this.#store;
  }

  /** A job as it is written; `how`: when it runs, its attempts and backoff (the options' when not given). */
  #newJob(request: SubmitRequest, foreground: boolean, how: JobTiming): NewJob {
    const now = Date.now();
    return {
      functionName: request.functionName,
      input: toStored(request.input, request.payload),
      unique: request.unique ?? null,
      priority: priorityRank[request.priority],
      foreground,
      runAt: how.runAt ?? now,
      maxAttempts: how.attempts ?? this.#options.attempts,
      backoff: how.backoff ?? this.#options.backoff,
      traceparent: request.traceparent ?? null,
    };
  }

  #wait(id: number, request: SubmitRequest, listener: JobListener): void {
    const store = this.#store as QueueStore;
    listener.created(store.handle(id));
    const group = this.#waiting.get(id);
    if (group) group.listeners.push(listener);
    else {
      this.#waiting.set(id, {
        listeners: [listener],
        functionName: request.functionName,
        payload: request.payload,
        lastSeq: 0,
        started: false,
      });
    }
    this.#unsubscribe ??= store.changes.subscribe(() => this.#poll());
    // A caller is waiting: the process must not end before its job does (the watch and the safety-net
    // timer of the change signal hold nothing open by themselves).
    this.#holdOpen ??= every(maxTimerMs, () => {});
    store.changes.notify();
  }

  #stopWaiting(id: number, listener: JobListener, reason: GearshiftError): void {
    const group = this.#waiting.get(id);
    if (!group) return;
    const index = group.listeners.indexOf(listener);
    if (index !== -1) group.listeners.splice(index, 1);
    if (group.listeners.length > 0) return;
    this.#waiting.delete(id);
    this.#cancel(id, reason);
    this.#checkIdle();
  }

  /** Nobody waits for a foreground job any more: drop it if queued, stop it if running. */
  #cancel(id: number, reason: GearshiftError | undefined): void {
    const store = this.#store;
    if (!store || store.closed) return;
    const error = JSON.stringify(jobErrorToData(reason ?? new Error('its caller stopped waiting')));
    store.writes.write(() => store.cancelJob(id, error, Date.now())).catch(() => {});
  }

  /** Reads, in one snapshot, what the jobs being waited on reported since last time, and passes it on. */
  #poll(): void {
    const store = this.#store;
    if (!store || store.closed || this.#waiting.size === 0) return;
    const found: {
      id: number;
      group: WaitGroup;
      events: ReturnType<QueueStore['events']['after']>;
      row: JobRow | undefined;
    }[] = [];
    store.db.transaction(() => {
      for (const [id, group] of this.#waiting) {
        found.push({
          id,
          group,
          events: store.events.after(id, group.lastSeq),
          row: store.readJobs.byId(id),
        });
      }
    }, 'deferred');
    for (const { id, group, events, row } of found) {
      for (const event of events) {
        group.lastSeq = event.seq;
        deliverEvent(group, event.kind, event.body);
      }
      if (!group.started && row && (row.startedAt !== null || row.state >= State.completed)) {
        group.started = true;
        for (const listener of group.listeners) listener.started();
      }
      if (!row || row.state >= State.completed) this.#finish(id, group, row);
    }
  }

  #finish(id: number, group: WaitGroup, row: JobRow | undefined): void {
    const store = this.#store as QueueStore;
    this.#waiting.delete(id);
    const handle = store.handle(id);
    if (row?.state === State.completed) {
      const result = fromStored(row.result);
      for (const listener of group.listeners) listener.complete(result);
    } else {
      const data = row?.error
        ? parseJobErrorData(row.error)
        : { code: 'ERR_JOB_FAILED', message: 'the job is no longer in the queue file' };
      const error = jobErrorFromData(data, group.functionName, handle);
      for (const listener of group.listeners) listener.fail(error);
    }
    // Its events were for this caller alone.
    store.writes.write(() => store.events.remove(id)).catch(() => {});
    this.#checkIdle();
  }

  #checkIdle(): void {
    if (this.#waiting.size > 0 || this.#submitting > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    cancel(this.#holdOpen);
    this.#holdOpen = undefined;
    this.#idle.open();
  }
}

function deliverEvent(group: WaitGroup, kind: number, body: string | Uint8Array | null): void {
  if (kind === EventKind.status) {
    const [numerator, denominator] = fromStored(body) as [number, number];
    for (const listener of group.listeners) listener.status(numerator, denominator);
  } else if (kind === EventKind.data) {
    const chunk = fromStored(body);
    for (const listener of group.listeners) listener.data(chunk);
  } else if (kind === EventKind.warning) {
    const message = fromStored(body) as string;
    for (const listener of group.listeners) listener.warning(message);
  }
}

function asQueueError(file: string, error: unknown): GearshiftError {
  return error instanceof QueueFileError
    ? error
    : new QueueFileError(file, `refused a write: ${String(error)}`, error);
}
