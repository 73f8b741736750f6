/**
 * Runs batches on a piscina pool of worker threads. Piscina owns the threads (start, crash, replace,
 * resource limits); this file adds the routes around them. A batch goes to its thread on that thread's
 * own port, and everything the thread says of it (events, results, the batch's end) comes back on the
 * same port, in order. Not as a piscina task: a task's way through piscina (its queue, load balancer,
 * async resource and histograms, both ways) cost more than the job itself when jobs go one at a time
 * (see BENCHMARKS.md, 2026-12-06). Piscina still carries the module's description. A thread's death is
 * read from its exit: its batches end there, after everything it posted has been read.
 */
import { createRequire } from 'node:module';
import {
  BroadcastChannel,
  type MessagePort,
  type ResourceLimits,
  receiveMessageOnPort,
  type Worker,
} from 'node:worker_threads';
import type { Piscina } from 'piscina';
import type { FunctionInfo } from '../backend.js';
import { FunctionsModuleError } from '../errors.js';
import { existingModuleFile, isTypeScriptModule, nodeStripsTypes } from '../functions/typescript-imports.js';
import { deserializeError, serializeError } from '../payload/remote-error.js';
import { IdleLatch } from '../shared/idle-latch.js';
import type { Crash, Executor, ExecutorReports } from './executor.js';
import { Lanes } from './lanes.js';
import {
  type BatchTask,
  type CrashCulprit,
  encodeBatch,
  type JobMessage,
  type ManifestAnswer,
  type ReportPortHandshake,
  type ThreadData,
  type ThreadReport,
} from './messages.js';
import { guardThreadsThatStripTypes } from './wasm-wrapper-guard.js';

