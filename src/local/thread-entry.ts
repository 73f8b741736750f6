/**
 * What runs inside each worker thread of the local pool. Batches come on the thread's own port, and
 * everything said of them goes back on it in the order it happens, which is also the order the main
 * thread reads it: a job's events never overtake its result, and what a thread posted before it died is
 * already in the port's queue, where the main thread drains it before it deals with the death. Piscina
 * calls the default export for the one task it still carries: the module's description.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { BroadcastChannel, MessageChannel, parentPort, threadId, workerData } from 'node:worker_threads';
import type { FunctionSet } from '../functions/define.js';
import { loadFunctionsModule } from '../functions/load-module.js';
import { deserializeError, serializeError } from '../payload/remote-error.js';
import { BatchRunner, type RunOnBehalf } from './batch-runner.js';
import {
  type AbortMessage,
  type BatchTask,
  decodeBatch,
  type JobMessage,
  type ManifestAnswer,
  type ReportPortHandshake,
  type TailAnswer,
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
 * The last job of each batch in progress here, by job id, and its successful result once it has one:
 * that rides in the batch's end, which saves a message per job when jobs go one per batch.
 */
const tails = new Map<number, { answer: TailAnswer | undefined }>();

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
    status: (id, numerator, denominator) => report({ t: 'status', id, numerator, denominator }),
    data: (id, chunk) => report({ t: 'data', id, chunk }),
    warning: (id, message) => report({ t: 'warning', id, message }),
    checkpoint: (id, state) => report({ t: 'checkpoint', id, state }),
    skipped: (id) => report({ t: 'skipped', id }),
    // Not as an event: a result that overtakes it is as good (the begin counts from the result then).
    handlerBegan: (id) => report({ t: 'began', id }),
    done(id, micros, outcome) {
      const tail = tails.get(id);
      if (outcome.ok && tail) tail.answer = [id, micros, outcome.value];
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
 * Piscina waits for the handler this file exports before it calls the thread ready, and a thread that
 * replaces a dead one takes batches from then on (see thread-executor.ts).
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

reportPort.on('message', runBatch);

/** The task handler, for piscina, once the module has loaded: it describes the functions. */
export default settledLoad.then(() => describeFunctions);

/**
 * Runs a batch of jobs, and then says that it ended (with its last result, if held back). A batch whose
 * handlers all return plain values ends in the same turn.
 */
function runBatch(task: BatchTask): void {
  const jobs = decodeBatch(task);
  const lastId = (jobs[jobs.length - 1] as JobMessage).id;
  const tail = { answer: undefined as TailAnswer | undefined };
  tails.set(lastId, tail);
  const ended = () => {
    tails.delete(lastId);
    report({ t: 'end', batch: task[0], tail: tail.answer });
  };
  const running = runner.run(functions, jobs);
  if (!running) {
    ended();
    return;
  }
  Atomics.add(awaitingBatches, 0, 1);
  void running.then(() => {
    Atomics.sub(awaitingBatches, 0, 1);
    ended();
  });
}

async function describeFunctions(): Promise<ManifestAnswer> {
  try {
    return { ok: true, functions: (await functions).describe() };
  } catch (thrown) {
    return { ok: false, error: serializeError(thrown) };
  }
}
