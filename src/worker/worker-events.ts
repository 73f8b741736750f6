/** What a worker tells those who listen: its jobs starting and ending, its connections coming and going. */
import { EventEmitter } from 'node:events';

/** The events of a worker, by name. */
export interface WorkerEventMap {
  /**
   * A job began running. Every job that completes, or fails in the pool, gets one before its `jobEnded`;
   * a job measured tiny runs in a batch with others, and its end can overtake the report that it began:
   * it is announced then, just before its end. A job refused, cancelled or given back before it began
   * has only its `jobEnded`.
   */
  jobStarted: { readonly handle: string; readonly functionName: string };
  /** A job ended here: `completed`, `failed` (with the error), or `abandoned` (given back at a stop). */
  jobEnded: {
    readonly handle: string;
    readonly functionName: string;
    readonly outcome: 'completed' | 'failed' | 'abandoned';
    readonly error?: Error;
    /** Milliseconds it ran, from its `jobStarted`; absent when that came only with its end. */
    readonly ms?: number;
  };
  /**
   * A connection to where the jobs come from opened, dropped, or could not be made (a job server; a queue
   * file opens once). `disconnected` carries an `error` when the connection was lost (not closed by the
   * worker); `unreachable` comes once per outage, with why and when the next try is; the `connected`
   * after either is the reconnection.
   */
  connection: {
    readonly source: string;
    readonly state: 'connected' | 'disconnected' | 'unreachable';
    readonly error?: Error;
    /** With `unreachable`: milliseconds until the next try. */
    readonly retryInMs?: number;
  };
  /**
   * A job was refused without running (its input cannot be read, its function is not here, its server
   * sent more than was asked for): its caller is told it failed, where the medium allows.
   */
  refused: {
    readonly handle: string;
    readonly functionName: string;
    readonly source: string;
    readonly error: Error;
  };
  /**
   * A runner of this host was found dead (its process is gone): the jobs it held went back to the queue
   * at once, without waiting out their leases.
   */
  runnerGone: { readonly runner: string; readonly pid: number; readonly host: string; readonly jobs: number };
}

/** A typed EventEmitter of a worker's events. */
export class WorkerEvents {
  readonly #emitter = new EventEmitter();

  on<K extends keyof WorkerEventMap>(type: K, listener: (event: WorkerEventMap[K]) => void): void {
    this.#emitter.on(type, listener);
  }

  off<K extends keyof WorkerEventMap>(type: K, listener: (event: WorkerEventMap[K]) => void): void {
    this.#emitter.off(type, listener);
  }

  emit<K extends keyof WorkerEventMap>(type: K, event: WorkerEventMap[K]): void {
    if (this.#emitter.listenerCount(type) > 0) this.#emitter.emit(type, event);
  }
}
