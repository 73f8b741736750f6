/**
 * The notifications example's job function: send a push notification to each of a list of users. The
 * push service is stood in for by an outbox table in its own SQLite file; each batch is one durable
 * commit, as each call to a real push service would be one request.
 */
import Database from 'better-sqlite3';
import { defineFunctions } from '../../src/index.js';

/** Users per batch: one commit to the outbox (one request to a push service). */
const batchSize = 20;

export default defineFunctions({
  sendPush(input: { userIds: number[]; message: string; outbox: string }, job) {
    const outbox = new Database(input.outbox);
    try {
      outbox.pragma('journal_mode = WAL');
      outbox.pragma('synchronous = FULL');
      outbox.pragma('busy_timeout = 5000');
      outbox.exec(`CREATE TABLE IF NOT EXISTS outbox (
        job TEXT NOT NULL, user_id INTEGER NOT NULL, message TEXT NOT NULL, sent_at INTEGER NOT NULL,
        PRIMARY KEY (job, user_id))`);
      // A retried job sends again only to whom it has not sent yet.
      const send = outbox.prepare(
        'INSERT OR IGNORE INTO outbox (job, user_id, message, sent_at) VALUES (?, ?, ?, ?)',
      );
      const total = input.userIds.length;
      let sent = 0;
      for (let start = 0; start < total; start += batchSize) {
        if (job.signal.aborted) throw new Error(`stopped after ${start} of ${total}`);
        const batch = input.userIds.slice(start, start + batchSize);
        outbox.transaction(() => {
          for (const userId of batch) sent += send.run(job.handle, userId, input.message, Date.now()).changes;
        })();
        job.status(Math.min(start + batchSize, total), total);
      }
      return { sent, of: total };
    } finally {
      outbox.close();
    }
  },
});
