/**
 * A backend whose code loads on first use. createClient answers at once; the queue file's code (and
 * SQLite's), or Gearman's wire protocol, is compiled only when a job, a status or a start needs it. A
 * process whose client never goes there does not pay for it, and neither does each worker thread whose
 * functions module imports this package: the library's eager part is then the pool and the client.
 * What the backend offers beyond the required members is said up front, because the client looks for
 * it (to refuse what a backend cannot do) before anything is loaded.
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
import { type GearshiftError, JobAbortedError } from '../errors.js';

/** The optional members of Backend that the loaded backend has. */
export interface BackendAbilities {
  readonly background: boolean;
  readonly start: boolean;
  readonly finished: boolean;
  readonly statusOfUnique: boolean;
  readonly control: boolean;
  readonly schedules: boolean;
  readonly flows: boolean;
}

/** What close() and destroy() do when the backend was never loaded (it holds nothing of its own then). */
export interface WhileUnloaded {
  close(): Promise<void>;
  destroy(reason: GearshiftError): Promise<void>;
}

const nothingHeld: WhileUnloaded = { close: async () => {}, destroy: async () => {} };

/** Stands for a backend until its first use, then hands every call to it. */
export class DeferredBackend implements Backend {
  readonly #load: () => Promise<Backend>;
  readonly #unloaded: WhileUnloaded;
  #loading: Promise<Backend> | undefined;
  #loaded: Backend | undefined;
  /** Calls made through `#later` whose turn has not come yet. */
  #queued = 0;
  readonly background?: (requests: readonly BackgroundRequest[]) => Promise<string[]>;
  readonly start?: () => Promise<void>;
  readonly finished?: (handle: string, signal: AbortSignal | undefined) => Promise<JobStatus>;
  readonly statusOfUnique?: (unique: string) => Promise<JobStatus>;
  readonly control?: JobControl;
  readonly schedules?: JobSchedules;
  readonly flows?: JobFlows;

  /**
   * @param load makes the backend, importing its code
   * @param abilities which optional members it has (a test holds each backend to what is said here)
   * @param unloaded what close() and destroy() do if nothing was loaded
   */
  constructor(load: () => Promise<Backend>, abilities: BackendAbilities, unloaded = nothingHeld) {
    this.#load = load;
    this.#unloaded = unloaded;
    // Each call reaches the loaded backend in the same turn as the load's other waiters, in the order
    // made: `pause(f)` and then `close()`, neither awaited, pause first, as when nothing was deferred.
    // Once loaded and no earlier call still waits, a background job goes to the backend in the caller's
    // turn: a serial caller's job would otherwise wait a microtask more, every time.
    if (abilities.background)
      this.background = (requests) => {
        const loaded = this.#ready();
        return loaded
          ? (loaded.background?.(requests) ?? missing('background'))
          : this.#later((b) => b.background?.(requests) ?? missing('background'));
      };
    if (abilities.start) this.start = () => this.#later((b) => b.start?.() ?? missing('start'));
    if (abilities.finished)
      this.finished = (handle, signal) => {
        // Loaded: the caller gets the backend's own promise, resumed as soon as the job's end is told,
        // not two microtasks after (behind whatever the same commit woke).
        const loaded = this.#ready();
        return loaded
          ? (loaded.finished?.(handle, signal) ?? missing('finished'))
          : this.#later((b) => b.finished?.(handle, signal) ?? missing('finished'));
      };
    if (abilities.statusOfUnique)
      this.statusOfUnique = (unique) =>
        this.#later((b) => b.statusOfUnique?.(unique) ?? missing('statusOfUnique'));
    if (abilities.control) {
      const control = <R>(use: (control: JobControl) => Promise<R>) =>
        this.#later((b) => use(b.control ?? missing('control')));
      this.control = {
        cancel: (selector) => control((c) => c.cancel(selector)),
        retry: (selector) => control((c) => c.retry(selector)),
        remove: (selector) => control((c) => c.remove(selector)),
        purge: (request) => control((c) => c.purge(request)),
        pause: (functionName) => control((c) => c.pause(functionName)),
        resume: (functionName) => control((c) => c.resume(functionName)),
        paused: () => control((c) => c.paused()),
      };
    }
    if (abilities.schedules) {
      const schedules = <R>(use: (schedules: JobSchedules) => Promise<R>) =>
        this.#later((b) => use(b.schedules ?? missing('schedules')));
      this.schedules = {
        upsert: (request) => schedules((s) => s.upsert(request)),
        remove: (id) => schedules((s) => s.remove(id)),
        list: () => schedules((s) => s.list()),
      };
    }
    if (abilities.flows) {
      this.flows = {
        flow: (continuation, children) =>
          this.#later((b) => (b.flows ?? missing('flows')).flow(continuation, children)),
      };
    }
  }

  manifest(): Promise<readonly FunctionInfo[] | undefined> {
    return this.#later((backend) => backend.manifest());
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    const loaded = this.#ready();
    if (loaded) return loaded.submit(request, listener);
    let ticket: JobTicket | undefined;
    let detached = false;
    this.#later(
      (backend) => {
        if (!detached) ticket = backend.submit(request, listener);
      },
      (error: unknown) => {
        if (!detached)
          listener.fail(
            new JobAbortedError(
              request.functionName,
              undefined,
              `its backend did not load: ${String(error)}`,
            ),
          );
      },
    );
    return {
      detach: (reason) => {
        detached = true;
        ticket?.detach(reason);
      },
    };
  }

  status(handle: string): Promise<JobStatus> {
    return this.#later((backend) => backend.status(handle));
  }

  close(): Promise<void> {
    if (!this.#loading) return this.#unloaded.close();
    return this.#loading.then(
      (backend) => backend.close(),
      () => this.#unloaded.close(),
    );
  }

  destroy(reason: GearshiftError): Promise<void> {
    if (!this.#loading) return this.#unloaded.destroy(reason);
    return this.#loading.then(
      (backend) => backend.destroy(reason),
      () => this.#unloaded.destroy(reason),
    );
  }

  /** Calls `use` with the backend once it has loaded, after every call made before this one. */
  #later<R>(use: (backend: Backend) => R, failed?: (error: unknown) => R): Promise<Awaited<R>> {
    this.#queued++;
    return this.#backend().then(
      (backend) => {
        this.#queued--;
        return use(backend);
      },
      (error: unknown) => {
        this.#queued--;
        if (failed) return failed(error);
        throw error;
      },
    ) as Promise<Awaited<R>>;
  }

  /** The backend, once it has loaded and no call made before still waits for it: the next may go at once. */
  #ready(): Backend | undefined {
    return this.#queued === 0 ? this.#loaded : undefined;
  }

  #backend(): Promise<Backend> {
    this.#loading ??= this.#load().then((backend) => {
      this.#loaded = backend;
      return backend;
    });
    return this.#loading;
  }
}

function missing(member: string): never {
  throw new Error(`gearshift: the loaded backend has no ${member}, though it was said to`);
}
