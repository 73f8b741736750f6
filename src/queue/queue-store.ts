/**
 * One process's connection to a queue file: the prepared operations, the group-commit batcher for
 * writes, and the signal that the file changed. Reads run directly (WAL readers never wait for writers).
 */
import { ChangeSignal } from './change-signal.js';
import { openQueueFile } from './queue-file.js';
import type { Durability } from './queue-options.js';
import { prepareCancelJob } from './sql/cancel-job.js';
import { prepareClaimJobs } from './sql/claim-jobs.js';
import { prepareLimitedClaim } from './sql/claim-limited.js';
import { prepareControlJobs } from './sql/control-jobs.js';
import { prepareFlows } from './sql/flows.js';
import { prepareFunctionCounts } from './sql/function-counts.js';
import { prepareInsertJobs } from './sql/insert-jobs.js';
import { prepareJobEvents } from './sql/job-events.js';
import { prepareJobTotals } from './sql/job-totals.js';
import { prepareLeases } from './sql/leases.js';
import { prepareReadJobs } from './sql/read-jobs.js';
import { prepareRetention } from './sql/retention.js';
import { prepareRunners } from './sql/runners.js';
import { prepareSchedules } from './sql/schedules.js';
import { prepareSettleJobs } from './sql/settle-jobs.js';
import type { SqliteConnection, SqliteStatement } from './sqlite/sqlite-connection.js';
import { WriteBatcher } from './write-batcher.js';

/** How to open a store. */
export interface StoreOptions {
  readonly durability: Durability;
  /** The safety-net interval at which waiters look at the file even without a sign of change. */
  readonly pollMs: number;
  /** Whether a missing file is created. @default true */
  readonly create?: boolean;
}

/** A connection to a queue file with everything the backend and the runner do with it. */
export class QueueStore {
  readonly file: string;
  readonly db: SqliteConnection;
  /** The file's own id, part of every handle, so that a handle of another file is not mistaken. */
  readonly queueId: string;
  /** Submitters' writes: committed soon, shared by whatever was asked for together. */
  readonly writes: WriteBatcher;
  /** A runner's writes: every report of a whole event-loop turn shares a commit. */
  readonly runnerWrites: WriteBatcher;
  readonly changes: ChangeSignal;
  readonly insertJobs: ReturnType<typeof prepareInsertJobs>;
  readonly claimJobs: ReturnType<typeof prepareClaimJobs>;
  /** The claim of a runner that knows a function with a limit. */
  readonly claimLimited: ReturnType<typeof prepareLimitedClaim>;
  readonly settle: ReturnType<typeof prepareSettleJobs>;
  readonly leases: ReturnType<typeof prepareLeases>;
  readonly events: ReturnType<typeof prepareJobEvents>;
  readonly readJobs: ReturnType<typeof prepareReadJobs>;
  readonly cancelJob: ReturnType<typeof prepareCancelJob>;
  readonly runners: ReturnType<typeof prepareRunners>;
  /** Jobs per function and state, kept up to date by every statement that changes jobs. */
  readonly counts: ReturnType<typeof prepareFunctionCounts>;
  readonly prune: ReturnType<typeof prepareRetention>;
  readonly control: ReturnType<typeof prepareControlJobs>;
  readonly totals: ReturnType<typeof prepareJobTotals>;
  /** Schedules, and the tick that enqueues their due slots. */
  readonly schedules: ReturnType<typeof prepareSchedules>;
  /** What a flow's continuation is given: its children's outcomes. */
  readonly flows: ReturnType<typeof prepareFlows>;
  readonly #dataVersion: SqliteStatement;
  #closed = false;
  /** Who hears of the jobs this process's runner ends (JobEnds, while someone awaits a job). */
  #endListener: ((id: number) => void) | undefined;

  constructor(file: string, options: StoreOptions) {
    this.db = openQueueFile(file, options.durability, options.create ?? true);
    this.file = this.db.file;
    this.queueId = this.db.prepare("SELECT value FROM queue_info WHERE key = 'queue_id'").value() as string;
    let seen: number | undefined;
    this.changes = new ChangeSignal(this.file, options.pollMs, () => {
      if (this.#closed) return false;
      const version = this.otherCommits();
      if (version === seen) return false;
      seen = version;
      return true;
    });
    const committed = () => this.changes.notify();
    const transaction = <T>(work: () => T) => this.transaction(work, 'immediate');
    this.writes = new WriteBatcher(this.db, transaction, committed, options.durability === 'power');
    this.runnerWrites = new WriteBatcher(this.db, transaction, committed, true);
    this.counts = prepareFunctionCounts(this.db);
    this.totals = prepareJobTotals(this.db);
    this.insertJobs = prepareInsertJobs(this.db, this.counts);
    this.claimJobs = prepareClaimJobs(this.db, this.counts);
    this.claimLimited = prepareLimitedClaim(this.db, this.counts, this.claimJobs);
    this.settle = prepareSettleJobs(this.db, this.counts);
    this.leases = prepareLeases(this.db);
    this.events = prepareJobEvents(this.db);
    this.readJobs = prepareReadJobs(this.db);
    this.cancelJob = prepareCancelJob(this.db, this.counts);
    this.runners = prepareRunners(this.db);
    this.prune = prepareRetention(this.db, { totals: this.totals, counts: this.counts });
    this.control = prepareControlJobs(this.db, this.totals, this.counts);
    this.flows = prepareFlows(this.db, (id) => this.handle(id));
    this.schedules = prepareSchedules(this.db, this.insertJobs);
    this.#dataVersion = this.db.prepare('PRAGMA data_version');
  }

  /**
   * Runs `work` in a transaction that also writes the changes of the jobs' counts it made (every write
   * of jobs goes through here, or through the batchers, which use it).
   */
  transaction<T>(work: () => T, kind: 'immediate' | 'deferred'): T {
    try {
      return this.db.transaction(() => {
        const value = work();
        this.counts.write();
        return value;
      }, kind);
    } finally {
      // Rolled back: the changes gathered went with it. Committed: there are none left.
      this.counts.discard();
    }
  }

  /**
   * A number that changes when another connection commits to the file (SQLite's data_version; this
   * connection's own commits leave it alone): what a reader that looks now and then compares.
   */
  otherCommits(): number {
    return this.#dataVersion.value() as number;
  }

  /**
   * Listens for the jobs a runner of this process ends, told in the flush of the commit that ended each
   * (before the change signal's listeners and a promise's turns); undefined stops listening. One listener:
   * the client's JobEnds.
   */
  onJobEnded(listener: ((id: number) => void) | undefined): void {
    this.#endListener = listener;
  }

  /** A runner of this process committed the end of job `id` (completed, or failed, perhaps for another attempt). */
  jobEnded(id: number): void {
    this.#endListener?.(id);
  }

  /** A job's handle: `Q:<queue id>:<job id>`. */
  handle(id: number): string {
    return `Q:${this.queueId}:${id}`;
  }

  /** The job id of a handle of this file, or undefined for any other handle. */
  idOf(handle: string): number | undefined {
    const prefix = `Q:${this.queueId}:`;
    if (!handle.startsWith(prefix)) return undefined;
    const id = Number(handle.slice(prefix.length));
    return Number.isSafeInteger(id) && id > 0 ? id : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Commits what is pending, then closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.writes.flush();
    this.runnerWrites.flush();
    this.#closed = true;
    this.db.close();
  }
}
