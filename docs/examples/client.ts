// app.ts: the client
import { createClient } from 'gearshift';
import type functions from './functions.js';

const gs = createClient<typeof functions>({
  functions: new URL('./functions.js', import.meta.url),
  queue: process.env.QUEUE_FILE, // where background jobs are kept (.gearshift/queue.db by default)
});

const one = await gs.run('salesReport', { dbPath: 'shop-1.db' }); // doNormal
const all = await gs.runAll(['shop-1.db', 'shop-2.db'].map((dbPath) => gs.task('salesReport', { dbPath })));
const total = all.reduce((sum, result) => sum + (result.ok ? result.result.total : 0), 0);

const handle = await gs.background('sendPush', { userIds: [1, 2, 3] }, { priority: 'high' }); // doBackground
const { state, attempts } = await gs.status(handle); // jobStatus, and more from the queue file
const ended = await gs.finished(handle); // waits for its end, woken by the commit

console.log(one.total, total, state, attempts, ended.state);
await gs.close(); // finish what was submitted, then stop
