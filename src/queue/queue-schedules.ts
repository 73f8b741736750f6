/**
 * A queue file's schedules (JobSchedules): kept as rows (sql/schedules.ts), enqueued by the file's
 * runners (schedule-ticker.ts). The same for a client's queue and the CLI.
 */
import type { JobSchedules, Priority, ScheduleInfo, ScheduleRequest } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { priorityNames, priorityRank } from './priority.js';
import type { QueueStore } from './queue-store.js';
import type { ScheduleRow } from './sql/schedules.js';
import { toStored } from './stored-payload.js';

/** A schedule id's longest, in bytes of UTF-8: with a slot's time it makes its jobs' unique (64 at most). */
export const maxScheduleIdBytes = 32;

/** The schedules of one queue file. */
export class QueueSchedules implements JobSchedules {
  readonly #store: () => QueueStore;
  readonly #defaults: () => { readonly attempts: number; readonly backoff: number };

  /**
   * @param store the file (opened on first use)
   * @param defaults attempts and backoff of jobs that set none
   */
  constructor(
    store: () => QueueStore,
    defaults: () => { readonly attempts: number; readonly backoff: number },
  ) {
    this.#store = store;
    this.#defaults = defaults;
  }

  async upsert(request: ScheduleRequest): Promise<ScheduleInfo> {
    checkScheduleId(request.id);
    const store = this.#store();
    const definition = {
      id: request.id,
      functionName: request.functionName,
      input: toStored(request.input, request.payload),
      cron: request.cron ?? null,
      tz: request.tz ?? null,
      everyMs: request.everyMs ?? null,
      catchUp: request.catchUp,
      priority: priorityRank[request.priority],
      maxAttempts: request.attempts ?? this.#defaults().attempts,
      backoff: request.backoff ?? this.#defaults().backoff,
      target: request.target ?? null,
    };
    store.schedules.clockOf(definition); // a bad expression is refused before the file is touched
    const row = await store.writes.write(() => store.schedules.upsert(definition, Date.now()));
    return toInfo(row as ScheduleRow);
  }

  async remove(id: string): Promise<boolean> {
    checkScheduleId(id);
    const store = this.#store();
    return (await store.writes.write(() => store.schedules.remove(id))) === true;
  }

  async list(): Promise<ScheduleInfo[]> {
    return this.#store().schedules.list().map(toInfo);
  }
}

export function checkScheduleId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || Buffer.byteLength(id) > maxScheduleIdBytes)
    throw new InvalidOptionError('id', `a schedule id of 1 to ${maxScheduleIdBytes} bytes`, id);
}

/** A row as the API shows it. */
export function toInfo(row: ScheduleRow): ScheduleInfo {
  return {
    id: row.id,
    functionName: row.functionName,
    ...(row.cron === null ? {} : { cron: row.cron }),
    ...(row.tz === null ? {} : { tz: row.tz }),
    ...(row.everyMs === null ? {} : { everyMs: row.everyMs }),
    catchUp: row.catchUp,
    priority: priorityNames[row.priority] as Priority,
    ...(row.target === null ? {} : { target: row.target }),
    nextAt: row.nextAt,
    lastSlot: row.lastSlot,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
