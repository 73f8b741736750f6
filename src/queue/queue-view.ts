/**
 * The operator's view of a queue file, read-only: the overview per function (jobs in each state, totals
 * since the file began, paused, live workers), pages of jobs, one job with its input and its events, and
 * the ends of the last hour per minute. What the console and the metrics show, read from the file alone
 * (a console restart loses nothing): the overview from the counts the file keeps (a few rows however
 * many jobs), pages and searches from its indexes (a page costs the same deep in a million jobs).
 */
import type { JobStatus, ScheduleInfo } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { toStatus } from './job-status.js';
import { Queue, type RunnerStatus } from './queue-admin.js';
import { toInfo } from './queue-schedules.js';
import { QueueStore } from './queue-store.js';
import {
  type EndedJob,
  type FinishedCursor,
  prepareConsoleReads,
  type QueuedCursor,
} from './sql/console-reads.js';
import { retriedOffset } from './sql/job-totals.js';
import type { JobRow } from './sql/read-jobs.js';
import { State, stateNames } from './stored-codes.js';
import { fromStored } from './stored-payload.js';

/** The state names a job may have, as the API names them. */
export type StateName = (typeof stateNames)[number];

/** One function's line of the overview. */
export interface FunctionOverview {
  readonly functionName: string;
  /** Jobs in each state now. */
  readonly states: Readonly<Record<StateName, number>>;
  /**
   * Jobs that ended in each end state since the file began: those in the file now and those retention,
   * `remove` or `purge` deleted (and, for failed, dead and cancelled, those retried since).
   */
  readonly totals: Readonly<Record<'completed' | 'failed' | 'dead' | 'cancelled', number>>;
  /** Jobs submitted since the file began (those a unique coalesced are one). */
  readonly submitted: number;
  readonly paused: boolean;
  /** Live runners that run it. */
  readonly workers: number;
}

/** The overview of a file. */
export interface Overview {
  readonly file: string;
  readonly functions: readonly FunctionOverview[];
  readonly runners: readonly RunnerStatus[];
  /** The file's schedules, each with its next slot. */
  readonly schedules: readonly ScheduleInfo[];
  /** When it was read (milliseconds since the epoch). */
  readonly at: number;
}

/** A page of jobs, and the cursor of the next one (undefined on the last). */
export interface JobsPage {
  readonly jobs: readonly JobStatus[];
  readonly next: string | undefined;
}

/** One job as the console shows it: its status, its input, and what happened to it, in order. */
export interface JobDetail {
  readonly status: JobStatus;
  /** The input as JSON, or bytes as base64 (`inputEncoding` says which). */
  readonly input: unknown;
  readonly inputEncoding: 'json' | 'base64' | 'none';
  readonly events: readonly {
    readonly at: number | undefined;
    readonly event: string;
    readonly detail?: unknown;
  }[];
}

/** One minute of the last hour. */
export interface MinutePoint {
  /** The minute's start, in milliseconds since the epoch. */
  readonly at: number;
  readonly completed: number;
  /** Ended failed, dead or cancelled. */
  readonly failed: number;
  /** Averages over a sample of the minute's completed jobs, when there were some. */
  readonly waitMs: number | null;
  readonly runMs: number | null;
}

const endStates = ['completed', 'failed', 'dead', 'cancelled'] as const;
/** How long a throughput answer is reused: its cost grows with the jobs of the last hour. */
const throughputReuseMs = 5000;
/** Completed jobs sampled per function for wait and run times. */
const timeSample = 2000;

/**
 * Opens an existing queue file for an operator's tool (the console, the metrics): its view, and its
 * admin over the same connection (whose `control` acts on the jobs). Closing the admin closes both.
 */
export function openQueueView(path: string): { view: QueueView; queue: Queue } {
  const store = new QueueStore(path, { durability: 'process', pollMs: 1000, create: false });
  const queue = new Queue(store);
  return { view: new QueueView(store, queue), queue };
}

/** A read-only view of a queue file, for operators' tools. */
export class QueueView {
  readonly #store: QueueStore;
  readonly #queue: Queue;
  readonly #reads: ReturnType<typeof prepareConsoleReads>;
  #throughput: { readonly at: number; readonly points: readonly MinutePoint[] } | undefined;

  /** @param queue the file's admin view (its runners and functions), over the same store */
  constructor(store: QueueStore, queue: Queue) {
    this.#store = store;
    this.#queue = queue;
    this.#reads = prepareConsoleReads(store.db);
  }

