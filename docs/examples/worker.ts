import { createWorker } from 'gearshift';

// Jobs from a queue file (any number of workers, in any number of processes, may share it)...
const worker = createWorker({
  functions: new URL('./functions.js', import.meta.url),
  queue: process.env.QUEUE_FILE ?? 'var/jobs.db',
});
// ...or from job servers: createWorker({ functions, gearman: { servers: ['10.0.0.5:4730'] } })

worker.on('jobEnded', (event) => console.log(`${event.functionName} ${event.outcome}`));
await worker.start();
console.log(worker.description); // runs salesReport, sendPush, thumbnail from .../jobs.db
process.once('SIGTERM', () => worker.stop(10_000));
