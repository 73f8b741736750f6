/**
 * What runs inside each worker thread of the local pool: piscina calls the default export once per task.
 * Reports go out on parentPort in the order they happen, which is also the order the main thread sees
 * them: a job's events never overtake its result, and Node delivers what a thread posted before it dies.
 */
import { BroadcastChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import { loadFunctionsModule } from '../functions/load-module.js';
import { deserializeError, serializeError } from '../payload/remote-error.js';
import { BatchRunner } from './batch-runner.js';
import type { AbortMessage, ManifestAnswer, TaskMessage, ThreadData, ThreadReport } from './messages.js';

const data = workerData as ThreadData;
const port = parentPort;
if (!port) throw new Error('gearshift: thread-entry must run in a worker thread');

function report(message: ThreadReport): void {
  port?.postMessage(message);
}

const runner = new BatchRunner(data.handlePrefix, {
  status: (id, numerator, denominator) => report({ t: 'status', id, numerator, denominator }),
  data: (id, chunk) => report({ t: 'data', id, chunk }),
  warning: (id, message) => report({ t: 'warning', id, message }),
  skipped: (id) => report({ t: 'skipped', id }),
  done(id, micros, outcome) {
    if (outcome.ok) report({ t: 'done', id, micros, ok: true, value: outcome.value });
    else
      report({
        t: 'done',
        id,
        micros,
        ok: false,
        origin: outcome.origin,
        error: serializeError(outcome.thrown),
      });
  },
});

const aborts = new BroadcastChannel(data.abortChannel);
// The channel must not keep an idle thread alive: piscina decides when threads end.
aborts.unref();
aborts.onmessage = (event) => {
  const message = (event as { data: AbortMessage }).data;
  runner.abort(message.id, deserializeError(message.reason));
};

/** Runs one piscina task: a batch of jobs, or a description of the functions module. */
export default async function handleTask(task: TaskMessage): Promise<ManifestAnswer | undefined> {
  if (task.kind === 'manifest') {
    try {
      return { ok: true, functions: (await loadFunctionsModule(data.functionsModule)).describe() };
    } catch (thrown) {
      return { ok: false, error: serializeError(thrown) };
    }
  }
  report({ t: 'begin', batch: task.batch, thread: threadId });
  await runner.run(loadFunctionsModule(data.functionsModule), task.jobs);
  return undefined;
}
