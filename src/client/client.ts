/**
 * The client: one API over every backend. It checks what callers submit (names, inputs, options) before
 * anything runs, and owns promises, events, timeouts and signals; the backend only queues and runs.
 */
import type {
  Backend,
  BackgroundRequest,
  FlowHandles,
  FunctionInfo,
  JobControl,
  JobSchedules,
  JobSelector,
  JobState,
  JobStatus,
  PayloadMode,
  ScheduleInfo,
  SubmitRequest,
} from '../backend.js';
import {
  ClientClosedError,
  FunctionsModuleError,
  type GearshiftError,
  InvalidOptionError,
  JobAbortedError,
  UnknownFunctionError,
  UnsupportedError,
} from '../errors.js';
import type { AnyFunctionSet, FunctionName, InputOf, ResultOf } from '../functions/types.js';
import { toBuffer } from '../payload/bytes.js';
import { assertJsonInput } from '../payload/json.js';
import { parseDuration } from '../shared/duration.js';
import { IdleLatch } from '../shared/idle-latch.js';
import { checkObject } from '../shared/validate.js';
import type { TelemetryOptions } from '../telemetry/telemetry-options.js';
import { loadTracing, type Tracing } from '../telemetry/tracing.js';
import { type EventRelay, JobCall } from './job-call.js';
import { JobRun } from './job-run.js';
import {
  type BackgroundOptions,
  checkBackgroundOptions,
  checkRunAllOptions,
  checkRunOptions,
  checkSchedule,
  type RunAllOptions,
  type RunOptions,
  type ScheduleOptions,
  type ScheduleWhen,
} from './options.js';
import { type TaskResult, TaskSet } from './task-set.js';

declare const resultType: unique symbol;

/**
 * Tasks of one runAll in flight at once unless its `concurrency` says otherwise: the rest wait their turn
 * as the descriptions the caller gave, so a set of a million tiny tasks takes memory for its inputs and
 * results, not for a million jobs in flight. Enough to keep every thread's batches and a Gearman
 * connection's pipeline full (measured: 1,000,000 tiny tasks in 4.7 s with 1,024, 12.7 s unbounded).
 */
const defaultRunAllWindow = 1024;
/**
 * The default window refills in steps of this many tasks, not one for each that ends: the set keeps
 * between 960 and 1,024 in flight, and a Gearman client sends its new jobs in one write per step rather
 * than one per job (a worker that ends jobs one at a time otherwise costs the client a write each).
 */
const defaultRunAllRefill = 64;

/** A job to run as part of a set, made by `client.task()`. */
export interface Task<R = unknown> {
  readonly functionName: string;
  readonly input: unknown;
  readonly options: RunOptions<R> | undefined;
  /** Carries the result type for `runAll`; never present at run time. */
  readonly [resultType]?: R;
}

/** The arguments after the function name: the input (optional when the function takes none), then options. */
export type RunArguments<S extends AnyFunctionSet, K extends FunctionName<S>> =
  undefined extends InputOf<S, K>
    ? [input?: InputOf<S, K>, options?: RunOptions<ResultOf<S, K>>]
    : [input: InputOf<S, K>, options?: RunOptions<ResultOf<S, K>>];

/** The arguments of a background job after its function name: the input, then options. */
export type BackgroundArguments<S extends AnyFunctionSet, K extends FunctionName<S>> =
  undefined extends InputOf<S, K>
    ? [input?: InputOf<S, K>, options?: BackgroundOptions]
    : [input: InputOf<S, K>, options?: BackgroundOptions];

/** The arguments of a schedule after its function name: the input, then options. */
export type ScheduleArguments<S extends AnyFunctionSet, K extends FunctionName<S>> =
  undefined extends InputOf<S, K>
    ? [input?: InputOf<S, K>, options?: ScheduleOptions]
    : [input: InputOf<S, K>, options?: ScheduleOptions];

/** A background job for {@link Client.backgroundAll}, made by `client.backgroundJob()`. */
export interface BackgroundJob {
  readonly functionName: string;
  readonly input: unknown;
  readonly options: BackgroundOptions | undefined;
}

/** Any task, whatever its result type (the constraint of `runAll`). */
export type AnyTask = Pick<Task, 'functionName' | 'input'> & { readonly options: object | undefined };

