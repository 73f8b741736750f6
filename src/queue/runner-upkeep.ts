/**
 * What a queue runner does on its own clock, each on a timer of its own:
 * - the beat: says it is alive, renews the leases of the jobs it holds, and forgets runners silent for
 *   three beats (they died on another host, or hang);
 * - the sweep: finds runners of this same host whose process is gone (`kill -9`, out of memory) and
 *   takes their jobs back at once, instead of waiting out their leases;
 * - retention: deletes finished jobs past their keeping time.
 */
import { isGone, thisProcess } from '../shared/local-processes.js';
import { cancel, every, type Timer } from '../shared/timers.js';
import type { HostedJob } from '../worker/hosted-job.js';
import type { QueueOrigin } from './queue-origin.js';
import type { QueueStore } from './queue-store.js';
import type { Retention } from './sql/retention.js';
import type { RunnerRow } from './sql/runners.js';

/** How often a runner beats, at most (it beats three times a lease when its lease is shorter). */
export const maxHeartbeatMs = 2000;
/** How often a runner looks for dead runners of its host. */
const sweepEveryMs = 1000;
/** How often finished jobs are pruned. */
const pruneEveryMs = 30_000;

/** A runner of this host found dead, and how many jobs it held went back to the queue. */
export interface DeadRunner {
  readonly runner: RunnerRow;
  readonly jobs: number;
}

/** What the upkeep needs of its runner. */
export interface UpkeepOwner {
  readonly id: string;
  readonly leaseMs: number;
  readonly retention: Retention;
  /** Queues a write in the runner's shared commit (undefined when it failed, or the file is closed). */
  write<T>(operation: () => T): Promise<T | undefined>;
  /** The jobs it holds now (their leases are renewed). */
  held(): readonly HostedJob<QueueOrigin>[];
  /**
   * A job it holds whose lease another runner has now: it stalled past its lease (a paused process, a
   * long pause of the event loop), the lease expired, and the job was taken again.
   */
  lost(job: HostedJob<QueueOrigin>): void;
  /** Runners of this host were found dead, and their jobs taken back. */
  buried(dead: readonly DeadRunner[]): void;
}

/** The interval between a runner's beats, for its lease. */
export function heartbeatMsFor(leaseMs: number): number {
  return Math.min(maxHeartbeatMs, Math.max(50, Math.floor(leaseMs / 3)));
}

/** A runner's timers. */
export class RunnerUpkeep {
  readonly #store: QueueStore;
  readonly #owner: UpkeepOwner;
  readonly #timers: Timer[] = [];

  constructor(store: QueueStore, owner: UpkeepOwner) {
    this.#store = store;
    this.#owner = owner;
  }

  /** Starts the timers (none holds the process open). */
  start(): void {
    const { leaseMs } = this.#owner;
    this.#timers.push(
      every(heartbeatMsFor(leaseMs), () => this.#beat()).unref(),
      every(sweepEveryMs, () => void this.sweep()).unref(),
      every(pruneEveryMs, () => this.#prune()).unref(),
    );
  }

  stop(): void {
    for (const timer of this.#timers.splice(0)) cancel(timer);
  }

  /**
   * Takes back the jobs of this host's runners whose processes are gone, and forgets those runners.
   * Reads first, and writes only when one is found: most sweeps find nothing.
   */
  async sweep(): Promise<void> {
    const store = this.#store;
    if (store.closed) return;
    const suspects = store.runners.onHost(thisProcess().hostKey, this.#owner.id).filter(isGone);
    if (suspects.length === 0) return;
    const now = Date.now();
    const dead = await this.#owner.write(() =>
      suspects.map((runner) => {
        const why = `its runner (pid ${runner.pid} on ${runner.host}) died`;
        const jobs = store.claimJobs.reapOwner(runner.id, now, why);
        store.runners.remove(runner.id);
        return { runner, jobs };
      }),
    );
    if (dead && dead.length > 0) this.#owner.buried(dead);
  }

  #beat(): void {
    const now = Date.now();
    const store = this.#store;
    const owner = this.#owner;
    // The jobs held when the renewal is asked for: a job claimed later is not in what it reads.
    const asked = owner.held();
    void owner
      .write(() => {
        store.runners.heartbeat(owner.id, now);
        store.runners.prune(now);
        return asked.length > 0 ? store.leases.renew(owner.id, now + owner.leaseMs) : undefined;
      })
      .then((held) => {
        if (!held) return;
        for (const job of asked) if (held.get(job.origin.row.id) !== job.origin.token) owner.lost(job);
      });
  }

  #prune(): void {
    const store = this.#store;
    void this.#owner.write(() => store.prune(this.#owner.retention, Date.now()));
  }
}
