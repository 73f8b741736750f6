/**
 * Runs batches on a piscina pool of worker threads. Piscina owns the threads (start, crash, replace,
 * resource limits); this file adds the routes around it: reports from each thread on a port of its own,
 * aborts to threads on a BroadcastChannel, and the reading of why a thread died.
 */
import { createRequire } from 'node:module';
import {
  BroadcastChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  type Worker,
} from 'node:worker_threads';
import type { Piscina, PiscinaTask } from 'piscina';
import type { FunctionInfo } from '../backend.js';
import { FunctionsModuleError } from '../errors.js';
import { nodeStripsTypes } from '../functions/typescript-imports.js';
import { deserializeError, serializeError } from '../payload/remote-error.js';
import type { Crash, Executor, ExecutorReports } from './executor.js';
import { Lanes } from './lanes.js';
import {
  type BatchTask,
  type CrashCulprit,
  encodeBatch,
  type JobMessage,
  type ManifestAnswer,
  type ReportPortHandshake,
  type TailAnswer,
  type TaskMessage,
  type ThreadData,
  type ThreadReport,
} from './messages.js';

/** A thread as piscina's load balancer sees it. */
type PiscinaWorker = Parameters<
  NonNullable<NonNullable<ConstructorParameters<typeof Piscina>[0]>['loadBalancer']>
>[1][number];

/** Options of the thread pool. */
export interface ThreadExecutorOptions {
  /** The functions module, as a file URL. */
  readonly functionsModule: URL;
  readonly threads: number;
  /** Batches one thread runs at once; undefined for the adaptive default (see Lanes). */
  readonly concurrency: number | undefined;
  /** With the adaptive default, the most batches one thread runs at once. */
  readonly maxConcurrency: number;
  readonly resourceLimits: ResourceLimits | undefined;
}

let executorCount = 0;

/** Runs batches on worker threads. */
export class ThreadExecutor implements Executor {
  readonly #options: ThreadExecutorOptions;
  readonly #lanes: Lanes;
  readonly #reports: ExecutorReports;
  readonly #handlePrefix: string;
  /** Unique in this process, which is all a BroadcastChannel's name must be. */
  readonly #channelName = `gearshift-abort-${process.pid}-${++executorCount}`;
  /** Made on first use: creating a client starts no threads. */
  #pool: Piscina | undefined;
  #channel: BroadcastChannel | undefined;
  /** Which thread runs which batch, to explain a crash (set by the load balancer). */
  readonly #batchThreads = new Map<number, number>();
  /** Each live thread's report port. */
  readonly #reportPorts = new Set<MessagePort>();
  readonly #routeReport = (message: ThreadReport) => this.#route(message);
  /** Threads this executor terminated, and why. */
  readonly #terminated = new Map<number, { reason: string; culprit: CrashCulprit }>();
  /** Each thread's count of batches in progress across turns (see ReportPortHandshake), by thread. */
  readonly #awaiting = new Map<number, Int32Array>();
  /** The job a dead thread named as the one that took it down, by thread. */
  readonly #culprits = new Map<number, CrashCulprit>();
  #busy = false;
  /** Waits (a manifest, a warm-up) that hold the process open besides the jobs in flight. */
  #holds = 0;

