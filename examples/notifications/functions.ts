/**
 * The notifications example's job function: send a push notification to each of a list of users. The
 * push service is stood in for by an outbox table in its own SQLite file that counts every send, so a
 * notification sent twice shows; each batch is one durable commit, as each call to a real push service
 * would be one request.
 *
 * After each batch the job records a checkpoint (`job.checkpoint`): when its runner is killed part way,
 * the next attempt resumes after the last batch recorded instead of sending to everyone again. What it
 * may send twice is the batch in flight when the runner died (at most `batchSize` notifications).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { defineFunctions } from '../../src/index.js';

/** Users per batch: one commit to the outbox (one request to a push service). */
const batchSize = 20;

/** Where a sendPush job got to: the users before this position have their notification. */
interface Sent {
  readonly sentUpTo: number;
}

export default defineFunctions({
  async sendPush(
    input: { userIds: number[]; message: string; outbox: string; pauseMs?: number },
    job,
  ): Promise<{ sent: number; of: number; resumedAt: number }> {
    const outbox = new Database(input.outbox);
    try {
      outbox.pragma('journal_mode = WAL');
      outbox.pragma('synchronous = FULL');
      outbox.pragma('busy_timeout = 5000');
      outbox.exec(`CREATE TABLE IF NOT EXISTS outbox (
        job TEXT NOT NULL, user_id INTEGER NOT NULL, message TEXT NOT NULL, sends INTEGER NOT NULL,
        sent_at INTEGER NOT NULL, PRIMARY KEY (job, user_id))`);
      const send = outbox.prepare(
        `INSERT INTO outbox (job, user_id, message, sends, sent_at) VALUES (?, ?, ?, 1, ?)
         ON CONFLICT (job, user_id) DO UPDATE SET sends = sends + 1, sent_at = excluded.sent_at`,
      );
      const total = input.userIds.length;
      const resumedAt = (job.resumeFrom as Sent | undefined)?.sentUpTo ?? 0;
      for (let start = resumedAt; start < total; start += batchSize) {
        if (job.signal.aborted) throw new Error(`stopped after ${start} of ${total}`);
        const end = Math.min(start + batchSize, total);
        const batch = input.userIds.slice(start, end);
        outbox.transaction(() => {
          for (const userId of batch) send.run(job.handle, userId, input.message, Date.now());
        })();
        job.checkpoint({ sentUpTo: end } satisfies Sent);
        job.status(end, total);
        // A push service answers in some milliseconds: the example can say how many.
        if (input.pauseMs) await sleep(input.pauseMs);
      }
      return { sent: total - resumedAt, of: total, resumedAt };
    } finally {
      outbox.close();
    }
  },
});
