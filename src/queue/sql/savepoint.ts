/** All or none within a larger transaction: a savepoint, with the counts gathered under it. */
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';

/**
 * Runs `work` under a savepoint: if it throws, what it wrote is rolled back, and the counts it gathered
 * with it (`restoreCounts`, from `counts.snapshot()` taken before), and the rest of the transaction goes
 * on. A batch of writes shares one transaction, and one write that fails must not leave half of itself.
 */
export function inSavepoint<T>(db: SqliteConnection, work: () => T, restoreCounts: () => void): T {
  db.exec('SAVEPOINT part');
  try {
    const done = work();
    db.exec('RELEASE part');
    return done;
  } catch (error) {
    db.exec('ROLLBACK TO part');
    db.exec('RELEASE part');
    restoreCounts();
    throw error;
  }
}
