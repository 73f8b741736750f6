/**
 * The backend seam: the one interface between the client API and whatever runs the jobs. The local
 * thread pool implements it with no special access, and so can a transport written outside this package:
 * pass it as `createClient({ backend })`.
 *
 * The client owns everything a caller sees (validation, promises, events, timeouts, signals); a backend
 * owns where jobs wait and run (queueing, priority, coalescing by `unique`, handles, status).
 */
import type { GearshiftError } from './errors.js';
import type { FlowOutcome } from './functions/flow-outcome.js';
import type { FunctionLimit } from './functions/limit.js';

/** How a function's input and result travel: JSON values (the default) or raw bytes. */
export type PayloadMode = 'json' | 'bytes';

/** Job priority, as Gearman's SUBMIT_JOB_HIGH / SUBMIT_JOB / SUBMIT_JOB_LOW. */
export type Priority = 'high' | 'normal' | 'low';

/** What a backend knows of one function. */
export interface FunctionInfo {
  readonly name: string;
  readonly payload: PayloadMode;
  /** The function's own timeout in milliseconds, when it declares one. */
  readonly timeout?: number | undefined;
  /** How many of its jobs may run at once or start per window, when it declares a limit. */
  readonly limit?: FunctionLimit | undefined;
}

/** A job as the client hands it to a backend, already validated. */
export interface SubmitRequest {
  readonly functionName: string;
  /** A JSON value checked by the client, a Buffer for a bytes function, or undefined for no input. */
  readonly input: unknown;
  readonly payload: PayloadMode;
  readonly priority: Priority;
  /** The caller's key: jobs of the same function and unique that are in flight together run once. */
  readonly unique: string | undefined;
  /**
   * A handle the job already has (a queue's, when a runner hands it on), for the backend to use instead
   * of making one; the handler sees it as `job.handle`.
   */
  readonly handle?: string | undefined;
  /**
   * The caller counts a timeout from the job's start, so wants `started()` promptly. A backend that must
   * ask for it (Gearman has no "started" packet) asks only for such jobs.
   */
  readonly needsStart?: boolean | undefined;
  /**
   * Where the job came from already keeps its function's limit (a queue file's claim counts it across
   * every runner), so a pool that holds limits in memory must not hold it a second time.
   */
  readonly limitKept?: boolean | undefined;
  /** A flow's continuation: how each of its children ended, for `job.children`. */
  readonly children?: readonly FlowOutcome[] | undefined;
  /** The checkpoint an earlier attempt of this job recorded (a worker host's retry), for `job.resumeFrom`. */
  readonly resumeFrom?: unknown;
  /**
   * The trace the job belongs to, as a W3C traceparent (the span that submitted it), when traces are on:
   * a backend carries it to where the job runs, whose span continues the trace.
   */
  readonly traceparent?: string | undefined;
}

/**
 * The key under which jobs coalesce: a job submitted while another of the same function and unique is
 * in flight joins it. Undefined for a job without a unique, which coalesces with nothing.
 */
export function coalescingKey(request: Pick<SubmitRequest, 'functionName' | 'unique'>): string | undefined {
  return request.unique === undefined ? undefined : `${request.functionName}\u0000${request.unique}`;
}

/**
 * Where a backend reports one caller's job. Calls arrive in this order: `created`, then `started`, then
 * any number of `status`/`data`/`warning`, then exactly one of `complete` or `fail` (which may also come
 * first, when the job is refused or lost before it was created or started). The client ignores
 * anything after the end, so a backend need not guard against late reports.
 */
export interface JobListener {
  /** The job was accepted and has a handle. */
  created(handle: string): void;
  /**
   * The job began running; the client counts `timeout` from here. A backend that cannot tell when a job
   * starts reports it at `created`; a job may end without it when it never ran.
   */
  started(): void;
  status(numerator: number, denominator: number): void;
  data(chunk: unknown): void;
  warning(message: string): void;
  /**
   * The handler recorded a checkpoint (a JSON value). Optional: a listener that keeps nothing for a next
   * attempt (a caller waiting on its result) leaves it out.
   */
  checkpoint?(state: unknown): void;
  complete(result: unknown): void;
  /** The job ended without a result; `error` says why (JobFailedError, WorkerCrashedError, ...). */
  fail(error: GearshiftError): void;
}