/** The result type of a task (a union of them, for a union of tasks). */
export type TaskResultType<T> = T extends Task<infer R> ? R : never;

/** The results of a `runAll`, position by position. */
export type TaskResults<T extends readonly AnyTask[]> = {
  -readonly [I in keyof T]: TaskResult<TaskResultType<T[I]>>;
};

type Lifecycle = 'open' | 'closing' | 'closed';

/** What the client keeps of a call in flight. */
type CallInFlight = Pick<JobCall<unknown>, 'functionName' | 'abandon'>;

/**
 * Submits jobs and waits for them. Made by {@link createClient}; `S` is the type of the functions module's
 * default export, which makes names, inputs and results checked at compile time.
 */
export class Client<S extends AnyFunctionSet = AnyFunctionSet> {
  /** Runs its jobs: a local pool, a queue file, both (routed), a Gearman cluster, or a transport of yours. */
  readonly #backend: Backend;
  /** The backend's functions by name; null when the backend cannot know them; undefined until asked. */
  #functions: ReadonlyMap<string, FunctionInfo> | null | undefined;
  #functionsLoading: Promise<void> | undefined;
  #lifecycle: Lifecycle = 'open';
  readonly #calls = new Set<CallInFlight>();
  #openSets = 0;
  readonly #idle = new IdleLatch();
  #closing: Promise<void> | undefined;
  readonly #callEnded = (call: CallInFlight) => {
    this.#calls.delete(call);
    this.#checkIdle();
  };

  /** The backend's control of its jobs, asked for once; undefined when it keeps none. */
  readonly #control: JobControl | undefined;
  /** Where submissions' spans go, when traced. */
  readonly #tracing: Tracing | undefined;

  /**
   * @param backend what runs the jobs; see {@link createClient} for the usual ways to get one
   * @param options `telemetry`: a span for each submission (see TelemetryOptions)
   */
  constructor(backend: Backend, options: TelemetryOptions = {}) {
    this.#backend = backend;
    this.#control = backend.control;
    this.#tracing = loadTracing(options.telemetry);
  }

  /**
   * Runs one job and waits for its result (Gearman's doNormal). The returned {@link JobRun} is awaitable
   * and async-iterable (for the job's events).
   *
   * @example
   * ```ts
   * const { total } = await gs.run('salesTotal', { dbPath }, { timeout: 5000 });
   * ```
   */
  run<K extends FunctionName<S>>(functionName: K, ...args: RunArguments<S, K>): JobRun<ResultOf<S, K>> {
    const [input, options] = args;
    return new JobRun(this.#start<ResultOf<S, K>>(functionName, input, options, undefined, undefined, true));
  }

  /** Describes a job for {@link Client.runAll}, checked like a `run()` call. Nothing runs yet. */
  task<K extends FunctionName<S>>(functionName: K, ...args: RunArguments<S, K>): Task<ResultOf<S, K>> {
    const [input, options] = args;
    return { functionName, input, options };
  }

  /**
   * Runs many jobs in parallel and waits for all of them (Gearman's addTask + runTasks). Resolves, never
   * rejects, with one {@link TaskResult} per task in input order.
   *
   * @example
   * ```ts
   * const results = await gs.runAll(dbPaths.map((dbPath) => gs.task('salesTotal', { dbPath })));
   * const total = results.reduce((sum, r) => sum + (r.ok ? r.result.total : 0), 0);
   * ```
   */
  runAll<const T extends readonly AnyTask[]>(
    tasks: T,
    options?: RunAllOptions<TaskResultType<T[number]>>,
  ): TaskSet<TaskResults<T>, TaskResultType<T[number]>> {
    if (!Array.isArray(tasks)) throw new InvalidOptionError('tasks', 'an array of client.task(...)', tasks);
    const setOptions = checkRunAllOptions(options);
    if (this.#lifecycle !== 'open') throw this.#closedError('runAll');
    const { priority, timeout } = setOptions;
    const hasDefaults = priority !== undefined || timeout !== undefined;
    this.#openSets++;
    return new TaskSet(
      {
        functionNames: tasks.map((task: AnyTask) => String(task?.functionName)),
        concurrency: setOptions.concurrency ?? defaultRunAllWindow,
        // A window the caller sets is kept full: with a few slow jobs, one slot left empty is costly.
        refill: setOptions.concurrency === undefined ? defaultRunAllRefill : 1,
        signal: setOptions.signal,
        on: setOptions.on,
      },
      (index, relay) => {
        const task = tasks[index] as Task;
        const taskOptions = hasDefaults ? { priority, timeout, ...task.options } : task.options;
        return this.#start(task.functionName, task.input, taskOptions, index, relay, false);
      },
      () => {
        this.#openSets--;
        this.#checkIdle();
      },
    );
  }

  /**
   * Keeps a job to run in the background (Gearman's doBackground) and resolves with its handle once it
   * is safe: committed to the queue file, or accepted by the server. Refused at once, with nothing kept,
   * when the function is unknown or the input cannot be carried.
   *
   * @example
   * ```ts
   * const handle = await gs.background('sendPush', { userIds }, { priority: 'high', unique: `push:${id}` });
   * ```
   */
  async background<K extends FunctionName<S>>(
    functionName: K,
    ...args: BackgroundArguments<S, K>
  ): Promise<string> {
    const [input, options] = args;
    const [handle] = await this.#keep([{ functionName, input, options }], false);
    return handle as string;
  }

  /**
   * Keeps a flow on the queue file: `children` run as background jobs (each with its own options), and
   * `continuation` runs once every one of them has ended (completed, or failed for good, or cancelled), with
   * their outcomes in order as `job.children`. All are kept in one transaction; the continuation is
   * released in the transaction that ends the last child, whichever runner ends it. Resolves with the
   * handles. The continuation's `unique` names the flow: a flow kept with it already (whatever its
   * state, while the file keeps it) is returned instead of a second one, which makes a job that starts
   * a flow safe to run again. Children take no `unique` (one that joined another job would not be the
   * flow's), and the continuation no `runAt` or `delay` (it runs when its last child ends).
   *
   * @example `await gs.flow({ children: dbs.map((db) => gs.backgroundJob('salesReport', { db })), continuation: gs.backgroundJob('total') })`
   */
  async flow(flow: {
    readonly children: readonly BackgroundJob[];
    readonly continuation: BackgroundJob;
  }): Promise<FlowHandles> {
    const flows = this.#backend.flows;
    if (!flows)
      throw new UnsupportedError(
        'flow() keeps a flow in a queue file, which this client has not (give it `queue`; gearmand keeps no flows)',
      );
    if (typeof flow !== 'object' || flow === null || !Array.isArray(flow.children) || !flow.continuation)
      throw new InvalidOptionError(
        'flow',
        '{ children: an array of client.backgroundJob(...), continuation: one }',
        flow,
      );
    const [continuation, ...children] = await this.#backgroundRequests(
      [flow.continuation, ...flow.children],
      (index) => (index === 0 ? 'continuation.options' : `children[${index - 1}].options`),
    );
    const withUnique = children.findIndex((request) => request.unique !== undefined);
    if (withUnique !== -1)
      throw new InvalidOptionError(
        `children[${withUnique}].options.unique`,
        "no unique: a child that joined another job in flight would not be the flow's",
        children[withUnique]?.unique,
      );
    const then = continuation as BackgroundRequest;
    if (then.runAt !== undefined)
      throw new InvalidOptionError(
        'continuation.options',
        'no runAt or delay: a continuation runs when its last child ends',
        flow.continuation.options,
      );
    const span = this.#tracing?.send([then.functionName, ...children.map((child) => child.functionName)]);
    if (!span) return flows.flow(then, children);
    const trace = { traceparent: span.traceparent };
    try {
      const handles = await flows.flow(
        { ...then, ...trace },
        children.map((child) => ({ ...child, ...trace })),
      );
      span.handle(handles.handle);
      span.end();
      return handles;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  /** Describes a background job for {@link Client.backgroundAll}. Nothing is kept yet. */
  backgroundJob<K extends FunctionName<S>>(
    functionName: K,
    ...args: BackgroundArguments<S, K>
  ): BackgroundJob {
    const [input, options] = args;
    return { functionName, input, options };
  }

  /**
   * Keeps many background jobs at once, all or none (one transaction on a queue file), and resolves with
   * their handles in order.
   */
  backgroundAll(jobs: readonly BackgroundJob[]): Promise<string[]> {
    if (!Array.isArray(jobs)) {
      return Promise.reject(new InvalidOptionError('jobs', 'an array of client.backgroundJob(...)', jobs));
    }
    return this.#keep(jobs, true);
  }

  /**
   * The status of a job by handle (Gearman's jobStatus): known, running, numerator, denominator, and
   * on a queue file also its state, attempts, last error, result and times.
   */
  status(handle: string): Promise<JobStatus> {
    if (typeof handle !== 'string' || handle.length === 0) {
      return Promise.reject(new InvalidOptionError('handle', 'a non-empty string', handle));
    }
    return this.#backend.status(handle);
  }

  /**
   * Waits for a background job to end, and resolves with its status then: completed (with `result`),
   * failed for good, dead or cancelled (with `lastError`). Resolves at once for a job that has ended, and
   * with `known: false` for one the file does not hold. It wakes on the commit that ends the job: at
   * once when a runner of this process ran it, within about a millisecond when another process did.
   * A queue file's jobs only (on Gearman a background job's end is seen by no one); `signal` stops
   * the waiting (the job goes on).
   */
  finished(handle: string, options: { readonly signal?: AbortSignal } = {}): Promise<JobStatus> {
    if (typeof handle !== 'string' || handle.length === 0) {
      return Promise.reject(new InvalidOptionError('handle', 'a non-empty string', handle));
    }
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(new InvalidOptionError('signal', 'an AbortSignal', signal));
    }
    if (this.#lifecycle !== 'open') return Promise.reject(this.#closedError('finished'));
    const backend = this.#backend;
    if (!backend.finished) {
      return Promise.reject(
        new UnsupportedError(
          "finished() waits for the end of a queue file's background job; this client has no queue file (Gearman tells no one when a background job ends: poll status(handle))",
        ),
      );
    }
    return backend.finished(handle, signal);
  }

  /**
   * The status of the job in flight with this `unique` (Gearman's GET_STATUS_UNIQUE), with `waiting`,
   * the number of clients waiting on its result: for a job submitted elsewhere, whose handle this
   * process never saw. Only the Gearman backend offers it; others reject with UnsupportedError.
   */
  statusOfUnique(unique: string): Promise<JobStatus> {
    if (typeof unique !== 'string' || unique.length === 0) {
      return Promise.reject(new InvalidOptionError('unique', 'a non-empty string', unique));
    }
    const backend = this.#backend;
    if (!backend.statusOfUnique) {
      return Promise.reject(
        new UnsupportedError(
          'statusOfUnique() looks a job up by its unique on Gearman job servers; this client has none (use status(handle))',
        ),
      );
    }
    return backend.statusOfUnique(unique);
  }

  /**
   * Cancels jobs: a queued one never runs; a running one sees its `signal` abort and ends as
   * `cancelled` (its caller, if any, gets a JobCancelledError). Resolves with how many it cancelled (a
   * job that already ended is left as it is). On a queue file, `{ functionName, state }` cancels every
   * such job in one transaction; on Gearman, a handle: a job still queued at gearmand is dropped, a
   * running one is stopped if a gearshift worker runs it.
   *
   * @example `await gs.cancel(handle)`, `await gs.cancel({ functionName: 'sendPush', state: 'queued' })`
   */
  cancel(selector: JobSelector): Promise<number> {
    return this.#controlled('cancel', (control) => control.cancel(selector));
  }

  /**
   * Puts failed, dead or cancelled jobs back in the queue now, with a fresh set of attempts (they resume
   * from their last checkpoint). A queue file only: gearmand keeps no finished jobs.
   *
   * @example `await gs.retry({ functionName: 'sendPush', state: 'dead' })` (retry every dead sendPush)
   */
  retry(selector: JobSelector): Promise<number> {
    return this.#controlled('retry', (control) => control.retry(selector));
  }

  /** Deletes finished jobs (completed, failed, dead, cancelled). A queue file only. */
  remove(selector: JobSelector): Promise<number> {
    return this.#controlled('remove', (control) => control.remove(selector));
  }

  /**
   * Deletes the finished jobs of `state` (every end state when left out) that finished more than
   * `olderThan` ago: milliseconds, or text such as `'7d'` or `'12h'`. A queue file only.
   *
   * @example `await gs.purge({ state: 'completed', olderThan: '7d' })`
   */
  purge(options: {
    readonly state?: JobState | readonly JobState[];
    readonly olderThan: number | string;
    readonly functionName?: string;
  }): Promise<number> {
    try {
      checkObject('options', options);
      const olderThanMs = parseDuration('options.olderThan', options.olderThan);
      const states =
        options.state === undefined
          ? endStates
          : Array.isArray(options.state)
            ? options.state
            : [options.state];
      const request = { states, olderThanMs, functionName: options.functionName };
      return this.#controlled('purge', (control) => control.purge(request));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Stops taking the function's jobs, which keep queueing, until `resume()`: on a queue file every runner
   * of the file, from its next claim, and the state is kept in the file; on Gearman the gearshift workers
   * connected now, within a round trip (a worker started later has not heard of it).
   */
  pause(functionName: string): Promise<void> {
    return this.#controlled('pause', (control) => control.pause(functionName));
  }

  resume(functionName: string): Promise<void> {
    return this.#controlled('resume', (control) => control.resume(functionName));
  }

  /** The functions paused now (on a queue file). */
  paused(): Promise<string[]> {
    return this.#controlled('paused', (control) => control.paused());
  }

  /**
   * Keeps a schedule in the queue file, by `id` (at most 32 bytes): at each slot of `when`, a background
   * job of `functionName` with `input` is enqueued, with the unique `<id>@<slot as ISO time>`. Each slot
   * is enqueued once however many runner processes share the file, through their deaths and restarts;
   * the file's runners enqueue it, so at least one must be alive (a slot missed meanwhile follows
   * `catchUp`). Keeping it again with the same timing (every process that starts may declare it) keeps
   * its place: no slot repeated, none skipped. Resolves with the schedule and its next slot.
   *
   * @example `await gs.schedule('nightly-report', { cron: '0 2 * * *' }, 'report', { shops }, { tz: 'Europe/Berlin' })`
   */
  async schedule<K extends FunctionName<S>>(
    id: string,
    when: ScheduleWhen,
    functionName: K,
    ...args: ScheduleArguments<S, K>
  ): Promise<ScheduleInfo> {
    const schedules = this.#scheduling('schedule');
    const [input, options] = args;
    const checked = checkSchedule(when, options);
    if (this.#functions === undefined) await this.#loadFunctions();
    const info = this.#functions?.get(functionName);
    if (this.#functions && !info) throw new UnknownFunctionError(functionName, [...this.#functions.keys()]);
    const payload: PayloadMode = info ? info.payload : input instanceof Uint8Array ? 'bytes' : 'json';
    return schedules.upsert({
      id,
      functionName,
      input: checkedInput(functionName, payload, input),
      payload,
      ...checked,
    });
  }

  /** Removes a schedule; false when there was none by that id. Jobs it already enqueued stay. */
  async unschedule(id: string): Promise<boolean> {
    return this.#scheduling('unschedule').remove(id);
  }

  /** The schedules kept in the queue file, each with its next slot. */
  async schedules(): Promise<ScheduleInfo[]> {
    return this.#scheduling('schedules').list();
  }

  #scheduling(action: string): JobSchedules {
    const schedules = this.#backend.schedules;
    if (!schedules)
      throw new UnsupportedError(
        `${action}() keeps schedules in a queue file, which this client has not (give it \`queue\`; a Gearman cluster's jobs can be scheduled from a queue file's runners, not by gearmand)`,
      );
    if (this.#lifecycle !== 'open') throw this.#closedError(action);
    return schedules;
  }

  #controlled<T>(action: string, call: (control: JobControl) => Promise<T>): Promise<T> {
    const control = this.#control;
    if (!control) {
      return Promise.reject(
        new UnsupportedError(
          `${action}() acts on the jobs a queue file or a Gearman cluster keeps; this client has only a local pool, which keeps none (stop a call with its signal)`,
        ),
      );
    }
    try {
      return call(control);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Gets ready without waiting for a first job: starts the threads and loads the functions module in
   * each (so that a server's first request does not wait for them), and starts the runner that drains
   * this client's queue file (so that jobs left from before a restart start now). Optional: without
   * it, all of this happens on first use.
   */
  async start(): Promise<void> {
    await this.#backend.start?.();
  }

  /**
   * Refuses new jobs, lets every job already submitted finish, then releases the backend (threads,
   * connections). Safe to call more than once.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    if (this.#lifecycle === 'open') this.#lifecycle = 'closing';
    this.#closing = (async () => {
      await this.#functionsLoading?.catch(() => {});
      if (this.#calls.size > 0 || this.#openSets > 0) await this.#idle.wait();
      this.#lifecycle = 'closed';
      await this.#backend.close();
    })();
    return this.#closing;
  }

  /** Stops now: every job in flight fails with a ClientClosedError, and the backend is torn down. */
  async destroy(): Promise<void> {
    this.#lifecycle = 'closed';
    for (const call of [...this.#calls]) {
      call.abandon(new ClientClosedError(`${call.functionName} was in flight when the client was destroyed`));
    }
    await this.#backend.destroy(new ClientClosedError('The client was destroyed'));
    this.#checkIdle();
  }

  /**
   * Starts one job: checks what can be checked now, then submits it (at once, or when the backend has
   * described its functions). `task` is the job's index in a runAll set, for error messages.
   */
  #start<R>(
    functionName: string,
    input: unknown,
    rawOptions: RunOptions<R> | undefined,
    task: number | undefined,
    relay: EventRelay<R> | undefined,
    publicCall: boolean,
  ): JobCall<R> {
    let options = noOptions as RunOptions<R>;
    let refusal: GearshiftError | undefined;
    try {
      checkFunctionName(functionName);
      if (rawOptions !== undefined)
        options = checkRunOptions(rawOptions, task === undefined ? 'options' : `tasks[${task}].options`);
    } catch (error) {
      refusal = error as GearshiftError;
    }
    const name = String(functionName);
    const call = new JobCall<R>(name, options.signal, options.on, relay, this.#callEnded);
    this.#calls.add(call);
    if (!refusal && (publicCall ? this.#lifecycle !== 'open' : this.#lifecycle === 'closed')) {
      refusal = this.#closedError(name);
    }
    if (!refusal && options.signal?.aborted)
      refusal = new JobAbortedError(name, undefined, options.signal.reason);
    if (refusal) return this.#refuse(call, refusal);
    if (this.#functions !== undefined) this.#submit(call, input, options);
    else {
      this.#loadFunctions().then(
        () => this.#submit(call, input, options),
        (error: unknown) => call.fail(error as GearshiftError),
      );
    }
    return call;
  }

  #submit<R>(call: JobCall<R>, input: unknown, options: RunOptions<R>): void {
    if (call.ended) return;
    const { functionName } = call;
    const info = this.#functions?.get(functionName);
    // When the backend cannot say (a Gearman server), bytes in means bytes on the wire.
    const payload: PayloadMode = info ? info.payload : input instanceof Uint8Array ? 'bytes' : 'json';
    let copy: unknown;
    try {
      if (this.#functions && !info) throw new UnknownFunctionError(functionName, [...this.#functions.keys()]);
      copy = privateCopy(functionName, payload, input);
    } catch (error) {
      this.#refuse(call, error as GearshiftError);
      return;
    }
    call.timeout = options.timeout ?? info?.timeout;
    call.span = this.#tracing?.call(functionName);
    const request: SubmitRequest = {
      functionName,
      input: copy,
      payload,
      priority: options.priority ?? 'normal',
      unique: options.unique,
      needsStart: call.timeout !== undefined,
      traceparent: call.span?.traceparent,
    };
    call.attach(this.#backend.submit(request, call));
  }

  /** Checks background jobs like foreground ones, then hands them to the background backend together. */
  async #keep(jobs: readonly BackgroundJob[], many: boolean): Promise<string[]> {
    const backend = this.#backend;
    if (!backend.background) {
      throw new UnsupportedError(
        'background jobs need a queue file or a Gearman server; this client has neither (queue: false, or a backend without background jobs)',
      );
    }
    const checked = this.#backgroundRequests(jobs, (index) => (many ? `jobs[${index}].options` : 'options'));
    const requests = Array.isArray(checked) ? checked : await checked;
    const span = this.#tracing?.send(requests.map((request) => request.functionName));
    // Awaited rather than returned: an async function that returns a promise takes two turns more.
    if (!span) return await backend.background(requests);
    const traced = requests.map((request) => ({ ...request, traceparent: span.traceparent }));
    try {
      const handles = await backend.background(traced);
      if (handles.length === 1) span.handle(handles[0] as string);
      span.end();
      return handles;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  /**
   * Checks background jobs as a backend takes them; `where(index)` names a job's options in errors. At
   * once when the functions are known (a serial caller then waits no microtask more per job), after
   * they are loaded otherwise.
   */
  #backgroundRequests(
    jobs: readonly BackgroundJob[],
    where: (index: number) => string,
  ): BackgroundRequest[] | Promise<BackgroundRequest[]> {
    if (this.#lifecycle !== 'open') throw this.#closedError(String(jobs[0]?.functionName ?? 'background'));
    if (this.#functions === undefined)
      return this.#loadFunctions().then(() => this.#checkedBackground(jobs, where));
    return this.#checkedBackground(jobs, where);
  }

  #checkedBackground(jobs: readonly BackgroundJob[], where: (index: number) => string): BackgroundRequest[] {
    const now = Date.now();
    return jobs.map((job, index): BackgroundRequest => {
      const { functionName, input } = job;
      checkFunctionName(functionName);
      // Named only when there are options to check: a bulk call of jobs without any names none.
      const options =
        job.options === undefined
          ? noBackgroundOptions
          : checkBackgroundOptions(job.options, where(index), now);
      const info = this.#functions?.get(functionName);
      if (this.#functions && !info) throw new UnknownFunctionError(functionName, [...this.#functions.keys()]);
      const payload: PayloadMode = info ? info.payload : input instanceof Uint8Array ? 'bytes' : 'json';
      return {
        functionName,
        input: checkedInput(functionName, payload, input),
        payload,
        priority: options.priority ?? 'normal',
        unique: options.unique,
        runAt: options.runAt,
        attempts: options.attempts,
        backoff: options.backoff,
      };
    });
  }

  /** Fails a call on the next microtask, so that callbacks never run inside the caller's own call. */
  #refuse<R>(call: JobCall<R>, error: GearshiftError): JobCall<R> {
    queueMicrotask(() => call.fail(error));
    return call;
  }

  #loadFunctions(): Promise<void> {
    this.#functionsLoading ??= this.#backend.manifest().then(
      (functions) => {
        this.#functions = functions ? new Map(functions.map((fn) => [fn.name, fn])) : null;
      },
      (error: unknown) => {
        throw error instanceof FunctionsModuleError
          ? error
          : new FunctionsModuleError(
              'of this client',
              `could not be described by the backend: ${String(error)}`,
              error,
            );
      },
    );
    return this.#functionsLoading;
  }

  #checkIdle(): void {
    if (this.#calls.size === 0 && this.#openSets === 0) this.#idle.open();
  }

  #closedError(functionName: string): ClientClosedError {
    const how = this.#lifecycle === 'closing' ? 'close()' : 'close() or destroy()';
    return new ClientClosedError(
      `${functionName} was submitted after ${how}: this client takes no more jobs`,
    );
  }
}

/** The states a purge takes when none is given: every end. */
const endStates: readonly JobState[] = ['completed', 'failed', 'dead', 'cancelled'];

/** The options of a call that gave none. */
const noOptions: RunOptions = Object.freeze({});
/** The options of a background job that gave none. */
const noBackgroundOptions: ReturnType<typeof checkBackgroundOptions> = Object.freeze({});

/**
 * Checks an input against its function's payload mode and takes a private copy, so that a caller who
 * changes the object after submitting cannot change the job.
 */
function privateCopy(functionName: string, payload: PayloadMode, input: unknown): unknown {
  const checked = checkedInput(functionName, payload, input);
  if (payload === 'bytes') return typeof input === 'string' ? checked : Buffer.from(checked as Buffer);
  return typeof checked === 'object' && checked !== null ? structuredClone(checked) : checked;
}

/**
 * Refuses a function name that no backend could carry: empty, not a string, or with a NUL (the Gearman
 * protocol's separator, which would otherwise fail the job only once its packet is encoded).
 */
function checkFunctionName(functionName: unknown): asserts functionName is string {
  if (typeof functionName !== 'string' || functionName.length === 0 || functionName.includes('\0'))
    throw new InvalidOptionError('functionName', 'a non-empty string without NUL characters', functionName);
}

/** Checks an input against its function's payload mode: bytes become a Buffer, JSON must be plain data. */
function checkedInput(functionName: string, payload: PayloadMode, input: unknown): unknown {
  if (payload === 'bytes') return toBuffer(functionName, 'input', input);
  assertJsonInput(functionName, input);
  return input;
}
