/**
 * The local backend: a scheduler in the caller's process that queues jobs by priority, coalesces them by
 * `unique`, and hands them in batches to an executor (worker threads, or inline). It implements the
 * public {@link Backend} seam and nothing more, like any transport written outside the package.
 *
 * Batching: jobs of a function whose measured run time is tiny travel several to a message (up to about
 * a millisecond of work per batch), which is what lets many small jobs beat one-task-per-message pools;
 * jobs of unknown or long-running functions travel one to a message, so they spread over every thread.
 */

import type { PayloadMode } from '../backend.js';
import {
  type Backend,
  coalescingKey,
  type FunctionInfo,
  type JobListener,
  type JobStatus,
  type JobTicket,
  type Priority,
  type SubmitRequest,
} from '../backend.js';
import { type GearshiftError, WorkerCrashedError } from '../errors.js';
import type { FlowOutcome } from '../functions/flow-outcome.js';
import { toBuffer } from '../payload/bytes.js';
import { jobErrorFromOutcome } from '../payload/job-error.js';
import { IdleLatch } from '../shared/idle-latch.js';
import { MovingAverage } from '../shared/moving-average.js';
import { after, cancel, type Timer } from '../shared/timers.js';
import type { JobSpan, Tracing } from '../telemetry/tracing.js';
import type { Crash, Executor, ExecutorReports } from './executor.js';
import { JobQueue } from './job-queue.js';
import { LimitGate } from './limit-gate.js';
import type { JobMessage } from './messages.js';

/** Makes the executor, given where it reports and the prefix of job handles. */
export type ExecutorFactory = (reports: ExecutorReports, handlePrefix: string) => Executor;

/** Options of the local scheduler. */
export interface LocalBackendOptions {
  /** How long a running job may ignore its abort before its thread is terminated, in milliseconds. */
  readonly abortGrace: number;
  /** Where each run's span goes, when runs are traced. */
  readonly tracing?: Tracing | undefined;
}

/** A batch holds about this much work, by the measured run time of its functions. */
const batchBudgetMicros = 1000;
/** ...and never more jobs than this, so one message stays small. */
const maxBatchJobs = 512;

/** held: waiting outside the queue for its function's limit to give it a place (limit-gate.ts). */
type ExecutionState = 'queued' | 'held' | 'dispatched' | 'running' | 'ended';

interface BatchState {
  readonly id: number;
  readonly executions: readonly Execution[];
  /** The position of the job running now, or to run next. */
  next: number;
  /** The thread running it, once it has begun. */
  thread: number | undefined;
}

/**
 * One run of a job, shared by every caller that submitted it under the same unique. It is also the job's
 * message to the executor (id, function, input, unique), so dispatching allocates nothing per job.
 */
class Execution implements JobMessage {
  readonly id: number;
  readonly functionName: string;
  readonly input: unknown;
  readonly unique: string | undefined;
  readonly priority: Priority;
  readonly payload: PayloadMode;
  /** The job's handle: the one it came with (a queue's), or the pool's own. */
  readonly handle: string;
  readonly givenHandle: string | undefined;
  readonly resumeFrom: unknown;
  /** A flow's continuation: how its children ended. */
  readonly children: readonly FlowOutcome[] | undefined;
  /** Its source keeps its function's limit (a queue file's claim): the gate lets it by. */
  readonly limitKept: boolean;
  /** The trace it was submitted in (the submitting span's traceparent), if any. */
  readonly parentTrace: string | undefined;
  /** Its run's span, when runs are traced: made when a thread takes it. */
  span: JobSpan | undefined;
  /** The run span's traceparent, which the thread runs the handler in. */
  traceparent: string | undefined;
  /** The key of `unique` coalescing: function and unique. */
  readonly key: string | undefined;
  state: ExecutionState = 'queued';
  listeners: JobListener[];
  numerator = 0;
  denominator = 0;
  batch: BatchState | undefined;
  /** Its position in its batch. */
  batchIndex = 0;
  graceTimer: Timer | undefined;
  /** Its function's limit slot (function and group), once the gate looked at it; undefined when unlimited. */
  slot: string | undefined;
  /** Whether it holds a place in its slot, from its admission to its end. */
  placed = false;
  /**
   * Whether its function has a rate limit: then its thread reports when its handler begins, and its
   * callers hear `started` from that report (a rate counts starts), not from its batch's dispatch.
   */
  rated = false;
  /** Whether its handler began (as seen here), which its limit's rate counts from. */
  begun = false;

