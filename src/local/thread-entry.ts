/**
 * What runs inside each worker thread of the local pool: piscina calls the default export once per task.
 * Reports go out on the thread's report port in the order they happen, which is also the order the main
 * thread reads them: a job's events never overtake its result, and what a thread posted before it died
 * is already in the port's queue, where the main thread drains it before it deals with the death.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BroadcastChannel, MessageChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import type { FunctionSet } from '../functions/define.js';
import { loadFunctionsModule } from '../functions/load-module.js';
import { deserializeError, serializeError } from '../payload/remote-error.js';
import { BatchRunner, type RunOnBehalf } from './batch-runner.js';
import {
  type AbortMessage,
  decodeBatch,
  type JobMessage,
  type ManifestAnswer,
  type ReportPortHandshake,
  type TailAnswer,
  type TaskMessage,
  type ThreadData,
  type ThreadReport,
} from './messages.js';
import type { RunningJob } from './run-job.js';

const data = workerData as ThreadData;
if (!parentPort) throw new Error('gearshift: thread-entry must run in a worker thread');
const { port1: reportPort, port2 } = new MessageChannel();
const awaiting = new SharedArrayBuffer(4);
const awaitingBatches = new Int32Array(awaiting);
parentPort.postMessage({ reportPort: port2, thread: threadId, awaiting } satisfies ReportPortHandshake, [
  port2,
]);

function report(message: ThreadReport): void {
  reportPort.postMessage(message);
}

/**
 * The last job of each batch in progress here, and whether it has sent any event. Its successful result
 * rides back in the task's own answer when it has not, which saves a message per job when jobs go one
 * per batch; once it has, the result must follow its events on parentPort, where order is kept.
 */
interface Tail {
  spoke: boolean;
  answer: TailAnswer | undefined;
}
const tails = new Map<number, Tail>();

function reportEvent(message: ThreadReport & { id: number }): void {
  const tail = tails.get(message.id);
  if (tail) tail.spoke = true;
  report(message);
}

/**
 * Which job's code runs now, so that a job that takes the thread down (process.exit(), an error thrown
 * outside any handler) is named before the thread dies and the other jobs on it are known to be
 * innocent. Where async context is cheap (Node 24: AsyncContextFrame), each job runs in a context of its
 * own, which its awaits and timers carry. Elsewhere (Node 20 and 22, where AsyncLocalStorage doubles the
 * cost of every await) only the synchronous run of a handler is marked: a crash after an await there is
 * nobody's in particular, and every job on the thread shares it.
 */
const asyncContext = Number(process.versions.node.split('.')[0]) >= 24;
const runningJob = new AsyncLocalStorage<RunningJob>();
let runningSynchronously: RunningJob | undefined;
const onBehalf: RunOnBehalf = asyncContext
  ? (job, run) => runningJob.run(job, run)
  : (job, run) => {
      runningSynchronously = job;
      try {
        return run();
      } finally {
        runningSynchronously = undefined;
      }
    };
let culpritNamed = false;
function nameCulprit(): void {
  const job = runningJob.getStore() ?? runningSynchronously;
  if (!job || culpritNamed) return;
  culpritNamed = true;
  report({
    t: 'culprit',
    thread: threadId,
    job: { id: job.id, handle: job.handle, functionName: job.functionName },
  });
}
process.on('exit', nameCulprit);
process.on('uncaughtExceptionMonitor', nameCulprit);

const runner = new BatchRunner(
  data.handlePrefix,
  {
    status: (id, numerator, denominator) => reportEvent({ t: 'status', id, numerator, denominator }),
    data: (id, chunk) => reportEvent({ t: 'data', id, chunk }),
    warning: (id, message) => reportEvent({ t: 'warning', id, message }),
    checkpoint: (id, state) => reportEvent({ t: 'checkpoint', id, state }),
    skipped: (id) => report({ t: 'skipped', id }),
    // Not as an event: a result that overtakes it is as good (the begin counts from the result then).
    handlerBegan: (id) => report({ t: 'began', id }),
    done(id, micros, outcome) {
      const tail = tails.get(id);
      if (outcome.ok && tail && !tail.spoke) tail.answer = [id, micros, outcome.value];
      else if (outcome.ok) report({ t: 'done', id, micros, ok: true, value: outcome.value });
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
  },
  onBehalf,
);

/** The functions, once loaded: later batches start without waiting a turn. */
let functions: FunctionSet | Promise<FunctionSet> = loadFunctionsModule(data.functionsModule).then(
  (loaded) => {
    functions = loaded;
    return loaded;
  },
);
/**
 * Settles once the module has loaded or failed to (a failure is reported per batch and per manifest).
 * Piscina waits for the handler this file exports before it marks the thread ready, and then blocks the
 * thread in Atomics.wait between tasks: the module must load before that, or it would load only when
 * the first task arrives (and `start()` could not warm the pool).
 */
const settledLoad = functions.then(
  () => report({ t: 'ready', thread: threadId }),
  () => report({ t: 'ready', thread: threadId }),
);

const aborts = new BroadcastChannel(data.abortChannel);
// The channel must not keep an idle thread alive: piscina decides when threads end.
aborts.unref();
aborts.onmessage = (event) => {
  const message = (event as { data: AbortMessage }).data;
  runner.abort(message.id, deserializeError(message.reason));
};

/** The task handler, for piscina, once the module has loaded. */
export default settledLoad.then(() => handleTask);

/**
 * Runs one piscina task: a batch of jobs (answering with its last result, if held back), or a manifest.
 * Not an async function: a batch whose handlers all return plain values answers without a promise.
 */
function handleTask(
  task: TaskMessage,
): ManifestAnswer | TailAnswer | undefined | Promise<ManifestAnswer | TailAnswer | undefined> {
  if (task === 'manifest') return describeFunctions();
  const jobs = decodeBatch(task);
  const last = jobs[jobs.length - 1] as JobMessage;
  const tail: Tail = { spoke: false, answer: undefined };
  tails.set(last.id, tail);
  const running = runner.run(functions, jobs);
  if (!running) return answer(last.id, tail);
  Atomics.add(awaitingBatches, 0, 1);
  return running.then(() => {
    Atomics.sub(awaitingBatches, 0, 1);
    return answer(last.id, tail);
  });
}

function answer(lastId: number, tail: Tail): TailAnswer | undefined {
  tails.delete(lastId);
  return tail.answer;
}

async function describeFunctions(): Promise<ManifestAnswer> {
  try {
    return { ok: true, functions: (await functions).describe() };
  } catch (thrown) {
    return { ok: false, error: serializeError(thrown) };
  }
}