/** A live thread: its Worker, and once it has said so, the port its batches and reports travel on. */
interface ThreadLink {
  readonly worker: Worker;
  port: MessagePort | undefined;
  /** Batches sent before the port was known, in order. */
  readonly waiting: BatchTask[];
  /**
   * Whether it threw outside any handler, and what: the Worker says so before it exits, and from then on
   * the thread takes no batch (it is dying; its exit ends what it held).
   */
  thrown: { readonly value: unknown } | undefined;
}

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
  /** Which thread runs which batch, to end a dead thread's batches and to explain its death. */
  readonly #batchThreads = new Map<number, number>();
  /** The live threads, by thread id. */
  readonly #threads = new Map<number, ThreadLink>();
  /**
   * Handshakes of threads that are not lanes yet: a thread that replaces a dead one becomes a lane only
   * when piscina says it is ready (see #ensurePool), and says who it is before that.
   */
  readonly #earlyHandshakes = new Map<number, ReportPortHandshake>();
  readonly #routeReport = (message: ThreadReport) => this.#route(message);
  /** Threads this executor terminated, and why. */
  readonly #terminated = new Map<number, { reason: string; culprit: CrashCulprit }>();
  /** Each thread's count of batches in progress across turns (see ReportPortHandshake), by thread. */
  readonly #awaiting = new Map<number, Int32Array>();
  /** The job a dead thread named as the one that took it down, by thread. */
  readonly #culprits = new Map<number, CrashCulprit>();
  /** Opened when the last batch ends, for close(). */
  readonly #idle = new IdleLatch();
  #busy = false;
  /** Set by close() and destroy(): threads that exit from then on were stopped, not crashed. */
  #stopping = false;
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
    const answer = (await this.#holdOpen(pool.run('manifest'))) as ManifestAnswer;
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
    this.#ensurePool();
    this.#send(batch, encodeBatch(batch, jobs));
  }

  /**
   * Sends a batch to the thread the lanes choose (the one with room and the fewest batches). It starts
   * there and then: the scheduler sends no more batches than room() said there was room for, and the
   * lanes are the live threads, so one always has room.
   */
  #send(batch: number, task: BatchTask): void {
    const thread = this.#lanes.take(this.#threads.keys());
    const link = thread === undefined ? undefined : this.#threads.get(thread);
    if (thread === undefined || !link) {
      throw new Error(`gearshift: batch ${batch} was sent to the thread pool with no room for it`);
    }
    this.#batchThreads.set(batch, thread);
    this.#reports.begun(batch, thread);
    if (link.port) link.port.postMessage(task);
    else link.waiting.push(task);
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
    const link = this.#threads.get(thread);
    if (!link) return false;
    this.#terminated.set(thread, { reason, culprit });
    // Its exit ends its batches with this reason (see #exited); piscina starts a new thread.
    void link.worker.terminate();
    return true;
  }

  async close(): Promise<void> {
    // Piscina's own close waits for its tasks only, and the batches are not its tasks.
    if (this.#batchThreads.size > 0) await this.#idle.wait();
    this.#stopping = true;
    this.#lanes.close();
    await this.#pool?.close();
    this.#channel?.close();
  }

  async destroy(): Promise<void> {
    this.#stopping = true;
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
    // The file a thread will load: `functions.js` may stand for its `functions.ts` twin.
    const loaded = existingModuleFile(functionsModule) ?? functionsModule;
    if (fromSource || isTypeScriptModule(loaded)) guardThreadsThatStripTypes();
    this.#channel = new BroadcastChannel(this.#channelName);
    this.#refer();
    const pool = new (piscina())({
      filename: threadFile.href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // Between piscina's tasks its threads wait on Atomics; 'sync' (its default) blocks the thread's
      // event loop meanwhile, and the batches come on the thread's own port, which must be served.
      atomics: 'async',
      workerData,
      ...(resourceLimits ? { resourceLimits } : {}),
      ...(threadExecArgv ? { execArgv: threadExecArgv } : {}),
    });
    pool.on('message', (message: ReportPortHandshake) => this.#attach(pool, message));
    // A thread that replaces a dead one is a lane once piscina says it is ready, not before: piscina
    // starts no replacement for a thread that dies before it was ready (it takes that for a thread that
    // cannot start), so a job that kills threads must not reach one earlier.
    pool.on('workerCreate', (created: { readonly id: number }) => {
      const worker = pool.threads.find((candidate) => candidate.threadId === created.id);
      if (worker && this.#track(worker)) this.#reports.roomGrew();
    });
    // A thread's death is told by its exit (see #exited); piscina's own word on it adds nothing.
    pool.on('error', () => {});
    for (const worker of pool.threads) this.#track(worker);
    this.#pool = pool;
    return pool;
  }

  /** Follows a thread that started: a lane, and its death. False when it was followed already. */
  #track(worker: Worker): boolean {
    const id = worker.threadId;
    if (id < 0 || this.#threads.has(id)) return false;
    const link: ThreadLink = { worker, port: undefined, waiting: [], thrown: undefined };
    this.#threads.set(id, link);
    worker.on('error', (value: unknown) => {
      // Its 'exit' may come turns later: no batch may go to it meanwhile.
      link.thrown = { value };
      this.#lanes.retain(this.#takingIds());
    });
    worker.once('exit', (code: number) => this.#exited(id, code));
    this.#addLane(worker);
    const handshake = this.#earlyHandshakes.get(id);
    this.#earlyHandshakes.delete(id);
    if (handshake) this.#connect(link, handshake);
    return true;
  }

  #addLane(worker: Worker): void {
    const id = worker.threadId;
    this.#lanes.add(id, {
      loop: () => worker.performance.eventLoopUtilization(),
      awaiting: () => {
        const counter = this.#awaiting.get(id);
        return counter ? Atomics.load(counter, 0) : 0;
      },
    });
  }

  /**
   * A thread's first message: its port. A thread that is not a lane yet (see #ensurePool) keeps it here
   * until it is one.
   */
  #attach(pool: Piscina, handshake: ReportPortHandshake): void {
    const { reportPort: port, thread } = handshake;
    const link = this.#threads.get(thread);
    if (link) {
      this.#connect(link, handshake);
      return;
    }
    const worker = pool.threads.find((candidate) => candidate.threadId === thread);
    if (!worker) {
      port.close();
      return;
    }
    this.#earlyHandshakes.set(thread, handshake);
    worker.once('exit', (code: number) => {
      this.#earlyHandshakes.delete(thread);
      // Piscina replaces no thread that dies before it was ready, and then none at all.
      if (!this.#threads.has(thread) && !this.#stopping) {
        process.emitWarning(
          `a worker thread died while it started (exit code ${code}): the pool replaces no thread that cannot start, and goes on with fewer`,
          'GearshiftWarning',
        );
      }
    });
  }

  /** The threads that take batches: the live ones that have not thrown. */
  #takingIds(): Set<number> {
    const ids = new Set<number>();
    for (const [id, link] of this.#threads) if (!link.thrown) ids.add(id);
    return ids;
  }

  /** Opens a lane's port: the batches sent to it before are posted now. */
  #connect(link: ThreadLink, { reportPort: port, thread, awaiting }: ReportPortHandshake): void {
    this.#awaiting.set(thread, new Int32Array(awaiting));
    link.port = port;
    port.on('message', this.#routeReport);
    // Idle threads must not hold the process open; keepAlive() does that while jobs are in flight.
    port.unref();
    for (const task of link.waiting.splice(0)) port.postMessage(task);
  }

  /**
   * Routes every report already queued, at once. Called before a crash is dealt with: what the dead
   * thread posted is in its port's queue, and must be counted before its unfinished jobs are judged.
   */
  #drainReports(): void {
    for (const { port } of this.#threads.values()) {
      if (!port) continue;
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
      case 'end':
        if (message.tail)
          reports.done(message.tail[0], message.tail[1], { ok: true, value: message.tail[2] });
        this.#ended(message.batch, undefined);
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
    if (thread === undefined) return;
    this.#lanes.release(thread);
    this.#batchThreads.delete(batch);
    this.#reports.ended(batch, crash);
    if (this.#batchThreads.size === 0) this.#idle.open();
  }

  /**
   * A thread exited: every batch it held ends with the reason (after everything it posted has been read,
   * so that the jobs it finished count as finished). One that dies idle, of an error, is only a warning.
   */
  #exited(thread: number, code: number): void {
    const link = this.#threads.get(thread);
    if (!link) return;
    this.#drainReports();
    this.#threads.delete(thread);
    link.port?.close();
    this.#lanes.retain(this.#takingIds());
    const batches = [...this.#batchThreads].filter(([, owner]) => owner === thread).map(([batch]) => batch);
    if (batches.length > 0) {
      const crash = this.#crash(thread, code, link.thrown);
      for (const batch of batches) this.#ended(batch, crash);
    } else if (link.thrown && !this.#stopping) {
      process.emitWarning(
        `a worker thread died while idle: ${describeThrown(link.thrown.value)}`,
        'GearshiftWarning',
      );
    }
    this.#culprits.delete(thread);
    this.#terminated.delete(thread);
    this.#awaiting.delete(thread);
  }

  #crash(thread: number, code: number, thrown: ThreadLink['thrown']): Crash {
    const terminated = this.#terminated.get(thread);
    const cause = thrown ? thrown.value : new Error(`worker thread ${thread} exited with code ${code}`);
    if (terminated) return { reason: terminated.reason, cause, culprit: terminated.culprit };
    if (this.#stopping) return { reason: 'the pool was stopped', cause };
    const culprit = this.#culprits.get(thread);
    if (!thrown) {
      return { reason: `its thread exited with code ${code} (process.exit() in a handler?)`, cause, culprit };
    }
    if (propertyOf(thrown.value, 'code') === 'ERR_WORKER_OUT_OF_MEMORY') {
      return {
        reason: 'its thread ran out of memory (raise resourceLimits, or lower what one job holds)',
        cause,
      };
    }
    return { reason: `its thread died of an uncaught ${describeThrown(thrown.value)}`, cause, culprit };
  }
}

/** A property of what a thread threw, which may be anything, null included. */
function propertyOf(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** What a thread threw, as "Name: message" for an error and as itself for anything else. */
function describeThrown(value: unknown): string {
  const name = propertyOf(value, 'name');
  return name === undefined ? String(value) : `${String(name)}: ${String(propertyOf(value, 'message'))}`;
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