  constructor(
    id: number,
    handle: string,
    request: SubmitRequest,
    key: string | undefined,
    listener: JobListener,
  ) {
    this.id = id;
    this.functionName = request.functionName;
    this.input = request.input;
    this.unique = request.unique;
    this.priority = request.priority;
    this.payload = request.payload;
    this.handle = handle;
    this.givenHandle = request.handle;
    this.resumeFrom = request.resumeFrom;
    this.children = request.children;
    this.limitKept = request.limitKept === true;
    this.parentTrace = request.traceparent;
    this.key = key;
    this.listeners = [listener];
  }

  get queued(): boolean {
    return this.state === 'queued';
  }
}

/** One caller's hold on an execution. */
class Subscription implements JobTicket {
  readonly #detachFrom: (execution: Execution, listener: JobListener, reason: GearshiftError) => void;
  readonly #execution: Execution;
  readonly #listener: JobListener;

  constructor(
    detachFrom: (execution: Execution, listener: JobListener, reason: GearshiftError) => void,
    execution: Execution,
    listener: JobListener,
  ) {
    this.#detachFrom = detachFrom;
    this.#execution = execution;
    this.#listener = listener;
  }

  detach(reason: GearshiftError): void {
    this.#detachFrom(this.#execution, this.#listener, reason);
  }
}

let backendCount = 0;
const settled = Promise.resolve();

/** The scheduler behind the local thread pool and the inline mode. */
export class LocalBackend implements Backend {
  readonly #executor: Executor;
  readonly #abortGrace: number;
  readonly #tracing: Tracing | undefined;
  readonly #handlePrefix: string;
  readonly #queue = new JobQueue<Execution>();
  /** Every execution not yet ended, by id. */
  readonly #executions = new Map<number, Execution>();
  readonly #byUnique = new Map<string, Execution>();
  readonly #batches = new Map<number, BatchState>();
  /** Measured run time per function, in microseconds (an exponential moving average). */
  readonly #durations = new Map<string, MovingAverage>();
  /** The same over every function: what a worker host sizes its prefetch by. */
  readonly #allDurations = new MovingAverage();
  #nextId = 0;
  #nextBatch = 0;
  /** Whether a host (a queue runner, a Gearman worker) has more jobs to bring when there is room. */
  #hostDemand = false;
  readonly #roomListeners = new Set<() => void>();
  #dispatchScheduled = false;
  #closed = false;
  #manifest: Promise<FunctionInfo[]> | undefined;
  #knownNames: readonly string[] = [];
  /** The limits of the functions, once the manifest told them (or failed to: then there are none). */
  #limitsKnown = false;
  #gate: LimitGate<Execution> | undefined;
  readonly #idle = new IdleLatch();
  #closing: Promise<void> | undefined;
  /** Submissions whose listener has not yet heard `created`: executions and listeners, pairwise. */
  readonly #unannouncedExecutions: Execution[] = [];
  readonly #unannouncedListeners: JobListener[] = [];
  readonly #detach = (execution: Execution, listener: JobListener, reason: GearshiftError) =>
    this.#detachListener(execution, listener, reason);

  constructor(createExecutor: ExecutorFactory, options: LocalBackendOptions) {
    this.#abortGrace = options.abortGrace;
    this.#tracing = options.tracing;
    this.#handlePrefix = `H:local.${process.pid}.${++backendCount}:`;
    this.#executor = createExecutor(this.#reports(), this.#handlePrefix);
  }