  get file(): string {
    return this.#store.file;
  }

  /** A number that changes when another process commits to the file: cheap to compare now and then. */
  otherCommits(): number {
    return this.#store.otherCommits();
  }

  overview(): Overview {
    const functions = new Map<
      string,
      { states: Record<StateName, number>; totals: Record<string, number>; gone: number }
    >();
    const line = (name: string) => {
      let found = functions.get(name);
      if (!found) {
        found = {
          states: { queued: 0, running: 0, completed: 0, failed: 0, dead: 0, cancelled: 0 },
          totals: { completed: 0, failed: 0, dead: 0, cancelled: 0 },
          gone: 0,
        };
        functions.set(name, found);
      }
      return found;
    };
    for (const { functionName, state, count } of this.#store.counts.all()) {
      const entry = line(functionName);
      const name = stateNames[state];
      if (!name) continue;
      entry.states[name] = count;
      if (state >= State.completed) entry.totals[name] = (entry.totals[name] ?? 0) + count;
    }
    for (const { functionName, state, count } of this.#store.totals.all()) {
      const ended = state >= retriedOffset ? state - retriedOffset : state;
      const name = stateNames[ended];
      if (!name || ended < State.completed) continue;
      const entry = line(functionName);
      entry.totals[name] = (entry.totals[name] ?? 0) + count;
      if (state < retriedOffset) entry.gone += count;
    }
    const runners = this.#queue.runners();
    const workers = new Map<string, number>();
    for (const runner of runners) {
      for (const name of runner.functions) workers.set(name, (workers.get(name) ?? 0) + 1);
    }
    const paused = new Set(this.#store.control.paused());
    for (const name of [...workers.keys(), ...paused]) line(name);
    return {
      file: this.#store.file,
      functions: [...functions]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([functionName, { states, totals, gone }]) => ({
          functionName,
          states,
          totals: totals as FunctionOverview['totals'],
          submitted: Object.values(states).reduce((sum, count) => sum + count, 0) + gone,
          paused: paused.has(functionName),
          workers: workers.get(functionName) ?? 0,
        })),
      runners,
      schedules: this.#store.schedules.list().map(toInfo),
      at: Date.now(),
    };
  }