/** A caller's hold on a submitted job. */
export interface JobTicket {
  /**
   * The caller stops waiting (its timeout elapsed, its signal fired). The backend stops the job when no
   * other caller waits for it: drops it if queued, aborts it if running. It reports nothing more to
   * this caller's listener.
   */
  detach(reason: GearshiftError): void;
}

/** A background job to keep: a job, and when and how often to try it. */
export interface BackgroundRequest extends SubmitRequest {
  /** Not before this time (milliseconds since the epoch), as Gearman's SUBMIT_JOB_EPOCH. */
  readonly runAt: number | undefined;
  /** How many times to try it before it is dead. */
  readonly attempts: number | undefined;
  /** The base of the exponential backoff between attempts, in milliseconds. */
  readonly backoff: number | undefined;
}

/** Where a job is in its life, for backends that keep jobs: from `completed` on, it has ended. */
export type JobState = 'queued' | 'running' | 'completed' | 'failed' | 'dead' | 'cancelled';

/**
 * Gearman's four status fields, as GET_STATUS answers them, and what a backend that keeps its jobs (a
 * queue file) knows besides.
 */
export interface JobStatus {
  readonly handle: string;
  /** Whether the backend knows this handle (a finished foreground job is no longer known). */
  readonly known: boolean;
  readonly running: boolean;
  readonly numerator: number;
  readonly denominator: number;
  readonly state?: JobState;
  readonly functionName?: string;
  /** Attempts made so far (counted when one starts), and allowed. */
  readonly attempts?: number;
  readonly maxAttempts?: number;
  /** Why the last attempt failed. */
  readonly lastError?: { readonly code: string; readonly message: string };
  /** The result, while the backend keeps it. */
  readonly result?: unknown;
  /** The last checkpoint its handler recorded (`job.checkpoint()`), where the backend keeps it. */
  readonly checkpoint?: unknown;
  readonly createdAt?: Date;
  readonly runAt?: Date;
  readonly startedAt?: Date;
  readonly finishedAt?: Date;
  /** Clients waiting on the job's result (Gearman's GET_STATUS_UNIQUE says). */
  readonly waiting?: number;
}

/** Which jobs an operator acts on: a handle, handles, or every job of a function and of some states. */
export type JobSelector = string | readonly string[] | JobFilter;

/** Jobs by function (every function when left out) and state (every state the action takes, when left out). */
export interface JobFilter {
  readonly functionName?: string;
  readonly state?: JobState | readonly JobState[];
}

/** Which finished jobs a purge deletes: of these end states, finished more than `olderThanMs` ago. */
export interface PurgeRequest {
  readonly states: readonly JobState[];
  readonly olderThanMs: number;
  readonly functionName?: string | undefined;
}

/**
 * An operator's control of the jobs a backend keeps: an optional ability of the seam, which the client
 * asks for once. A backend that offers it may refuse some of it with an UnsupportedError that says why
 * (a Gearman cluster keeps no finished jobs to retry or remove). Each resolves with how many jobs it
 * changed; a job not in a state the action takes is left as it is.
 */
export interface JobControl {
  /** A queued job never runs; a running one's `signal` aborts, and it ends as `cancelled`. */
  cancel(selector: JobSelector): Promise<number>;
  /** A failed, dead or cancelled job goes back to the queue now, with a fresh set of attempts. */
  retry(selector: JobSelector): Promise<number>;
  /** A finished job is deleted. */
  remove(selector: JobSelector): Promise<number>;
  /** Finished jobs of these states older than this are deleted. */
  purge(request: PurgeRequest): Promise<number>;
  /** The function's jobs are not taken any more (they keep queueing) until `resume`. */
  pause(functionName: string): Promise<void>;
  resume(functionName: string): Promise<void>;
  /** The functions paused now. */
  paused(): Promise<string[]>;
}

/**
 * The most due slots of a schedule one look enqueues (`catchUp: 'all'`): a schedule every second stopped
 * for a day would otherwise enqueue 86,400 jobs at once.
 */
export const maxCatchUp = 1000;

