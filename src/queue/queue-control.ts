/**
 * An operator's control of a queue file's jobs (JobControl): each call checks its input, runs one write
 * transaction over the file (its statements in sql/control-jobs.ts), and says how many jobs it changed.
 * The same for a client's queue, `openQueue()`, the CLI and the console; every runner of the file sees
 * the change at once (the file's change signal) or within its next beat.
 */
import type { JobControl, JobSelector, JobState, PurgeRequest } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import type { QueueStore } from './queue-store.js';
import type { JobSelection } from './sql/control-jobs.js';
import { State } from './stored-codes.js';

/** The stored states of the API's state names. */
const stateNumbers: Readonly<Record<JobState, number>> = State;

/** A purge deletes this many jobs per transaction, so that runners never wait long for the file. */
const purgeSlice = 5000;

/** Control of the jobs of one queue file. */
export class QueueControl implements JobControl {
  readonly #store: () => QueueStore;

  /** @param store the file (opened on first use) */
  constructor(store: () => QueueStore) {
    this.#store = store;
  }

  cancel(selector: JobSelector): Promise<number> {
    return this.#write(selector, ['queued', 'running'], (store, selection, now) =>
      store.control.cancel(selection, now),
    );
  }

  retry(selector: JobSelector): Promise<number> {
    return this.#write(selector, ['failed', 'dead', 'cancelled'], (store, selection, now) =>
      store.control.retry(selection, now),
    );
  }

  remove(selector: JobSelector): Promise<number> {
    return this.#write(selector, ['completed', 'failed', 'dead', 'cancelled'], (store, selection) =>
      store.control.remove(selection),
    );
  }

  async purge(request: PurgeRequest): Promise<number> {
    const store = this.#store();
    const states = request.states.map((state) => stateNumber('state', state));
    const finishedBefore = Date.now() - request.olderThanMs;
    const selection: JobSelection = {
      functionName: request.functionName ?? null,
      states,
      finishedBefore,
      limit: purgeSlice,
    };
    let total = 0;
    for (;;) {
      const removed = await store.writes.write(() => store.control.remove(selection));
      total += removed;
      if (removed < purgeSlice) return total;
    }
  }

  async pause(functionName: string): Promise<void> {
    checkFunctionName(functionName);
    const store = this.#store();
    await store.writes.write(() => store.control.pause(functionName, Date.now()));
  }

  async resume(functionName: string): Promise<void> {
    checkFunctionName(functionName);
    const store = this.#store();
    await store.writes.write(() => store.control.resume(functionName));
  }

  async paused(): Promise<string[]> {
    return this.#store().control.paused();
  }

  /** Runs one control statement over the selected jobs, in a write of its own; how many it changed. */
  async #write(
    selector: JobSelector,
    takes: readonly JobState[],
    operation: (store: QueueStore, selection: JobSelection, now: number) => number,
  ): Promise<number> {
    const store = this.#store();
    const selection = toSelection(store, selector, takes);
    if ('ids' in selection && selection.ids.length === 0) return 0;
    return store.writes.write(() => operation(store, selection, Date.now()));
  }
}

/** Reads a selector: handles of this file (others match no job), or a filter within the states an action takes. */
function toSelection(store: QueueStore, selector: JobSelector, takes: readonly JobState[]): JobSelection {
  if (typeof selector === 'string' || Array.isArray(selector)) {
    const handles: readonly unknown[] = typeof selector === 'string' ? [selector] : selector;
    const ids: number[] = [];
    for (const handle of handles) {
      if (typeof handle !== 'string' || handle.length === 0)
        throw new InvalidOptionError('handle', 'a job handle (a non-empty string)', handle);
      const id = store.idOf(handle);
      if (id !== undefined) ids.push(id);
    }
    return { ids };
  }
  if (typeof selector !== 'object' || selector === null) {
    throw new InvalidOptionError('jobs', 'a handle, a list of handles, or { functionName, state }', selector);
  }
  const filter = selector as { functionName?: unknown; state?: unknown };
  if (filter.functionName !== undefined) checkFunctionName(filter.functionName);
  const asked =
    filter.state === undefined ? takes : Array.isArray(filter.state) ? filter.state : [filter.state];
  const states = asked.map((state) => {
    if (!takes.includes(state as JobState)) {
      throw new InvalidOptionError(
        'state',
        `one of ${takes.map((name) => `'${name}'`).join(', ')} for this action`,
        state,
      );
    }
    return stateNumber('state', state);
  });
  return { functionName: (filter.functionName as string | undefined) ?? null, states };
}

function stateNumber(option: string, state: unknown): number {
  const stored = stateNumbers[state as JobState];
  if (stored === undefined) {
    throw new InvalidOptionError(
      option,
      `a job state (${Object.keys(stateNumbers)
        .map((name) => `'${name}'`)
        .join(', ')})`,
      state,
    );
  }
  return stored;
}

function checkFunctionName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0)
    throw new InvalidOptionError('functionName', 'a non-empty string', name);
}
