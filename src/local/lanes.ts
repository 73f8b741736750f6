/**
 * How many batches each lane of the local pool runs at once. A lane is a worker thread (or, inline,
 * the caller's own thread): one event loop that jobs share.
 *
 * With a fixed `concurrency`, N per lane. By default ('auto'), one per lane, and one more each time the
 * jobs a lane runs have left its event loop idle for most of a millisecond since it last took one: jobs
 * that wait on a socket or a timer take almost none of the loop's time, while a job that computes (even
 * in slices between awaits) keeps it busy. So CPU-bound jobs run one per thread, and jobs that wait fan
 * out as wide as there is work (up to the cap), a job a millisecond per thread, without an option. A
 * lane found busy again takes nothing more until its jobs end; an empty lane starts again from one.
 *
 * A lane is judged only once its thread has loaded the functions module (a thread that is still reading
 * its files is idle, but not because of its jobs), and only while somebody wants more room (jobs queued
 * in the pool, or a host that could bring more) and the lane is full: every millisecond at first, less
 * often while nothing changes.
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { after, cancel, type Timer } from '../shared/timers.js';

/** What a lane's thread lets the main thread read of it without a message. */
export interface LaneGauges {
  /** Its event-loop utilization, cumulative (`performance.eventLoopUtilization()`). */
  loop(): EventLoopUtilization;
  /** How many of its batches are in progress across turns of its loop: their jobs await something. */
  awaiting(): number;
}

/** How lanes are limited. */
export interface LaneOptions {
  /** A fixed number of batches per lane, or undefined for the adaptive default. */
  readonly fixed: number | undefined;
  /** With the adaptive default, the most batches one lane runs at once. */
  readonly cap: number;
  /** Called when a lane's limit grew: more batches can start. */
  readonly roomGrew: () => void;
}

/** A lane is judged only over a window at least this long, in milliseconds of its event loop. */
const minWindowMs = 1;
/** Below this share of its time busy, a lane with all its jobs in flight is waiting on them. */
const waitingBelow = 0.5;
/** The longest pause between two looks while nothing changes, in milliseconds. */
const maxLookIntervalMs = 16;

interface Lane {
  readonly gauges: LaneGauges;
  /** Whether its thread has loaded the functions module (before, it is not judged). */
  ready: boolean;
  running: number;
  limit: number;
  /**
   * The reading the current window started from; undefined when its batches changed and nobody has
   * looked since (reading a thread's clock is a call into it: the path of every job does not pay it).
   */
  since: EventLoopUtilization | undefined;
  /** Whether some batch of the lane awaited something when the window started. */
  awaitedSince: boolean;
}

/** The lanes of one pool, and how many batches each may take. */
export class Lanes {
  readonly #options: LaneOptions;
  readonly #lanes = new Map<number, Lane>();
  #demand = false;
  readonly #readyWaiters: (() => void)[] = [];
  #timer: Timer | undefined;
  #lookIntervalMs = 1;

  constructor(options: LaneOptions) {
    this.#options = options;
  }