/** A schedule to keep: its job, and when to enqueue it (checked by the client). */
export interface ScheduleRequest {
  readonly id: string;
  readonly functionName: string;
  /** As in a SubmitRequest: a checked JSON value, a Buffer for a bytes function, or undefined. */
  readonly input: unknown;
  readonly payload: PayloadMode;
  readonly cron: string | undefined;
  readonly tz: string | undefined;
  readonly everyMs: number | undefined;
  /** How many of the slots due at once are enqueued, the latest ones (0: only one on time). */
  readonly catchUp: number;
  readonly priority: Priority;
  readonly attempts: number | undefined;
  readonly backoff: number | undefined;
  /** Where its jobs go: undefined for the file's runners, 'gearman' for `gearshift scheduler` to submit. */
  readonly target: 'gearman' | undefined;
}

/** A schedule as kept, with its next slot. */
export interface ScheduleInfo {
  readonly id: string;
  readonly functionName: string;
  readonly cron?: string;
  readonly tz?: string;
  readonly everyMs?: number;
  readonly catchUp: number;
  readonly priority: Priority;
  /** 'gearman' when a scheduler process submits its jobs to job servers. */
  readonly target?: 'gearman';
  /** The next slot not enqueued yet (milliseconds since the epoch); null when it fires no more. */
  readonly nextAt: number | null;
  /** The last slot enqueued, if any. */
  readonly lastSlot: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * Schedules a backend keeps and enqueues (a queue file): an optional ability of the seam, as control is.
 * Each slot is enqueued once, by whichever of the file's runners comes to it first.
 */
export interface JobSchedules {
  /** Keeps a schedule by id: a new one starts after now; the same timing again keeps its place. */
  upsert(request: ScheduleRequest): Promise<ScheduleInfo>;
  /** Removes a schedule; false when there was none by that id. Its jobs already enqueued stay. */
  remove(id: string): Promise<boolean>;
  list(): Promise<ScheduleInfo[]>;
}

/** The handles of a flow's jobs: its continuation's, and its children's in the order given. */
export interface FlowHandles {
  readonly handle: string;
  readonly children: string[];
}

/**
 * Flows: background jobs (the children) and one more (the continuation) that runs once all of them
 * have ended, with their outcomes. Kept by a queue file, where its runners release the continuation in
 * the transaction that ends the last child.
 */
export interface JobFlows {
  /** Keeps the continuation and its children, all or none; resolves once they are safe. */
  flow(continuation: BackgroundRequest, children: readonly BackgroundRequest[]): Promise<FlowHandles>;
}

/** What runs the jobs: a thread pool, a queue file, a Gearman cluster, or a transport of your own. */
export interface Backend {
  /**
   * The functions this backend runs, or undefined when it cannot know (a Gearman server accepts any
   * name). Called before the first submission; the client caches the answer and refuses unknown names.
   * A rejection (the functions module failed to load, say) is given to every submission.
   */
  manifest(): Promise<readonly FunctionInfo[] | undefined>;
  /** Starts a foreground job; reports go to `listener`. */
  submit(request: SubmitRequest, listener: JobListener): JobTicket;
  /**
   * Keeps background jobs, in one go; resolves with their handles once they are safe (committed).
   * Optional: a backend without it cannot take background jobs.
   */
  background?(requests: readonly BackgroundRequest[]): Promise<string[]>;
  /**
   * Gets ready without waiting for a first job: starts what runs on its own (a runner draining a
   * queue), warms what the first job would wait for (threads started, functions module loaded).
   */
  start?(): Promise<void>;
  /** The status of a job by handle. */
  status(handle: string): Promise<JobStatus>;
  /**
   * Resolves with a background job's status once it has ended (or at once when it has, or is unknown);
   * rejects with the signal's reason if it aborts first. Optional: where jobs' ends can be seen.
   */
  finished?(handle: string, signal: AbortSignal | undefined): Promise<JobStatus>;
  /** The status of the job in flight with this unique (Gearman's GET_STATUS_UNIQUE). Optional. */
  statusOfUnique?(unique: string): Promise<JobStatus>;
  /** Control of the jobs it keeps (cancel, retry, remove, purge, pause), when it offers any. */
  readonly control?: JobControl;
  /** Schedules, when it keeps them. */
  readonly schedules?: JobSchedules;
  /** Flows, when it keeps them. */
  readonly flows?: JobFlows;
  /** Lets every submitted job finish, then releases resources. No submission arrives after this. */
  close(): Promise<void>;
  /** Stops at once: jobs still in flight are failed with `reason`, resources are released. */
  destroy(reason: GearshiftError): Promise<void>;
}
