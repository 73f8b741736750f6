/**
 * Function limits in memory, for the jobs one process runs: its local pool's, and a Gearman worker's
 * (whose job server knows nothing of limits, so each worker process holds them for itself). The queue
 * file holds the same limits across processes in its claim (src/queue/sql/claim-limited.ts); both count
 * alike: a job holds a place from its start (its dispatch to a thread) to its end, and its start counts
 * for the rate's sliding window from when its handler began; a job given a place whose handler has not
 * begun yet counts as starting now, so that no place is given away in a window that fills up later.
 */
import type { FunctionInfo } from '../backend.js';
import { type FunctionLimit, limitGroupOf } from '../functions/limit.js';
import { Fifo } from '../shared/fifo.js';
import { after, cancel, type Timer } from '../shared/timers.js';

/** One group's places: what runs, when recent jobs started, and who waits for room. */
interface Group<E> {
  readonly limit: FunctionLimit;
  running: number;
  /** Jobs given a place whose handlers have not begun: each counts as a start until it begins or ends. */
  pending: number;
  /** When handlers began, within the rate's window, oldest first. */
  readonly starts: Fifo<number>;
  readonly held: Fifo<E>;
  timer: Timer | undefined;
}

/** Holds each limited function's jobs to its limit; `reopen` gets back held jobs once they have a place. */
export class LimitGate<E> {
  readonly #limits: ReadonlyMap<string, FunctionLimit>;
  readonly #reopen: (entries: E[]) => void;
  readonly #groups = new Map<string, Group<E>>();
  /** How many groups there were after the last sweep of idle ones. */
  #swept = 0;

  /** A gate for the functions that declare a limit; undefined when none does. */
  static of<E>(functions: readonly FunctionInfo[], reopen: (entries: E[]) => void): LimitGate<E> | undefined {
    const limits = new Map(functions.flatMap((fn) => (fn.limit ? [[fn.name, fn.limit] as const] : [])));
    return limits.size === 0 ? undefined : new LimitGate(limits, reopen);
  }

  private constructor(limits: ReadonlyMap<string, FunctionLimit>, reopen: (entries: E[]) => void) {
    this.#limits = limits;
    this.#reopen = reopen;
  }

  /** The slot (function and group) a job takes, or undefined for a function without a limit. */
  slotOf(functionName: string, input: unknown): string | undefined {
    const limit = this.#limits.get(functionName);
    return limit && `${functionName}\u0000${limitGroupOf(limit, input)}`;
  }

  /** Whether the function has a rate limit (its jobs' starts are counted). */
  rated(functionName: string): boolean {
    return this.#limits.get(functionName)?.rate !== undefined;
  }

  /**
   * Takes a place in `slot` for the entry and returns true, or holds the entry (behind any held before
   * it) until there is room: then it is given a place and handed to `reopen`.
   */
  admit(entry: E, slot: string, now: number): boolean {
    const group = this.#group(slot);
    if (group.held.length > 0 || this.#room(group, now) <= 0) {
      group.held.push(entry);
      this.#wakeForRate(group, now);
      return false;
    }
    this.#take(group);
    return true;
  }

  /** Notes that an admitted job's handler began: its start counts from now. */
  begun(slot: string, now: number): void {
    const group = this.#groups.get(slot);
    if (!group?.limit.rate) return;
    group.pending--;
    group.starts.push(now);
    this.#wakeForRate(group, now);
  }

  /** Gives back an admitted job's place (`begun`: whether its handler began); held jobs that now fit are reopened. */
  release(slot: string, begun: boolean, now: number): void {
    const group = this.#groups.get(slot);
    if (!group) return;
    group.running--;
    if (group.limit.rate && !begun) group.pending--;
    this.#release(group, now);
  }

  /** Forgets a held entry (nobody waits for it any more). */
  forget(entry: E, slot: string): void {
    const group = this.#groups.get(slot);
    if (!group) return;
    const kept = group.held.drain().filter((held) => held !== entry);
    for (const held of kept) group.held.push(held);
  }

  /** Drops every held entry and timer (the pool is being destroyed). */
  clear(): void {
    for (const group of this.#groups.values()) cancel(group.timer);
    this.#groups.clear();
  }

  #group(slot: string): Group<E> {
    let group = this.#groups.get(slot);
    if (!group) {
      if (this.#groups.size >= 2 * this.#swept + 64) this.#sweep(Date.now());
      const functionName = slot.slice(0, slot.indexOf('\u0000'));
      group = {
        limit: this.#limits.get(functionName) as FunctionLimit,
        running: 0,
        pending: 0,
        starts: new Fifo(),
        held: new Fifo(),
        timer: undefined,
      };
      this.#groups.set(slot, group);
    }
    return group;
  }

  /** Places free now: the concurrency less what runs, the rate less what started in the window. */
  #room(group: Group<E>, now: number): number {
    const { concurrency, rate } = group.limit;
    let room = concurrency === undefined ? Number.POSITIVE_INFINITY : concurrency - group.running;
    if (rate) {
      while (group.starts.length > 0 && (group.starts.peek() as number) <= now - rate.perMs)
        group.starts.shift();
      room = Math.min(room, rate.max - group.pending - group.starts.length);
    }
    return room;
  }

  #take(group: Group<E>): void {
    group.running++;
    if (group.limit.rate) group.pending++;
  }

  /** Gives the places free now to held entries, first held first, and reopens them. */
  #release(group: Group<E>, now: number): void {
    const room = Math.min(this.#room(group, now), group.held.length);
    if (room > 0) {
      const reopened: E[] = [];
      for (let count = 0; count < room; count++) {
        this.#take(group);
        reopened.push(group.held.shift() as E);
      }
      this.#reopen(reopened);
    }
    this.#wakeForRate(group, now);
  }

  /**
   * While jobs wait on a group that is out of starts, a timer reopens them when the oldest start leaves
   * the window (when every start is still pending, the next one to begin sets it).
   */
  #wakeForRate(group: Group<E>, now: number): void {
    const { rate } = group.limit;
    if (!rate || group.held.length === 0 || group.timer || this.#room(group, now) > 0) return;
    const oldest = group.starts.peek();
    if (oldest === undefined) return;
    group.timer = after(Math.max(0, oldest + rate.perMs - now), () => {
      group.timer = undefined;
      this.#release(group, Date.now());
    });
    group.timer.unref();
  }

  /** Forgets groups with nothing running, held or counted: many keys seen once need not stay. */
  #sweep(now: number): void {
    for (const [slot, group] of this.#groups)
      if (
        group.running === 0 &&
        group.held.length === 0 &&
        this.#room(group, now) > 0 &&
        group.starts.length === 0
      )
        this.#groups.delete(slot);
    this.#swept = this.#groups.size;
  }
}
