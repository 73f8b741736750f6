/** The `queue` option of createClient: its fields, their defaults, and their checks. */

import { resolve } from 'node:path';
import { InvalidOptionError } from '../errors.js';
import { checkCount, checkMilliseconds, checkObject } from '../shared/validate.js';
import type { Retention } from './sql/retention.js';

/** How durable a committed job is. */
export type Durability = 'process' | 'power';

/** Where the queue lives when no path is given: `.gearshift/queue.db` under the working directory. */
export function defaultQueuePath(): string {
  return resolve(process.env.GEARSHIFT_QUEUE ?? '.gearshift/queue.db');
}

/** Where and how background jobs are kept. */
export interface QueueOptions {
  /**
   * The queue file. Created (mode 0600, in a directory made with mode 0700) if it does not exist.
   * @default `.gearshift/queue.db` under the working directory, or `$GEARSHIFT_QUEUE`
   */
  readonly path?: string;
  /**
   * `'process'`: a committed job survives the death of any process, `kill -9` included (WAL,
   * synchronous NORMAL). `'power'`: it survives a power loss too (synchronous FULL: a disk flush per
   * commit, shared by every job of the commit).
   * @default 'process'
   */
  readonly durability?: Durability;
  /**
   * Whether this process runs jobs from the file on its own threads (the embedded runner). Without
   * `functions` there is nothing to run them with, and the client only submits.
   * @default true when `functions` is given
   */
  readonly runner?: boolean;
  /**
   * Whether foreground jobs (`run`, `runAll`) go through the file too, so that any runner may take them
   * and a runner's death does not lose them. Without `functions` they always do.
   * @default false
   */
  readonly foreground?: boolean;
  /** Milliseconds a runner's claim lasts without renewal: how soon a dead runner's jobs come back. @default 30000 */
  readonly leaseMs?: number;
  /** Milliseconds between looks at the file when no change was seen (a safety net). @default 1000 */
  readonly pollMs?: number;
  /** Milliseconds close() lets running jobs finish before releasing them to the queue. @default 10000 */
  readonly shutdownGraceMs?: number;
  /** Attempts of a background job that sets none. @default 3 */
  readonly attempts?: number;
  /** Backoff base of a background job that sets none, in milliseconds. @default 1000 */
  readonly backoff?: number;
  /** How long finished jobs are kept. @default completed: 1 hour and at most 10,000; failed and dead: 7 days */
  readonly retention?: Partial<Retention>;
}

/** The queue options with every default filled in. */
export type FilledQueueOptions = Required<Omit<QueueOptions, 'retention'>> & {
  readonly retention: Retention;
};

const defaultRetention: Retention = {
  completedMs: 3_600_000,
  completedCount: 10_000,
  failedMs: 7 * 86_400_000,
};

/** Attempts and backoff of a background job that sets none, on a queue that sets none. */
export const jobDefaults = { attempts: 3, backoff: 1000 } as const;

/** Checks the `queue` option and fills in its defaults. */
export function fillQueueOptions(option: string | QueueOptions, hasFunctions: boolean): FilledQueueOptions {
  const options: QueueOptions = typeof option === 'string' ? { path: option } : option;
  checkObject('queue', options);
  const { path, durability = 'process', retention = {} } = options;
  if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
    throw new InvalidOptionError('queue.path', 'a file path', path);
  }
  if (durability !== 'process' && durability !== 'power') {
    throw new InvalidOptionError('queue.durability', "'process' or 'power'", durability);
  }
  checkObject('queue.retention', retention);
  return {
    path: path ?? defaultQueuePath(),
    durability,
    runner: hasFunctions && options.runner !== false,
    foreground: !hasFunctions || options.foreground === true,
    leaseMs: checkMilliseconds('queue.leaseMs', options.leaseMs ?? 30_000, 100),
    pollMs: checkMilliseconds('queue.pollMs', options.pollMs ?? 1000, 1),
    shutdownGraceMs: checkMilliseconds('queue.shutdownGraceMs', options.shutdownGraceMs ?? 10_000, 0),
    attempts: checkCount('queue.attempts', options.attempts ?? jobDefaults.attempts, 1),
    backoff: checkMilliseconds('queue.backoff', options.backoff ?? jobDefaults.backoff, 0),
    retention: {
      completedMs: checkMilliseconds(
        'queue.retention.completedMs',
        retention.completedMs ?? defaultRetention.completedMs,
        0,
      ),
      completedCount: checkCount(
        'queue.retention.completedCount',
        retention.completedCount ?? defaultRetention.completedCount,
        0,
      ),
      failedMs: checkMilliseconds(
        'queue.retention.failedMs',
        retention.failedMs ?? defaultRetention.failedMs,
        0,
      ),
    },
  };
}
