/**
 * createWorker: a worker for a functions module, taking its jobs from a queue file or from Gearman job
 * servers. The same Worker either way (start, stop with grace, destroy, events); only the source of
 * jobs differs.
 */
import { InvalidOptionError } from '../errors.js';
import { fillGearmanOptions, type GearmanOptions } from '../gearman/gearman-options.js';
import { loadGearmanCode } from '../gearman/load-gearman-code.js';
import type { GearmanSourceOptions } from '../gearman/worker/gearman-source.js';
import { createLocalBackend, type LocalPoolOptions } from '../local/create-local-backend.js';
import { loadQueueCode } from '../queue/load-queue-code.js';
import { fillQueueOptions, type QueueOptions } from '../queue/queue-options.js';
import { checkMilliseconds, checkObject } from '../shared/validate.js';
import type { JobSource } from '../worker/job-source.js';
import { Worker } from '../worker/worker.js';
import { WorkerEvents } from '../worker/worker-events.js';
import { WorkerHost } from '../worker/worker-host.js';
import { logWorkerEvents, stderrLog, type WorkerLog } from '../worker/worker-log.js';

/** Options of a worker: its functions, its pool, and where its jobs come from (one of `queue`, `gearman`). */
export interface WorkerOptions extends LocalPoolOptions {
  /** The functions module (its URL or path): the same module clients may name in createClient. */
  readonly functions: URL | string;
  /** A queue file to take jobs from: its path, or options (`leaseMs`, `durability`, `pollMs`, `retention`). */
  readonly queue?: string | QueueOptions;
  /** Job servers to take jobs from, and how to reach them. */
  readonly gearman?: GearmanOptions;
  /** With `gearman`: the id given to servers (SET_CLIENT_ID), seen in `gearadmin --workers`. @default gearshift-<host>-<pid>-<random> */
  readonly clientId?: string;
  /**
   * With `gearman`: how much work, counted in the measured run time of its recent jobs, the worker grabs
   * beyond the room its pool has: jobs it holds so that a thread never waits a round trip to the server
   * for its next job. A held job is "running" for gearmand and waits here for at most about this long;
   * 0 grabs only for room, as libgearman's workers do. Jobs that take longer than this are never held.
   * @default 1
   */
  readonly prefetchMs?: number;
  /**
   * With `gearman`: how a failed job is told to gearmand 1.1. `'fail'`: the failure as WORK_WARNING (every
   * client gets it, as a warning), then WORK_FAIL, so that every client hears the end, whatever its
   * library. `'exception'`: WORK_EXCEPTION, which fires the exception callbacks of clients that asked for
   * exceptions (PHP's, and libgearman's with the option), while gearmand sends every other client a
   * WORK_FAIL with a malformed handle that libraries matching handles exactly never recognise (their
   * callers wait for ever). gearshift clients get the same typed error either way. Perl's
   * Gearman::Server gets WORK_EXCEPTION and WORK_FAIL whatever this says: it does both right.
   * @default 'fail'
   */
  readonly failAs?: 'fail' | 'exception';
  /**
   * Where the worker writes what it must not keep silent, one line each: a server it cannot reach and
   * its reconnection, a job it refused, a dead runner whose jobs it took back. Each is also an event
   * (`connection`, `refused`, `runnerGone`). `false` writes nothing.
   * @default a line on stderr
   */
  readonly log?: WorkerLog;
}

/**
 * Makes a worker. Nothing starts (no thread, no file, no connection) until `start()`.
 *
 * @example
 * ```ts
 * const worker = createWorker({ functions: new URL('./functions.js', import.meta.url), queue: 'var/jobs.db' });
 * await worker.start();
 * process.once('SIGTERM', () => worker.stop(10_000));
 * ```
 */
export function createWorker(options: WorkerOptions): Worker {
  checkObject('options', options);
  const { functions, queue, gearman } = options;
  if (functions === undefined) {
    throw new InvalidOptionError('functions', 'the functions module the worker runs', undefined);
  }
  if ((queue === undefined) === (gearman === undefined)) {
    throw new InvalidOptionError(
      queue === undefined ? 'queue' : 'gearman',
      'given alone: a worker takes its jobs from a queue file (`queue`) or from job servers (`gearman`), one of them',
      queue ?? gearman,
    );
  }
  const events = new WorkerEvents();
  // The source's code (a queue file's runner, or Gearman's worker protocol) loads when the worker starts.
  let loadSource: () => Promise<JobSource<unknown>>;
  if (queue !== undefined) {
    for (const option of ['clientId', 'prefetchMs', 'failAs'] as const) {
      if (options[option] !== undefined) {
        throw new InvalidOptionError(
          option,
          'left out for a queue worker (it is for `gearman`)',
          options[option],
        );
      }
    }
    const filled = fillQueueOptions(queue, true);
    loadSource = async () => {
      const { QueueSource, QueueStore } = await loadQueueCode();
      return new QueueSource({
        leaseMs: filled.leaseMs,
        retention: filled.retention,
        store: () => new QueueStore(filled.path, { durability: filled.durability, pollMs: filled.pollMs }),
        ownsStore: true,
      }) as JobSource<unknown>;
    };
  } else {
    const sourceOptions: GearmanSourceOptions = {
      gearman: fillGearmanOptions(gearman as GearmanOptions),
      clientId: options.clientId,
      prefetchMs: checkMilliseconds('prefetchMs', options.prefetchMs ?? 1, 0),
      failAs: checkFailAs(options.failAs),
    };
    loadSource = async () => {
      const { GearmanSource } = await loadGearmanCode();
      return new GearmanSource(sourceOptions) as JobSource<unknown>;
    };
  }
  const { log = stderrLog } = options;
  if (log !== false && typeof log !== 'function')
    throw new InvalidOptionError('log', 'a function that takes a line, or false', log);
  logWorkerEvents(events, log, `gearshift worker ${process.pid}`);
  const host = new WorkerHost(createLocalBackend(options), loadSource, events, true);
  return new Worker(host, events, () => host.source?.description ?? 'not started');
}

function checkFailAs(value: unknown): 'fail' | 'exception' {
  if (value === undefined) return 'fail';
  if (value !== 'fail' && value !== 'exception')
    throw new InvalidOptionError('failAs', "'fail' or 'exception'", value);
  return value;
}
