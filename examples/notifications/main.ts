/**
 * npm run example:notifications: the seed's background scenario, end to end over real HTTP. Starts the
 * service, asks it to notify 2,000 users, shows how fast it answered, then follows the job's progress
 * until every notification is in the outbox.
 *
 * Options: --users N (2000), --data-dir DIR (./.data beside this file).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { startNotificationServer } from './server.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '2000' },
    'data-dir': { type: 'string', default: fileURLToPath(new URL('./.data', import.meta.url)) },
  },
});
const users = Number(values.users);
if (!Number.isInteger(users) || users < 1) {
  console.error(`--users must be a whole number from 1 up, got ${JSON.stringify(values.users)}`);
  process.exit(2);
}
const dataDir = values['data-dir'];
mkdirSync(dataDir, { recursive: true });
const outbox = join(dataDir, 'outbox.db');
const queue = join(dataDir, 'queue.db');

const service = await startNotificationServer({ queue, outbox });
console.log(`notification service on ${service.url} (queue ${queue})\n`);

const asked = performance.now();
const response = await fetch(`${service.url}/notifications`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ users, message: 'Your report is ready' }),
});
const answeredMs = performance.now() - asked;
const { handle, status } = (await response.json()) as { handle: string; status: string };
console.log(
  `POST /notifications for ${users} users -> ${response.status} in ${answeredMs.toFixed(1)} ms: ${handle}`,
);

for (;;) {
  const progress = (await (await fetch(`${service.url}${status}`)).json()) as {
    state: string;
    progress: { sent: number; of: number };
  };
  console.log(`  GET ${status} -> ${progress.state}, ${progress.progress.sent}/${progress.progress.of}`);
  if (progress.state === 'completed' || progress.state === 'dead') break;
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const finishedMs = performance.now() - asked;
await service.close();

const db = new Database(outbox, { readonly: true });
const sent = db.prepare('SELECT count(*) FROM outbox WHERE job = ?').pluck().get(handle);
db.close();
console.log(
  `\n${sent} notifications in the outbox for ${handle}; the request took ${answeredMs.toFixed(1)} ms, the sending ${finishedMs.toFixed(0)} ms`,
);