  manifest(): Promise<FunctionInfo[]> {
    this.#manifest ??= this.#executor.manifest().then(
      (functions) => {
        this.#knownNames = functions.map((fn) => fn.name);
        this.#gate = LimitGate.of(functions, (entries) => this.#reopen(entries));
        this.#limitsKnown = true;
        return functions;
      },
      (error: unknown) => {
        this.#limitsKnown = true;
        throw error;
      },
    );
    return this.#manifest;
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    const key = coalescingKey(request);
    const existing = key === undefined ? undefined : this.#byUnique.get(key);
    const execution = existing ?? this.#enqueue(request, key, listener);
    if (existing) existing.listeners.push(listener);
    // Reported by the next dispatch pass, so that a caller always hears of its job after submit returned.
    this.#unannouncedExecutions.push(execution);
    this.#unannouncedListeners.push(listener);
    this.#scheduleDispatch();
    return new Subscription(this.#detach, execution, listener);
  }

  /**
   * Starts the threads and loads the functions module in each, so that the first job waits for neither.
   * A module that fails to load is not an error here: the first job reports it.
   */
  async start(): Promise<void> {
    await this.#executor.warm();
  }

  async status(handle: string): Promise<JobStatus> {
    const execution = handle.startsWith(this.#handlePrefix)
      ? this.#executions.get(Number(handle.slice(this.#handlePrefix.length)))
      : undefined;
    if (!execution) return { handle, known: false, running: false, numerator: 0, denominator: 0 };
    const { state, numerator, denominator } = execution;
    return { handle, known: true, running: state === 'running', numerator, denominator };
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    if (this.#executions.size > 0) await this.#idle.wait();
    await this.#executor.close();
  }

  async destroy(reason: GearshiftError): Promise<void> {
    this.#closed = true;
    this.#gate?.clear();
    this.#queue.drain();
    const executions = [...this.#executions.values()];
    this.#executions.clear();
    this.#byUnique.clear();
    for (const execution of executions) this.#fail(execution, reason);
    await this.#executor.destroy();
  }

  #enqueue(request: SubmitRequest, key: string | undefined, listener: JobListener): Execution {
    if (this.#closed)
      throw new Error('gearshift: submit() after close() (the client should have refused it)');
    const id = ++this.#nextId;
    const execution = new Execution(
      id,
      request.handle ?? `${this.#handlePrefix}${id}`,
      request,
      key,
      listener,
    );
    this.#executions.set(id, execution);
    if (this.#executions.size === 1) this.#executor.keepAlive(true);
    if (key !== undefined) this.#byUnique.set(key, execution);
    this.#queue.push(execution);
    return execution;
  }

  #scheduleDispatch(): void {
    if (this.#dispatchScheduled) return;
    this.#dispatchScheduled = true;
    // One pass per microtask turn: every job submitted in the same synchronous run shares the batches.
    // A resolved promise, not queueMicrotask(), which makes an AsyncResource per call in Node.
    settled.then(this.#dispatchPass);
  }

  readonly #dispatchPass = () => {
    this.#dispatchScheduled = false;
    this.#announce();
    this.#dispatch();
  };

  #announce(): void {
    const executions = this.#unannouncedExecutions;
    const listeners = this.#unannouncedListeners;
    // Only those here now: a listener's callback may submit more, which the next pass announces.
    const count = executions.length;
    for (let index = 0; index < count; index++) {
      const execution = executions[index] as Execution;
      const listener = listeners[index] as JobListener;
      // A caller who already left (or a job already ended) hears nothing more.
      if (!execution.listeners.includes(listener)) continue;
      listener.created(execution.handle);
      if (execution.state === 'running' && (!execution.rated || execution.begun)) listener.started();
    }
    executions.splice(0, count);
    listeners.splice(0, count);
  }

  /**
   * How many jobs this pool runs at once now: its threads' limits, which grow while their jobs wait on
   * I/O (see Lanes). A host sizes what it takes from a queue file or a job server by it.
   */
  get capacity(): number {
    return this.#executor.capacity;
  }

  /**
   * The moving average of recent jobs' handler run times, in milliseconds, as the threads (or the inline
   * runner) timed them; undefined before the first job ran.
   */
  get averageRunMs(): number | undefined {
    const micros = this.#allDurations.value;
    return micros === undefined ? undefined : micros / 1000;
  }

  /** Jobs submitted and not yet ended, queued here or running. */
  get inFlight(): number {
    return this.#executions.size;
  }

  /**
   * Calls `listener` whenever the pool's capacity grew (a thread was found waiting on its jobs), so that
   * a host may bring more jobs. Returns a function that stops the calls.
   */
  onCapacityGrew(listener: () => void): () => void {
    this.#roomListeners.add(listener);
    return () => this.#roomListeners.delete(listener);
  }

  /**
   * A host says whether it has more jobs to bring than the pool has room for; while it does, the pool
   * looks for threads whose jobs wait, and grows its capacity for them.
   */
  setHostDemand(wanted: boolean): void {
    if (wanted === this.#hostDemand) return;
    this.#hostDemand = wanted;
    this.#executor.setDemand(wanted || this.#queue.size > 0);
  }

  #dispatch(): void {
    if (!this.#limitsKnown) {
      // Nothing starts before the limits are known (the client and a worker host ask for the manifest
      // before their first job, so this waits only for a backend used on its own).
      const again = () => this.#scheduleDispatch();
      this.manifest().then(again, again);
      return;
    }
    for (let room = this.#executor.room(); room > 0 && this.#queue.size > 0; room = this.#executor.room()) {
      const executions = this.#takeBatch(room);
      if (!executions) break;
      const batch: BatchState = { id: ++this.#nextBatch, executions, next: 0, thread: undefined };
      for (let index = 0; index < executions.length; index++) {
        const execution = executions[index] as Execution;
        execution.state = 'dispatched';
        execution.batch = batch;
        execution.batchIndex = index;
        if (this.#tracing && !execution.span) {
          execution.span = this.#tracing.process(
            execution.functionName,
            execution.handle,
            execution.parentTrace,
          );
          execution.traceparent = execution.span.traceparent;
        }
      }
      this.#batches.set(batch.id, batch);
      this.#executor.run(batch.id, executions);
    }
    this.#executor.setDemand(this.#hostDemand || this.#queue.size > 0);
  }

  /**
   * The next batch, for `room` free places: jobs measured as tiny share one, the others go alone. Jobs
   * whose limit has no place for them are held on the way; undefined when every queued job was.
   */
  #takeBatch(room: number): Execution[] | undefined {
    let first = this.#queue.shift();
    while (first && !this.#admit(first)) first = this.#queue.shift();
    if (!first) return undefined;
    const batch = [first];
    const estimate = this.#estimate(first);
    if (estimate === undefined) return batch;
    // Spread what is queued over the free places, so that a short burst still uses every thread.
    const limit = Math.min(maxBatchJobs, Math.ceil((this.#queue.size + 1) / room));
    let budget = batchBudgetMicros - estimate;
    while (batch.length < limit) {
      const next = this.#queue.peek();
      const cost = next && this.#estimate(next);
      if (!next || cost === undefined || cost > budget) break;
      this.#queue.shift();
      if (!this.#admit(next)) continue;
      batch.push(next);
      budget -= cost;
    }
    return batch;
  }

  /**
   * Whether the job may start: it has no limit, its source keeps it, it holds a place, or it gets one
   * now; if not, the gate holds it.
   */
  #admit(execution: Execution): boolean {
    const gate = this.#gate;
    if (!gate || execution.placed) return true;
    // A rate-limited job's begin is reported, whoever keeps the limit: a queue file counts from it too.
    execution.rated = gate.rated(execution.functionName);
    if (execution.limitKept) return true;
    const slot = gate.slotOf(execution.functionName, execution.input);
    if (slot === undefined) return true;
    execution.slot = slot;
    if (!gate.admit(execution, slot, Date.now())) {
      execution.state = 'held';
      return false;
    }
    execution.placed = true;
    return true;
  }

  /**
   * Tells the gate that a rate-limited job began (once), and then its callers, unless it ended as it
   * began (`ended`): then, as for any job that ends before its start is reported, its end says both.
   */
  #began(execution: Execution, ended = false): void {
    if (!execution.rated || execution.begun) return;
    execution.begun = true;
    if (execution.placed) this.#gate?.begun(execution.slot as string, Date.now());
    if (ended) return;
    if (execution.state === 'dispatched') execution.state = 'running';
    if (execution.state === 'running') for (const listener of execution.listeners) listener.started();
  }

  /** Held jobs that the gate gave a place: back to the front of the queue, in the order they were held. */
  #reopen(executions: Execution[]): void {
    for (const execution of executions.reverse()) {
      execution.placed = true;
      execution.state = 'queued';
      this.#queue.unshift(execution);
    }
    this.#scheduleDispatch();
  }

  /** The expected run time of a job, or undefined while its function has not been measured. */
  #estimate(execution: Execution): number | undefined {
    const average = this.#durations.get(execution.functionName)?.value;
    return average === undefined ? undefined : Math.max(average, 1);
  }

  #measure(functionName: string, micros: number): void {
    let average = this.#durations.get(functionName);
    if (!average) {
      average = new MovingAverage();
      this.#durations.set(functionName, average);
    }
    average.add(micros);
    this.#allDurations.add(micros);
  }

  #detachListener(execution: Execution, listener: JobListener, reason: GearshiftError): void {
    const index = execution.listeners.indexOf(listener);
    if (index === -1) return;
    execution.listeners.splice(index, 1);
    if (execution.listeners.length > 0) return;
    // Nobody waits any more: a later caller with the same unique must start afresh.
    if (execution.key !== undefined && this.#byUnique.get(execution.key) === execution) {
      this.#byUnique.delete(execution.key);
    }
    if (execution.state === 'queued') {
      this.#queue.dropped();
      this.#drop(execution);
    } else if (execution.state === 'held') {
      this.#gate?.forget(execution, execution.slot as string);
      this.#drop(execution);
    } else if (execution.state === 'dispatched') {
      this.#executor.abort(execution.id, reason);
    } else if (execution.state === 'running') {
      this.#executor.abort(execution.id, reason);
      execution.graceTimer = after(this.#abortGrace, () => this.#terminate(execution));
    }
  }

  #terminate(execution: Execution): void {
    const thread = execution.batch?.thread;
    if (execution.state !== 'running' || thread === undefined) return;
    const { id, handle, functionName } = execution;
    this.#executor.terminate(
      thread,
      `its thread was terminated because job ${handle} (${functionName}) ignored its abort for ${this.#abortGrace} ms`,
      { id, handle, functionName },
    );
  }