  /** Adds a lane (a thread that started); false when it was there already. */
  add(id: number, gauges: LaneGauges): boolean {
    if (this.#lanes.has(id)) return false;
    this.#lanes.set(id, {
      gauges,
      ready: false,
      running: 0,
      limit: this.#base(),
      since: undefined,
      awaitedSince: false,
    });
    return true;
  }

  /** The lane's thread has loaded the functions module: from now on its idleness is its jobs'. */
  ready(id: number): void {
    const lane = this.#lanes.get(id);
    if (!lane || lane.ready) return;
    lane.ready = true;
    this.#changed(lane);
    for (const waiter of this.#readyWaiters.splice(0)) waiter();
  }

  /** Resolves once at least `count` lanes are ready. */
  async readyCount(count: number): Promise<void> {
    while ([...this.#lanes.values()].filter((lane) => lane.ready).length < count) {
      await new Promise<void>((resolve) => this.#readyWaiters.push(resolve));
    }
  }

  /** Drops every lane not in `ids` (threads that died). */
  retain(ids: ReadonlySet<number>): void {
    for (const id of this.#lanes.keys()) if (!ids.has(id)) this.#lanes.delete(id);
  }

  /** Batches running now, on every lane. */
  get running(): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += lane.running;
    return total;
  }

  /** Batches the lanes run at once now: the sum of their limits. */
  get capacity(): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += lane.limit;
    return total;
  }

  /**
   * How many more batches may start now. A lane that has room only thanks to its jobs waiting is looked
   * at again first: if it has been busy since, it keeps what it runs and takes no more.
   */
  room(): number {
    let room = 0;
    for (const lane of this.#lanes.values()) {
      if (lane.running > 0 && lane.running < lane.limit) this.#recheck(lane);
      room += Math.max(0, lane.limit - lane.running);
    }
    return room;
  }

  /**
   * Takes room on a lane for a batch: among `candidates` (lane ids), one with room and the fewest
   * batches running. Returns its id, or undefined when none has room.
   */
  take(candidates: Iterable<number>): number | undefined {
    let chosen: number | undefined;
    let fewest = Number.POSITIVE_INFINITY;
    for (const id of candidates) {
      const lane = this.#lanes.get(id);
      if (!lane || lane.running >= lane.limit || lane.running >= fewest) continue;
      chosen = id;
      fewest = lane.running;
      if (fewest === 0) break;
    }
    if (chosen === undefined) return undefined;
    const lane = this.#lanes.get(chosen) as Lane;
    lane.running++;
    this.#changed(lane);
    return chosen;
  }

  /** A batch on this lane ended. */
  release(id: number): void {
    const lane = this.#lanes.get(id);
    if (!lane) return;
    lane.running = Math.max(0, lane.running - 1);
    // An empty lane starts again from one: what its next jobs do is not known yet.
    if (lane.running === 0) lane.limit = this.#base();
    this.#changed(lane);
  }

  /** Whether somebody has more batches for the lanes (the lanes are looked at while so). */
  setDemand(wanted: boolean): void {
    if (wanted && !this.#demand) this.#lookIntervalMs = 1;
    this.#demand = wanted;
    this.#schedule();
  }

  /** Stops looking. */
  close(): void {
    this.#demand = false;
    cancel(this.#timer);
    this.#timer = undefined;
  }

  #base(): number {
    return this.#options.fixed ?? 1;
  }

  /** A lane's batches changed: its window starts again, and the lanes are looked at again soon. */
  #changed(lane: Lane): void {
    lane.since = undefined;
    this.#lookIntervalMs = 1;
    this.#schedule();
  }

  /**
   * How busy a lane's event loop has been since its window started, or undefined while the window is
   * shorter than minWindowMs (or only starts now). A conclusive reading starts the next window.
   */
  #busyShare(lane: Lane): number | undefined {
    const now = lane.gauges.loop();
    const since = lane.since;
    if (since === undefined) {
      this.#startWindow(lane, now);
      return undefined;
    }
    const active = now.active - since.active;
    const total = active + (now.idle - since.idle);
    if (total < minWindowMs) return undefined;
    this.#startWindow(lane, now);
    return active / total;
  }

  #startWindow(lane: Lane, now: EventLoopUtilization): void {
    lane.since = now;
    lane.awaitedSince = lane.gauges.awaiting() > 0;
  }

  /**
   * Whether a lane's idle loop is its jobs waiting: some batch of it awaited something when the window
   * started and still does. (A thread is idle too while its results travel to the main thread and the
   * next batch travels to it: that is not its jobs waiting, and tiny jobs must not fan out for it.)
   */
  #waiting(lane: Lane, busy: number | undefined, awaitedSince: boolean): boolean {
    return busy !== undefined && busy < waitingBelow && awaitedSince && lane.gauges.awaiting() > 0;
  }

  /** Whether a lane is full but could grow. */
  #growable(lane: Lane): boolean {
    return lane.ready && lane.running > 0 && lane.running >= lane.limit && lane.limit < this.#options.cap;
  }

  #schedule(): void {
    if (this.#options.fixed !== undefined || this.#timer || !this.#demand) return;
    let any = false;
    for (const lane of this.#lanes.values()) if (this.#growable(lane)) any = true;
    if (!any) return;
    this.#timer = after(this.#lookIntervalMs, this.#look);
    // Looking must not keep a process alive on its own: the jobs in flight do that.
    this.#timer.unref();
  }

  readonly #look = () => {
    this.#timer = undefined;
    let grew = false;
    for (const lane of this.#lanes.values()) {
      if (!this.#growable(lane)) continue;
      const awaitedSince = lane.awaitedSince;
      if (this.#waiting(lane, this.#busyShare(lane), awaitedSince)) {
        lane.limit++;
        grew = true;
      }
    }
    this.#lookIntervalMs = grew ? 1 : Math.min(maxLookIntervalMs, this.#lookIntervalMs * 2);
    this.#schedule();
    if (grew) this.#options.roomGrew();
  };

  /** A lane that got room while waiting and has since been busy keeps only what it runs. */
  #recheck(lane: Lane): void {
    const busy = this.#busyShare(lane);
    if (busy !== undefined && busy >= waitingBelow) lane.limit = Math.max(this.#base(), lane.running);
  }
}