  constructor(options: ThreadExecutorOptions, reports: ExecutorReports, handlePrefix: string) {
    this.#options = options;
    this.#reports = reports;
    this.#handlePrefix = handlePrefix;
    this.#lanes = new Lanes({
      fixed: options.concurrency,
      cap: options.maxConcurrency,
      roomGrew: () => reports.roomGrew(),
    });
  }

  room(): number {
    // Before the first batch no thread exists yet: each will take what a lane starts with.
    return this.#pool ? this.#lanes.room() : this.#options.threads * (this.#options.concurrency ?? 1);
  }

  get capacity(): number {
    return this.#pool ? this.#lanes.capacity : this.#options.threads * (this.#options.concurrency ?? 1);
  }

  setDemand(wanted: boolean): void {
    this.#lanes.setDemand(wanted);
  }

  async manifest(): Promise<FunctionInfo[]> {
    const pool = this.#ensurePool();
    const answer = (await this.#holdOpen(pool.run('manifest' satisfies TaskMessage))) as ManifestAnswer;
    if (answer.ok) return [...answer.functions];
    const cause = deserializeError(answer.error);
    const problem = (cause as { problem?: unknown }).problem;
    throw new FunctionsModuleError(
      this.#options.functionsModule.href,
      typeof problem === 'string' ? problem : `failed to load: ${cause.message}`,
      cause,
    );
  }

  async warm(): Promise<void> {
    this.#ensurePool();
    await this.#holdOpen(this.#lanes.readyCount(this.#options.threads));
  }

  run(batch: number, jobs: readonly JobMessage[]): void {
    // The batch number rides under piscina's queue-options symbol, which structured cloning leaves
    // behind: it is for the load balancer below, which learns from it which thread took which batch.
    const task = encodeBatch(batch, jobs) as BatchTask & { [key: symbol]: number };
    task[piscina().queueOptionsSymbol] = batch;
    this.#ensurePool()
      .run(task)
      .then(
        (tail: TailAnswer | undefined) => {
          if (tail) this.#reports.done(tail[0], tail[1], { ok: true, value: tail[2] });
          this.#ended(batch, undefined);
        },
        (error: unknown) => {
          this.#drainReports();
          if (this.#pool) this.#dropDeadLanes(this.#pool);
          this.#ended(batch, this.#crash(batch, error));
        },
      );
  }

  keepAlive(busy: boolean): void {
    this.#busy = busy;
    this.#refer();
  }

  /**
   * Holds the process open until `waiting` settles: threads and their ports hold nothing open, and a
   * process that awaits the module's description or a warm-up alone must not exit meanwhile.
   */
  async #holdOpen<T>(waiting: Promise<T>): Promise<T> {
    this.#holds++;
    this.#refer();
    try {
      return await waiting;
    } finally {
      this.#holds--;
      this.#refer();
    }
  }

  /** The abort channel is the handle at hand: referenced, it keeps the event loop alive. */
  #refer(): void {
    if (this.#busy || this.#holds > 0) this.#channel?.ref();
    else this.#channel?.unref();
  }

  abort(id: number, reason: Error): void {
    this.#channel?.postMessage({ id, reason: serializeError(reason) });
  }

  terminate(thread: number, reason: string, culprit: CrashCulprit): boolean {
    const worker = this.#pool?.threads.find((candidate) => candidate.threadId === thread);
    if (!worker) return false;
    this.#terminated.set(thread, { reason, culprit });
    // Piscina sees the exit, fails the thread's tasks (this.#crash explains them) and starts a new thread.
    void worker.terminate();
    return true;
  }

  async close(): Promise<void> {
    this.#lanes.close();
    await this.#pool?.close();
    this.#channel?.close();
  }

  async destroy(): Promise<void> {
    this.#lanes.close();
    await this.#pool?.destroy();
    this.#channel?.close();
  }

  #ensurePool(): Piscina {
    if (this.#pool) return this.#pool;
    const { threads, resourceLimits, functionsModule } = this.#options;
    const workerData: ThreadData = {
      entry: threadEntry.href,
      functionsModule: functionsModule.href,
      abortChannel: this.#channelName,
      handlePrefix: this.#handlePrefix,
    };
    this.#channel = new BroadcastChannel(this.#channelName);
    this.#refer();
    const pool = new (piscina())({
      filename: threadFile.href,
      minThreads: threads,
      maxThreads: threads,
      concurrentTasksPerWorker: this.#lanes.cap,
      loadBalancer: (task, workers) => this.#balance(task, workers),
      idleTimeout: Number.POSITIVE_INFINITY,
      // Between tasks piscina's threads wait on Atomics; 'sync' (its default) blocks the thread's event
      // loop meanwhile, so what a finished job left behind (a socket's close, a connection pool's
      // timers, a keep-alive) would not move until the next task came. 'async' waits without blocking.
      atomics: 'async',
      workerData,
      ...(resourceLimits ? { resourceLimits } : {}),
      ...(threadExecArgv ? { execArgv: threadExecArgv } : {}),
    });
    pool.on('message', (message: ReportPortHandshake) => this.#attach(message));
    // A thread that replaces a dead one is a lane once piscina takes tasks for it (when it is ready).
    pool.on('workerCreate', (created: PiscinaWorker) => {
      const worker = pool.threads.find((candidate) => candidate.threadId === created.id);
      if (worker && this.#addLane(worker)) this.#reports.roomGrew();
    });
    pool.on('workerDestroy', () => this.#dropDeadLanes(pool));
    // A thread that dies between tasks (a stray timer throwing) has no task to fail; piscina replaces it.
    pool.on('error', (error: Error) => {
      process.emitWarning(
        `a worker thread died while idle: ${error.name}: ${error.message}`,
        'GearshiftWarning',
      );
    });
    // The first threads take tasks at once (piscina queues them in their ports until they are ready).
    for (const worker of pool.threads) this.#addLane(worker);
    this.#pool = pool;
    return pool;
  }

  #addLane(worker: Worker): boolean {
    const id = worker.threadId;
    return this.#lanes.add(id, {
      loop: () => worker.performance.eventLoopUtilization(),
      awaiting: () => {
        const counter = this.#awaiting.get(id);
        return counter ? Atomics.load(counter, 0) : 0;
      },
    });
  }

  /** Drops the lanes of threads that have exited (an exited thread's id reads -1). */
  #dropDeadLanes(pool: Piscina): void {
    this.#lanes.retain(new Set(pool.threads.map((worker) => worker.threadId).filter((id) => id >= 0)));
  }

  /**
   * Chooses the thread of a batch, as the lanes say (the one with room and the fewest batches), here
   * so that the thread a batch goes to is known the moment it goes: the batch starts there and then,
   * since this executor never sends more batches than there is room for. Knowing it without a message
   * from the thread saves one per batch. The manifest task goes to any thread.
   *
   * It never leaves a batch to piscina's own queue while a thread is there: piscina offers queued tasks
   * again only when a thread becomes free by its own count, which runs a turn ahead of the lanes' (they
   * hear of a batch's end when its promise settles), so a task left there could wait for ever. When the
   * lanes have no room (room was counted for a thread that has just died), the least loaded one takes it.
   */
  #balance(task: PiscinaTask, workers: PiscinaWorker[]): PiscinaWorker | null {
    const batch = (task as PiscinaTask & { readonly [key: symbol]: unknown })[piscina().queueOptionsSymbol];
    if (typeof batch !== 'number') return workers[0] ?? null;
    const ids = workers.map((worker) => worker.id);
    const thread = this.#lanes.take(ids) ?? this.#lanes.force(ids);
    const chosen = workers.find((worker) => worker.id === thread);
    if (thread === undefined || !chosen) return null;
    this.#batchThreads.set(batch, thread);
    this.#reports.begun(batch, thread);
    return chosen;
  }

  #attach({ reportPort: port, thread, awaiting }: ReportPortHandshake): void {
    this.#awaiting.set(thread, new Int32Array(awaiting));
    this.#reportPorts.add(port);
    port.on('message', this.#routeReport);
    port.on('close', () => this.#reportPorts.delete(port));
    // Idle threads must not hold the process open; keepAlive() does that while jobs are in flight.
    port.unref();
  }

  /**
   * Routes every report already queued, at once. Called before a crash is dealt with: what the dead
   * thread posted is in its port's queue, and must be counted before its unfinished jobs are judged.
   */
  #drainReports(): void {
    for (const port of this.#reportPorts) {
      for (let entry = receiveMessageOnPort(port); entry; entry = receiveMessageOnPort(port)) {
        this.#route(entry.message as ThreadReport);
      }
    }
  }

  #route(message: ThreadReport): void {
    const reports = this.#reports;
    switch (message.t) {
      case 'ready':
        this.#lanes.ready(message.thread);
        return;
      case 'culprit':
        this.#culprits.set(message.thread, message.job);
        return;
      case 'status':
        reports.status(message.id, message.numerator, message.denominator);
        return;
      case 'data':
        reports.data(message.id, message.chunk);
        return;
      case 'warning':
        reports.warning(message.id, message.message);
        return;
      case 'checkpoint':
        reports.checkpoint(message.id, message.state);
        return;
      case 'began':
        reports.handlerBegan(message.id);
        return;
      case 'skipped':
        reports.skipped(message.id);
        return;
      case 'done':
        if (message.ok) reports.done(message.id, message.micros, { ok: true, value: message.value });
        else {
          const thrown = deserializeError(message.error);
          reports.done(message.id, message.micros, { ok: false, origin: message.origin, thrown });
        }
    }
  }

  #ended(batch: number, crash: Crash | undefined): void {
    const thread = this.#batchThreads.get(batch);
    if (thread !== undefined) this.#lanes.release(thread);
    this.#batchThreads.delete(batch);
    // The last batch of a dead thread told: what is known of its death is needed no more.
    if (crash && thread !== undefined && ![...this.#batchThreads.values()].includes(thread)) {
      this.#culprits.delete(thread);
      this.#terminated.delete(thread);
      this.#awaiting.delete(thread);
    }
    this.#reports.ended(batch, crash);
  }

  #crash(batch: number, error: unknown): Crash {
    const thread = this.#batchThreads.get(batch);
    const terminated = thread === undefined ? undefined : this.#terminated.get(thread);
    if (terminated) return { reason: terminated.reason, cause: error, culprit: terminated.culprit };
    const culprit = thread === undefined ? undefined : this.#culprits.get(thread);
    const { code, message, name } = error as { code?: unknown; message?: unknown; name?: unknown };
    if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
      return {
        reason: 'its thread ran out of memory (raise resourceLimits, or lower what one job holds)',
        cause: error,
      };
    }
    const exit = typeof message === 'string' ? /worker exited with code: (-?\d+)/.exec(message) : null;
    if (exit)
      return {
        reason: `its thread exited with code ${exit[1]} (process.exit() in a handler?)`,
        cause: error,
        culprit,
      };
    return {
      reason: `its thread died of an uncaught ${String(name)}: ${String(message)}`,
      cause: error,
      culprit,
    };
  }
}

