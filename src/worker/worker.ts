/**
 * A worker: runs the jobs of a functions module that come from a queue file or from Gearman job servers,
 * on a local thread pool, until stopped. Made by `createWorker`; what `gearshift work` runs.
 */

import { cancel, every, maxTimerMs, type Timer } from '../shared/timers.js';
import type { WorkerEventMap, WorkerEvents } from './worker-events.js';
import type { WorkerHost } from './worker-host.js';

/** Runs a module's jobs for remote callers. */
export class Worker {
  readonly #host: WorkerHost<unknown>;
  readonly #events: WorkerEvents;
  readonly #describe: () => string;
  #functions: string[] = [];
  #started: Promise<void> | undefined;
  #stopped: Promise<void> | undefined;
  /** A worker is a service: from start() to stop() it holds the process open, as a listening server does. */
  #alive: Timer | undefined;

  /** @internal made by createWorker */
  constructor(host: WorkerHost<unknown>, events: WorkerEvents, describe: () => string) {
    this.#host = host;
    this.#events = events;
    this.#describe = describe;
  }

  /** The function names it takes jobs for (once started). */
  get functions(): string[] {
    return [...this.#functions];
  }

  /** Jobs it holds now, running or about to. */
  get running(): number {
    return this.#host.running;
  }

  /** What it runs and for whom, once started: "runs f, g from var/jobs.db", "runs f for 10.0.0.5:4730 as ...". */
  get description(): string {
    return this.#describe();
  }

  /** Listens to its events: `jobStarted`, `jobEnded`, `connection`. */
  on<K extends keyof WorkerEventMap>(type: K, listener: (event: WorkerEventMap[K]) => void): this {
    this.#events.on(type, listener);
    return this;
  }

  off<K extends keyof WorkerEventMap>(type: K, listener: (event: WorkerEventMap[K]) => void): this {
    this.#events.off(type, listener);
    return this;
  }

  /**
   * Loads the functions module (starting the threads), then starts taking jobs: registers with the
   * queue file, or connects to every job server (retrying those that fail).
   */
  start(): Promise<void> {
    this.#started ??= (async () => {
      this.#alive = every(maxTimerMs, () => {});
      try {
        const functions = await this.#host.start();
        this.#functions = functions.map((fn) => fn.name);
      } catch (error) {
        cancel(this.#alive);
        throw error;
      }
    })();
    return this.#started;
  }

  /**
   * Takes no more jobs, lets running ones finish for up to `graceMs`, then aborts the rest and gives
   * them back (to the queue file, without spending an attempt; to gearmand, for another worker), and
   * releases the threads and connections. Safe to call more than once.
   */
  stop(graceMs = 10_000): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#started?.catch(() => {});
      try {
        await this.#host.stop(graceMs);
      } finally {
        cancel(this.#alive);
      }
    })();
    return this.#stopped;
  }

  /** Stops now: running jobs are aborted and given back. */
  destroy(): Promise<void> {
    return this.stop(0);
  }
}
