/**
 * Group commit: writes asked for together run in one shared `BEGIN IMMEDIATE` transaction, so that many
 * concurrent `background()` calls cost one commit (and, with `durability: 'power'`, one disk flush)
 * instead of one each. Each write still gets its own answer.
 *
 * When a commit flushes the disk, the batch gathers for a whole turn of the event loop, so that calls
 * from separate I/O callbacks (separate HTTP requests, say) share the flush. When it does not, the
 * batch is committed on the next microtask: calls made together still share it, and a lone call does
 * not wait a turn for company that costs nothing to skip.
 */
import type { SqliteConnection } from './sqlite/sqlite-connection.js';

interface PendingWrite {
  readonly operation: (db: SqliteConnection) => unknown;
  readonly resolve: (value: unknown, last: boolean) => void;
  readonly reject: (error: unknown) => void;
}

const settled = Promise.resolve();

/**
 * What a write's callback threw (a defect: see writeThen), thrown again on its own as an uncaught
 * exception, so that the other writes of the batch still get their answers.
 */
function throwAlone(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** Batches writes into shared transactions. */
export class WriteBatcher {
  readonly #db: SqliteConnection;
  readonly #transaction: (work: () => void) => void;
  readonly #committed: () => void;
  readonly #gatherForATurn: boolean;
  #pending: PendingWrite[] = [];
  #scheduled = false;

  /**
   * @param transaction runs its work in one write transaction (QueueStore.transaction)
   * @param committed called after every commit (to wake whoever waits on the file)
   * @param gatherForATurn whether a batch waits a turn of the event loop (commits that flush the disk)
   */
  constructor(
    db: SqliteConnection,
    transaction: (work: () => void) => void,
    committed: () => void,
    gatherForATurn: boolean,
  ) {
    this.#db = db;
    this.#transaction = transaction;
    this.#committed = committed;
    this.#gatherForATurn = gatherForATurn;
  }

  /** Runs `operation` in the next shared transaction; resolves with its value once committed. */
  write<T>(operation: (db: SqliteConnection) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => this.writeThen(operation, resolve, reject));
  }

  /**
   * Runs `operation` in the next shared transaction, and calls `committed` with its value (or `failed`)
   * in the flush itself, as soon as the commit returns: before anything the commit wakes, and before
   * the turns a promise's reactions take. A runner's claim answers so, and its jobs start that much
   * sooner. `last`: whether it was the last write of its transaction (none after it saw what it did).
   * The callbacks must not throw.
   */
  writeThen<T>(
    operation: (db: SqliteConnection) => T,
    committed: (value: T, last: boolean) => void,
    failed: (error: unknown) => void,
  ): void {
    this.#pending.push({
      operation,
      resolve: committed as (value: unknown, last: boolean) => void,
      reject: failed,
    });
    if (!this.#scheduled) {
      this.#scheduled = true;
      if (this.#gatherForATurn) setImmediate(this.#flushNow);
      else settled.then(this.#flushNow);
    }
  }

  readonly #flushNow = () => this.flush();

  /** Commits what is pending now. A failing write fails alone; a failing commit fails them all. */
  flush(): void {
    this.#scheduled = false;
    const writes = this.#pending;
    if (writes.length === 0) return;
    this.#pending = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#transaction(() => {
        for (const { operation } of writes) {
          try {
            outcomes.push({ ok: true, value: operation(this.#db) });
          } catch (error) {
            // One statement failing rolls back that statement only; the others still commit.
            outcomes.push({ ok: false, value: error });
          }
        }
      });
    } catch (error) {
      for (const write of writes)
        try {
          write.reject(error);
        } catch (thrown) {
          throwAlone(thrown);
        }
      return;
    }
    writes.forEach((write, index) => {
      const outcome = outcomes[index] as { ok: boolean; value: unknown };
      try {
        if (outcome.ok) write.resolve(outcome.value, index === writes.length - 1);
        else write.reject(outcome.value);
      } catch (thrown) {
        throwAlone(thrown);
      }
    });
    this.#committed();
  }
}