let loadedPiscina: typeof Piscina | undefined;

/**
 * Piscina, loaded when the first pool is made: not at import, so that a worker thread whose functions
 * module imports this package (for defineFunctions) does not load a thread pool it will never run.
 */
function piscina(): typeof Piscina {
  loadedPiscina ??= (createRequire(import.meta.url)('piscina') as { Piscina: typeof Piscina }).Piscina;
  return loadedPiscina;
}

/**
 * The file each thread starts with: built, the `.js` beside this one; run from source (under vitest or
 * tsx), the `.ts` file. From source a thread needs help to load this package's own TypeScript: where Node
 * strips types, the resolve hook of `typescript-imports.ts`, registered before the entry loads (its
 * `--import` is a one-line module that calls it); on Node 20, tsx's CommonJS hook (piscina requires its
 * task file). A process already run by tsx passes its loader on to every thread by itself.
 */
const fromSource = import.meta.url.endsWith('.ts');
const threadEntry = new URL(fromSource ? './thread-entry.ts' : './thread-entry.js', import.meta.url);
/**
 * What piscina loads in each thread: `thread-loader.cjs`, which imports the entry (it says why piscina
 * must not require() an ES module). From source on a Node that cannot strip types (20), the entry itself:
 * tsx's CommonJS hook compiles it for require(), so no ES module is loaded that way either.
 */
const threadFile =
  fromSource && !nodeStripsTypes() ? threadEntry : new URL('./thread-loader.cjs', import.meta.url);
const threadExecArgv = fromSource ? sourceExecArgv() : undefined;

function sourceExecArgv(): string[] | undefined {
  if (process.execArgv.some((argument) => argument.includes('tsx'))) return undefined;
  if (nodeStripsTypes()) {
    const hook = new URL('../functions/typescript-imports.ts', import.meta.url).href;
    const register = `import { allowTypeScriptImports } from ${JSON.stringify(hook)}; allowTypeScriptImports();`;
    return [...process.execArgv, '--import', `data:text/javascript,${encodeURIComponent(register)}`];
  }
  return [...process.execArgv, '--require', createRequire(import.meta.url).resolve('tsx/cjs')];
}
