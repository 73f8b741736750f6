/**
 * The backend of a client that has both a local pool and a queue file: foreground jobs go to the one,
 * background jobs and their status to the other, and the two start and stop in the order the runner in
 * between needs (the queue's runner runs its jobs on the pool: it stops first, the pool last).
 */
import type {
  Backend,
  BackgroundRequest,
  FunctionInfo,
  JobControl,
  JobFlows,
  JobListener,
  JobSchedules,
  JobStatus,
  JobTicket,
  SubmitRequest,
} from '../backend.js';
import type { GearshiftError } from '../errors.js';
import type { LocalBackend } from '../local/local-backend.js';

/** A queue file's backend: it has every member that a queue file offers. */
export type QueueSide = Backend &
  Required<Pick<Backend, 'background' | 'finished' | 'start' | 'control' | 'schedules' | 'flows'>>;

/** Whether a handle is a queue file's (`Q:<queue id>:<job id>`; the pool's never start so). */
const isQueueHandle = (handle: string) => handle.startsWith('Q:');

/** Routes a client's calls between its local pool and its queue file. */
export class RoutingBackend implements Backend {
  readonly #pool: LocalBackend;
  readonly #queue: QueueSide;
  #closing: Promise<void> | undefined;

  constructor(pool: LocalBackend, queue: QueueSide) {
    this.#pool = pool;
    this.#queue = queue;
  }

  /** The queue file's: the pool keeps no jobs to control. */
  get control(): JobControl {
    return this.#queue.control;
  }

  /** The queue file's. */
  get schedules(): JobSchedules {
    return this.#queue.schedules;
  }

  /** The queue file's. */
  get flows(): JobFlows {
    return this.#queue.flows;
  }

  manifest(): Promise<readonly FunctionInfo[] | undefined> {
    return this.#pool.manifest();
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    return this.#pool.submit(request, listener);
  }

  background(requests: readonly BackgroundRequest[]): Promise<string[]> {
    return this.#queue.background(requests);
  }

  /** The queue file's: the pool's background jobs are the caller's own promises. */
  finished(handle: string, signal: AbortSignal | undefined): Promise<JobStatus> {
    return this.#queue.finished(handle, signal);
  }

  status(handle: string): Promise<JobStatus> {
    return isQueueHandle(handle) ? this.#queue.status(handle) : this.#pool.status(handle);
  }

  async start(): Promise<void> {
    await this.#queue.start();
    await this.#pool.start();
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#queue.close();
      await this.#pool.close();
    })();
    return this.#closing;
  }

  async destroy(reason: GearshiftError): Promise<void> {
    await this.#queue.destroy(reason);
    await this.#pool.destroy(reason);
  }
}
