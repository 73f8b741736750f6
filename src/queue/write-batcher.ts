/**
 * Group commit: every write asked for during one turn of the event loop runs in one shared `BEGIN
 * IMMEDIATE` transaction, so that many concurrent `background()` calls cost one commit (and, with
 * `durability: 'power'`, one disk flush) instead of one each. Each write still gets its own answer.
 */
import type Database from 'better-sqlite3';

interface PendingWrite {
  readonly operation: (db: Database.Database) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Batches writes into shared transactions. */
export class WriteBatcher {
  readonly #db: Database.Database;
  readonly #committed: () => void;
  #pending: PendingWrite[] = [];
  #scheduled = false;

  /** @param committed called after every commit (to wake whoever waits on the file) */
  constructor(db: Database.Database, committed: () => void) {
    this.#db = db;
    this.#committed = committed;
  }

  /** Runs `operation` in the next shared transaction; resolves with its value once committed. */
  write<T>(operation: (db: Database.Database) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ operation, resolve: resolve as (value: unknown) => void, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        // The next turn of the event loop: writes asked for meanwhile, from anywhere, join this one.
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits what is pending now. A failing write fails alone; a failing commit fails them all. */
  flush(): void {
    this.#scheduled = false;
    const writes = this.#pending;
    if (writes.length === 0) return;
    this.#pending = [];
    const outcomes: { ok: boolean; value: unknown }[] = [];
    try {
      this.#db
        .transaction(() => {
          for (const { operation } of writes) {
            try {
              outcomes.push({ ok: true, value: operation(this.#db) });
            } catch (error) {
              // One statement failing rolls back that statement only; the others still commit.
              outcomes.push({ ok: false, value: error });
            }
          }
        })
        .immediate();
    } catch (error) {
      for (const write of writes) write.reject(error);
      return;
    }
    writes.forEach((write, index) => {
      const outcome = outcomes[index] as { ok: boolean; value: unknown };
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.value);
    });
    this.#committed();
  }
}