  /**
   * A page of the jobs in a state (of one function, or all): queued ones in the order they will run,
   * running ones newest first, finished ones by their end, the latest first. `cursor` is the `next` of
   * the page before.
   */
  jobs(query: { state: StateName; functionName?: string; cursor?: string; limit?: number }): JobsPage {
    const { state, functionName } = query;
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), 500);
    const stored = stateNames.indexOf(state);
    if (stored === -1) {
      throw new InvalidOptionError('state', stateNames.map((name) => `'${name}'`).join(', '), state);
    }
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    let rows: JobRow[];
    let next: unknown;
    if (stored === State.queued) {
      rows = this.#reads.queuedPage(functionName ?? null, cursor as QueuedCursor | undefined, limit);
      const last = rows.at(-1);
      next = last && { priority: last.priority, runAt: last.runAt, id: last.id };
    } else if (stored === State.running) {
      rows = this.#reads.runningPage(
        functionName ?? null,
        (cursor as { id?: number } | undefined)?.id,
        limit,
      );
      next = rows.at(-1) && { id: rows.at(-1)?.id };
    } else {
      // Newest end first across functions: each function's page from its index, merged.
      const names = functionName ? [functionName] : this.#reads.endedFunctions(stored);
      rows = names
        .flatMap((name) =>
          this.#reads.finishedPage(stored, name, cursor as FinishedCursor | undefined, limit),
        )
        .sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0) || b.id - a.id)
        .slice(0, limit);
      const last = rows.at(-1);
      next = last && { finishedAt: last.finishedAt, id: last.id };
    }
    return {
      jobs: rows.map((row) => toStatus(this.#store.handle(row.id), row)),
      next: rows.length === limit && next ? encodeCursor(next) : undefined,
    };
  }

  /** The jobs a search names: a handle of this file, or the unique of a queued or running job. */
  find(text: string): JobStatus[] {
    const id = this.#store.idOf(text.trim());
    if (id !== undefined) {
      const row = this.#store.readJobs.byId(id);
      return row ? [toStatus(this.#store.handle(row.id), row)] : [];
    }
    return this.#reads
      .uniqueFunctions()
      .flatMap((name) =>
        this.#reads.byUnique(name, text).map((row) => toStatus(this.#store.handle(row.id), row)),
      );
  }

  /** One job with its input and its events; undefined when the file has no such job. */
  job(handle: string): JobDetail | undefined {
    const id = this.#store.idOf(handle);
    const row = id === undefined ? undefined : this.#store.readJobs.detail(id);
    if (!row || id === undefined) return undefined;
    const status = toStatus(handle, row);
    const input = row.input;
    const events: { at: number | undefined; event: string; detail?: unknown }[] = [
      { at: row.createdAt, event: 'created' },
    ];
    if (row.runAt > row.createdAt) events.push({ at: row.runAt, event: 'due' });
    if (row.startedAt !== null)
      events.push({ at: row.startedAt, event: `started (attempt ${row.attempts})` });
    for (const stored of this.#store.events.after(id, 0)) {
      events.push({
        at: undefined,
        event: ['status', 'data', 'warning'][stored.kind] ?? 'event',
        detail: fromStored(stored.body),
      });
    }
    if (row.finishedAt !== null) {
      events.push({
        at: row.finishedAt,
        event: status.state ?? 'ended',
        ...(status.lastError ? { detail: status.lastError } : {}),
      });
    } else if (status.lastError)
      events.push({ at: undefined, event: 'last attempt failed', detail: status.lastError });
    return {
      status,
      input:
        input === null
          ? null
          : typeof input === 'string'
            ? fromStored(input)
            : Buffer.from(input).toString('base64'),
      inputEncoding: input === null ? 'none' : typeof input === 'string' ? 'json' : 'base64',
      events,
    };
  }

  /**
   * The jobs that ended after a cursor, per function and end state, oldest end first (at most `limit`
   * per function and state): what an exporter observes once each. Call with the returned cursors.
   */
  endedSince(
    cursors: ReadonlyMap<string, FinishedCursor>,
    since: number,
    limit: number,
  ): { functionName: string; state: StateName; jobs: EndedJob[]; key: string }[] {
    const found: { functionName: string; state: StateName; jobs: EndedJob[]; key: string }[] = [];
    for (const state of endStates) {
      for (const functionName of this.#reads.endedFunctions(State[state])) {
        const key = `${functionName}\u0000${state}`;
        const cursor = cursors.get(key) ?? { finishedAt: since, id: 0 };
        const jobs = this.#reads.endedAfter(State[state], functionName, cursor, limit);
        if (jobs.length > 0) found.push({ functionName, state, jobs, key });
      }
    }
    return found;
  }

  /** Per minute of the last hour: jobs ended, and wait and run times (reused for a few seconds). */
  throughput(now = Date.now()): readonly MinutePoint[] {
    if (this.#throughput && now - this.#throughput.at < throughputReuseMs) return this.#throughput.points;
    const since = now - 3_600_000;
    const minutes = new Map<number, { completed: number; failed: number; wait: number[]; run: number[] }>();
    const minute = (at: number) => {
      let found = minutes.get(at);
      if (!found) {
        found = { completed: 0, failed: 0, wait: [], run: [] };
        minutes.set(at, found);
      }
      return found;
    };
    for (const state of endStates) {
      for (const name of this.#reads.endedFunctions(State[state])) {
        for (const row of this.#reads.endsSince(State[state], name, since)) {
          const entry = minute(row.minute);
          if (state === 'completed') entry.completed += row.count;
          else entry.failed += row.count;
        }
      }
    }
    for (const name of this.#reads.endedFunctions(State.completed)) {
      for (const row of this.#reads.timesSince(name, since, timeSample)) {
        const entry = minute(row.minute);
        if (row.waitMs !== null) entry.wait.push(row.waitMs);
        if (row.runMs !== null) entry.run.push(row.runMs);
      }
    }
    const average = (values: number[]) =>
      values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
    const first = Math.floor(since / 60_000) + 1;
    const points: MinutePoint[] = [];
    for (let at = first; at <= Math.floor(now / 60_000); at++) {
      const entry = minutes.get(at);
      points.push({
        at: at * 60_000,
        completed: entry?.completed ?? 0,
        failed: entry?.failed ?? 0,
        waitMs: entry ? average(entry.wait) : null,
        runMs: entry ? average(entry.run) : null,
      });
    }
    this.#throughput = { at: now, points };
    return points;
  }
}

function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function decodeCursor(text: string): unknown {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    if (typeof value === 'object' && value !== null) return value;
  } catch {}
  throw new InvalidOptionError('cursor', 'the `next` of a page', text);
}
