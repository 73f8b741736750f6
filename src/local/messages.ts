/**
 * The messages between the main thread and a worker thread of the local pool. Jobs travel in batches on
 * the thread's own port, and what a batch reports comes back on that port, in order, so a job's events
 * can never overtake its result.
 */
import type { MessagePort } from 'node:worker_threads';
import type { FunctionInfo } from '../backend.js';
import type { FlowOutcome } from '../functions/flow-outcome.js';
import type { FailureOrigin } from '../payload/job-error.js';
import type { SerializedError } from '../payload/remote-error.js';

/** What a worker thread is started with. */
export interface ThreadData {
  /** The thread's entry module (`thread-entry`), as a file URL, for `thread-loader.cjs` to import. */
  readonly entry: string;
  /** The functions module, as a file URL. */
  readonly functionsModule: string;
  /** The BroadcastChannel on which the main thread sends aborts. */
  readonly abortChannel: string;
  /** The handle prefix: a job's handle is the prefix followed by its id. */
  readonly handlePrefix: string;
}

/** One job of a batch. */
export interface JobMessage {
  readonly id: number;
  readonly functionName: string;
  readonly input: unknown;
  readonly unique?: string | undefined;
  /** The handle the job came with (a queue's), which the handler sees instead of the pool's own. */
  readonly givenHandle?: string | undefined;
  /** The checkpoint an earlier attempt recorded, which the handler sees as `job.resumeFrom`. */
  readonly resumeFrom?: unknown;
  /** A flow's continuation: how its children ended, which the handler sees as `job.children`. */
  readonly children?: readonly FlowOutcome[] | undefined;
  /** The traceparent of the job's run span, when traced: the handler runs in its context. */
  readonly traceparent?: string | undefined;
}

/**
 * A batch of jobs to run one after another. It travels flat,
 * `[batch, id, functionName, input, unique, givenHandle, resumeFrom, traceparent, children, id, ...]`,
 * because every object on the way is a cost of structured cloning, paid once per message and felt most
 * when jobs go one at a time.
 */
export type BatchTask = readonly [batch: number, ...fields: unknown[]];

const fieldsPerJob = 8;

/** Flattens a batch for the trip to a thread. */
export function encodeBatch(batch: number, jobs: readonly JobMessage[]): BatchTask {
  const task: [number, ...unknown[]] = [batch];
  for (const job of jobs)
    task.push(
      job.id,
      job.functionName,
      job.input,
      job.unique,
      job.givenHandle,
      job.resumeFrom,
      job.traceparent,
      job.children,
    );
  return task;
}

/** Reads a flattened batch back into its jobs. */
export function decodeBatch(task: BatchTask): JobMessage[] {
  const jobs: JobMessage[] = [];
  for (let field = 1; field < task.length; field += fieldsPerJob) {
    jobs.push({
      id: task[field] as number,
      functionName: task[field + 1] as string,
      input: task[field + 2],
      unique: task[field + 3] as string | undefined,
      givenHandle: task[field + 4] as string | undefined,
      resumeFrom: task[field + 5],
      traceparent: task[field + 6] as string | undefined,
      children: task[field + 7] as readonly FlowOutcome[] | undefined,
    });
  }
  return jobs;
}

/** What the manifest task (piscina's, the one it still carries) answers: the functions, or why the module would not load. */
export type ManifestAnswer =
  | { readonly ok: true; readonly functions: readonly FunctionInfo[] }
  | { readonly ok: false; readonly error: SerializedError };

/**
 * A thread's first message, on parentPort: its own port, on which batches come and reports go from then
 * on. Not parentPort, because piscina re-emits parentPort messages through an async resource, a cost
 * per message.
 */
export interface ReportPortHandshake {
  readonly reportPort: MessagePort;
  readonly thread: number;
  /**
   * One Int32 the thread keeps up to date: how many of its batches are in progress across turns of its
   * event loop (their jobs await something). The main thread reads it without a message; see Lanes.
   */
  readonly awaiting: SharedArrayBuffer;
}

/**
 * A thread's message on its report port once its functions module has loaded (or failed to): from then
 * on an idle event loop there means its jobs wait.
 */
export interface ThreadReady {
  readonly t: 'ready';
  readonly thread: number;
}

/**
 * A thread's last message, when a job takes it down (process.exit(), an error thrown outside any
 * handler): the job whose code was running, so that the others on the thread are known to be innocent.
 */
export interface ThreadCulprit {
  readonly t: 'culprit';
  readonly thread: number;
  readonly job: CrashCulprit;
}

/** The job that took a thread down. */
export interface CrashCulprit {
  /** Its id in the pool. */
  readonly id: number;
  readonly handle: string;
  readonly functionName: string;
}

/** Reports from a worker thread, posted on its report port, in the order they happen. */
export type ThreadReport =
  | ThreadReady
  | ThreadCulprit
  | { readonly t: 'status'; readonly id: number; readonly numerator: number; readonly denominator: number }
  | { readonly t: 'data'; readonly id: number; readonly chunk: unknown }
  | { readonly t: 'warning'; readonly id: number; readonly message: string }
  | { readonly t: 'checkpoint'; readonly id: number; readonly state: unknown }
  | { readonly t: 'began'; readonly id: number }
  | {
      readonly t: 'done';
      readonly id: number;
      readonly micros: number;
      readonly ok: true;
      readonly value: unknown;
    }
  | {
      readonly t: 'done';
      readonly id: number;
      readonly micros: number;
      readonly ok: false;
      readonly origin: FailureOrigin;
      readonly error: SerializedError;
    }
  /** The job was aborted before it started and did not run. */
  | { readonly t: 'skipped'; readonly id: number }
  /** The batch ended: every job of it has reported, the last one's success possibly in `tail`. */
  | { readonly t: 'end'; readonly batch: number; readonly tail: TailAnswer | undefined };

/** The last job's successful result, carried by its batch's end: [job id, micros, value]. */
export type TailAnswer = readonly [id: number, micros: number, value: unknown];

/** Sent by the main thread on the abort channel: stop this job. */
export interface AbortMessage {
  readonly id: number;
  readonly reason: SerializedError;
}