  #reports(): ExecutorReports {
    return {
      begun: (batchId, thread) => {
        const batch = this.#batches.get(batchId);
        if (!batch) return;
        batch.thread = thread;
        this.#startNext(batch);
      },
      status: (id, numerator, denominator) => {
        const execution = this.#executions.get(id);
        if (!execution) return;
        execution.numerator = numerator;
        execution.denominator = denominator;
        for (const listener of execution.listeners) listener.status(numerator, denominator);
      },
      data: (id, chunk) => {
        const execution = this.#executions.get(id);
        if (!execution) return;
        const value = this.#fromPayload(execution, chunk);
        for (const listener of execution.listeners) listener.data(value);
      },
      warning: (id, message) => {
        const execution = this.#executions.get(id);
        if (execution) for (const listener of execution.listeners) listener.warning(message);
      },
      checkpoint: (id, state) => {
        const execution = this.#executions.get(id);
        if (execution) for (const listener of execution.listeners) listener.checkpoint?.(state);
      },
      done: (id, micros, outcome) => {
        const execution = this.#executions.get(id);
        if (!execution) return;
        if (outcome.ok || outcome.origin === 'handler') this.#measure(execution.functionName, micros);
        // A batch's last result can overtake the reports of the jobs before it: it ran all the same.
        this.#began(execution, true);
        this.#advance(execution);
        if (outcome.ok) this.#complete(execution, this.#fromPayload(execution, outcome.value));
        else {
          const { functionName, handle } = execution;
          const failure = { origin: outcome.origin, thrown: outcome.thrown, known: this.#knownNames };
          this.#fail(execution, jobErrorFromOutcome(failure, functionName, handle));
        }
      },
      handlerBegan: (id) => {
        const execution = this.#executions.get(id);
        if (execution) this.#began(execution);
      },
      skipped: (id) => {
        const execution = this.#executions.get(id);
        if (!execution) return;
        this.#advance(execution);
        this.#drop(execution);
      },
      ended: (batchId, crash) => {
        const batch = this.#batches.get(batchId);
        if (!batch) return;
        this.#batches.delete(batchId);
        if (crash) this.#recover(batch, crash);
        if (this.#queue.size > 0) this.#scheduleDispatch();
      },
      roomGrew: () => {
        if (this.#queue.size > 0) this.#scheduleDispatch();
        for (const listener of this.#roomListeners) listener();
      },
    };
  }

  /** Marks the batch's next job as running; it starts when the one before it ends. */
  #startNext(batch: BatchState): void {
    const execution = batch.executions[batch.next];
    if (execution?.state !== 'dispatched') return;
    execution.state = 'running';
    if (!execution.rated) for (const listener of execution.listeners) listener.started();
  }

  /** Moves the batch past a job that ended (the last one's result can overtake the others'). */
  #advance(execution: Execution): void {
    const batch = execution.batch;
    if (!batch || execution.batchIndex < batch.next) return;
    batch.next = execution.batchIndex + 1;
    if (batch.thread !== undefined) this.#startNext(batch);
  }

  /**
   * After a crash every report the thread made has arrived (Node delivers a dead thread's messages
   * before its exit), so the job still running is the one that was cut short and the ones after it
   * never started: those go back to the front of the queue, in order.
   */
  #recover(batch: BatchState, crash: Crash): void {
    const requeue: Execution[] = [];
    for (const execution of batch.executions) {
      if (execution.state === 'running') {
        const { functionName, handle } = execution;
        const culprit = crash.culprit?.id === execution.id ? undefined : crash.culprit;
        const reason = culprit
          ? `job ${culprit.handle} (${culprit.functionName}) took down the thread they shared: ${crash.reason}`
          : crash.reason;
        this.#fail(
          execution,
          new WorkerCrashedError(functionName, handle, reason, crash.cause, culprit?.handle),
        );
      } else if (execution.state === 'dispatched') {
        if (execution.listeners.length === 0) this.#drop(execution);
        else requeue.push(execution);
      }
    }
    for (const execution of requeue.reverse()) {
      execution.state = 'queued';
      execution.batch = undefined;
      this.#queue.unshift(execution);
    }
  }

  #fromPayload(execution: Execution, value: unknown): unknown {
    // A Buffer crosses a thread as a plain Uint8Array; give bytes functions' callers their Buffer back.
    return execution.payload === 'bytes' ? toBuffer(execution.functionName, 'result', value) : value;
  }

  /** Ends an execution with its result and tells its callers. */
  #complete(execution: Execution, value: unknown): void {
    for (const listener of this.#finish(execution)) listener.complete(value);
  }

  /** Ends an execution without a result and tells its callers why. */
  #fail(execution: Execution, error: GearshiftError): void {
    for (const listener of this.#finish(execution, error)) listener.fail(error);
  }

  /** Ends an execution that nobody waits for any more. */
  #drop(execution: Execution): void {
    this.#finish(execution);
  }

  /** The bookkeeping of an ending: returns the listeners still waiting, who are told by the caller. */
  #finish(execution: Execution, error?: GearshiftError): readonly JobListener[] {
    if (execution.placed) {
      execution.placed = false;
      this.#gate?.release(execution.slot as string, execution.begun, Date.now());
    }
    execution.state = 'ended';
    cancel(execution.graceTimer);
    execution.span?.end(error);
    this.#executions.delete(execution.id);
    if (execution.key !== undefined && this.#byUnique.get(execution.key) === execution) {
      this.#byUnique.delete(execution.key);
    }
    const listeners = execution.listeners;
    execution.listeners = [];
    if (this.#executions.size === 0) {
      this.#executor.keepAlive(false);
      this.#idle.open();
    }
    return listeners;
  }
}
