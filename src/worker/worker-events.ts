/** What a worker tells those who listen: its jobs starting and ending, its connections coming and going. */
import { EventEmitter } from 'node:events';

/** The events of a worker, by name. */
export interface WorkerEventMap {
  /** A job began running on a thread. */
  jobStarted: { readonly handle: string; readonly functionName: string };
  /** A job ended here: `completed`, `failed` (with the error), or `abandoned` (given back at a stop). */
  jobEnded: {
    readonly handle: string;
    readonly functionName: string;
    readonly outcome: 'completed' | 'failed' | 'abandoned';
    readonly error?: Error;
    /** Milliseconds it ran, when it started. */
    readonly ms?: number;
  };
  /** A connection to where the jobs come from opened or dropped (a job server; a queue file opens once). */
  connection: { readonly source: string; readonly state: 'connected' | 'disconnected' };
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
