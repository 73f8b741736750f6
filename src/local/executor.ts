/**
 * What the local scheduler hands batches to: worker threads (the default) or the caller's own thread
 * (inline mode). The scheduler decides what runs and when; an executor only runs and reports.
 */
import type { FunctionInfo } from '../backend.js';
import type { BatchReports } from './batch-runner.js';
import type { JobMessage } from './messages.js';

/** How a batch ended early: its thread died. */
export interface Crash {
  /** Why, for the caller's error message: "its thread called process.exit(3)". */
  readonly reason: string;
  readonly cause: unknown;
}

/**
 * Where an executor reports: per batch `begun` then `ended`, and between them, per job (as a
 * {@link BatchReports}) its events then `done` or `skipped`.
 */
export interface ExecutorReports extends BatchReports {
  /** The batch's first job is starting, on the given thread (may be reported from within `run`). */
  begun(batch: number, thread: number): void;
  /**
   * The batch is over. Without a crash, reports of its jobs may still be on their way (and may come in
   * any order across jobs, never within one); with a crash, every report the thread made has arrived and
   * jobs without an outcome were cut short or never started.
   */
  ended(batch: number, crash: Crash | undefined): void;
}

/** Runs batches of jobs. */
export interface Executor {
  /** How many batches may run at once. */
  readonly slots: number;
  /** Loads the functions module and describes it. */
  manifest(): Promise<FunctionInfo[]>;
  run(batch: number, jobs: readonly JobMessage[]): void;
  /**
   * Holds the process open while `busy`. A thread's reports travel apart from the end of its batch, and
   * the pool lets go of an idle thread as soon as the batch ends, so without this Node could exit with
   * a result still on its way.
   */
  keepAlive(busy: boolean): void;
  /** Asks a job to stop: skipped if it has not started, its signal aborted if it runs. */
  abort(id: number, reason: Error): void;
  /**
   * Stops a thread by force, for a job that ignored its abort. Returns false when that cannot be done
   * (inline mode: the caller's own thread cannot be stopped).
   */
  terminate(thread: number, reason: string): boolean;
  /** Lets running batches finish, then releases the threads. */
  close(): Promise<void>;
  /** Stops everything now. */
  destroy(): Promise<void>;
}
