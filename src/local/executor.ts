/**
 * What the local scheduler hands batches to: worker threads (the default) or the caller's own thread
 * (inline mode). The scheduler decides what runs and when; an executor only runs and reports.
 */
import type { FunctionInfo } from '../backend.js';
import type { BatchReports } from './batch-runner.js';
import type { CrashCulprit, JobMessage } from './messages.js';

/** How a batch ended early: its thread died. */
export interface Crash {
  /** Why, for the caller's error message: "its thread called process.exit(3)". */
  readonly reason: string;
  readonly cause: unknown;
  /** The job that took the thread down, when it is known; every other job on the thread is innocent. */
  readonly culprit?: CrashCulprit | undefined;
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
  /** More batches may start than `room()` said: a lane was found waiting on its jobs. */
  roomGrew(): void;
}

/** Runs batches of jobs, on lanes (threads, or the caller's own thread) that each take some at once. */
export interface Executor {
  /** How many more batches may start now. */
  room(): number;
  /** How many batches the lanes run at once now (what a host sizes the work it takes by). */
  readonly capacity: number;
  /** Whether batches wait for room: while so, lanes are looked at for room to grow (see Lanes). */
  setDemand(wanted: boolean): void;
  /** Loads the functions module and describes it. */
  manifest(): Promise<FunctionInfo[]>;
  /** Starts every lane and loads the functions module in each; resolves when all have. */
  warm(): Promise<void>;
  run(batch: number, jobs: readonly JobMessage[]): void;
  /**
   * Holds the process open while `busy`. Threads and their ports hold nothing open (an idle pool must
   * not keep a process alive), so without this Node could exit with a result still on its way.
   */
  keepAlive(busy: boolean): void;
  /** Asks a job to stop: skipped if it has not started, its signal aborted if it runs. */
  abort(id: number, reason: Error): void;
  /**
   * Stops a thread by force, for a job that ignored its abort. Returns false when that cannot be done
   * (inline mode: the caller's own thread cannot be stopped).
   */
  terminate(thread: number, reason: string, culprit: CrashCulprit): boolean;
  /** Lets running batches finish, then releases the threads. */
  close(): Promise<void>;
  /** Stops everything now. */
  destroy(): Promise<void>;
}
