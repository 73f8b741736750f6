// bench:gearman's measuring stick: the least a Node program can do to be a Gearman client or worker,
// with node:net and nothing else (no library, no checks, no recovery; not product code). Its column
// says what Node itself reaches on the machine, the floor under any Node library, gearshift included.
//
//   node gearman.mjs worker <host> <port> <function>      serves n => n + 1 (JSON), prints "ready"
//   node gearman.mjs worker-thread <host> <port> <function>   the same, each job computed on one
//       worker thread, sent and answered on a MessagePort: the floor under a worker that keeps its
//       jobs off its main thread (gearshift's default, so that a job that hangs or crashes can be
//       stopped without taking the connection down)
//   node gearman.mjs client <host> <port> <function> <serial|tasks|background> <count> <warm-up count> [unique]
//       with `unique`, each background job carries a random unique (a UUID), as libgearman's clients send
//       and gearmand's persistent queues need; without, the empty one
//
// The client takes the same arguments as bench/php/client.php and prints the same {"ms", "count"}: it
// times only its measured round. The worker grabs a job only when it has none (as libgearman's do, and
// gearshift's with --prefetch-ms 0), sending PRE_SLEEP right behind each grab, as gearshift's does.
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import { printTimedRound } from '../timed-round.mjs';

const [role, host, port, functionName, mode, count, warmUp, variant] = process.argv.slice(2);
const REQ = Buffer.from('\0REQ', 'latin1');
const type = {
  CAN_DO: 1,
  PRE_SLEEP: 4,
  NOOP: 6,
  SUBMIT_JOB: 7,
  JOB_CREATED: 8,
  NO_JOB: 10,
  WORK_COMPLETE: 13,
  SUBMIT_JOB_BG: 18,
  GRAB_JOB_UNIQ: 30,
  JOB_ASSIGN_UNIQ: 31,
};

/** One request packet: its arguments joined by NUL (the last one is the data part). */
function packet(kind, ...parts) {
  const body = Buffer.from(parts.join('\0'), 'utf8');
  const frame = Buffer.allocUnsafe(12 + body.length);
  REQ.copy(frame, 0);
  frame.writeUInt32BE(kind, 4);
  frame.writeUInt32BE(body.length, 8);
  body.copy(frame, 12);
  return frame;
}

/** Opens the connection and calls `onPacket(type, body)` for each whole packet that arrives. */
async function open(onPacket) {
  const socket = connect(Number(port), host);
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let pending = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    pending = pending.length > 0 ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 12) {
      const size = pending.readUInt32BE(8);
      if (pending.length < 12 + size) break;
      const kind = pending.readUInt32BE(4);
      const body = pending.subarray(12, 12 + size);
      pending = pending.subarray(12 + size);
      onPacket(kind, body);
    }
  });
  return socket;
}

/** The NUL-separated fields of a body, the last one running to its end. */
function fields(body, wanted) {
  const parts = [];
  let start = 0;
  for (let index = 0; index < wanted - 1; index++) {
    const end = body.indexOf(0, start);
    parts.push(body.subarray(start, end));
    start = end + 1;
  }
  parts.push(body.subarray(start));
  return parts;
}

/**
 * How the worker computes a job's result from its data: here, or on a worker thread when `onThread`
 * (one message there, one back; the answer comes in a later turn).
 */
function compute(onThread) {
  const inc = (data) => JSON.stringify(JSON.parse(data) + 1);
  if (!onThread) return (data, done) => done(inc(data));
  const thread = new Worker(
    `const { parentPort } = require('node:worker_threads');
     parentPort.once('message', (port) => port.on('message', (data) => port.postMessage(JSON.stringify(JSON.parse(data) + 1))));`,
    { eval: true },
  );
  const { port1, port2 } = new MessageChannel();
  thread.postMessage(port2, [port2]);
  const waiting = [];
  port1.on('message', (result) => waiting.shift()(result));
  return (data, done) => {
    waiting.push(done);
    port1.postMessage(data);
  };
}

async function worker(onThread) {
  const run = compute(onThread);
  // At most one grab out: gearmand answers PRE_SLEEP with NOOP at once while jobs are queued, and a
  // grab for each NOOP would hold ever more jobs.
  let grabbing = false;
  const grab = () => {
    grabbing = true;
    return Buffer.concat([packet(type.GRAB_JOB_UNIQ), packet(type.PRE_SLEEP)]);
  };
  const socket = await open((kind, body) => {
    if (kind === type.NO_JOB) grabbing = false;
    else if (kind === type.NOOP && !grabbing) socket.write(grab());
    else if (kind === type.JOB_ASSIGN_UNIQ) {
      const [handle, , , data] = fields(body, 4);
      run(data.toString('utf8'), (result) =>
        socket.write(Buffer.concat([packet(type.WORK_COMPLETE, handle.toString('utf8'), result), grab()])),
      );
    }
  });
  socket.write(Buffer.concat([packet(type.CAN_DO, functionName), grab()]));
  process.stdout.write('ready\n');
}

async function client() {
  // Answers in the order the server sends them: JOB_CREATED in submission order, WORK_COMPLETE by handle.
  const createdQueue = [];
  const completions = new Map();
  const socket = await open((kind, body) => {
    if (kind === type.JOB_CREATED) createdQueue.shift()?.(body.toString('utf8'));
    else if (kind === type.WORK_COMPLETE) {
      const [handle, data] = fields(body, 2);
      const done = completions.get(handle.toString('utf8'));
      completions.delete(handle.toString('utf8'));
      done?.(JSON.parse(data.toString('utf8')));
    }
  });
  /** Submits a job; `created` is called with its handle as soon as the answer is read. */
  const submit = (kind, name, n, created, unique = '') => {
    createdQueue.push(created);
    socket.write(packet(kind, name, unique, String(n)));
  };
  // The completion is registered with the handle, before the rest of the same read is looked at: a
  // fast worker's WORK_COMPLETE may come in one chunk with the JOB_CREATED.
  const run = (n) =>
    new Promise((resolve) =>
      submit(type.SUBMIT_JOB, functionName, n, (handle) => completions.set(handle, resolve)),
    );
  const background = (n) =>
    new Promise((resolve) =>
      submit(
        type.SUBMIT_JOB_BG,
        `${functionName}_queued`,
        n,
        resolve,
        variant === 'unique' ? randomUUID() : '',
      ),
    );
  async function roundOf(jobs) {
    let right = 0;
    if (mode === 'serial') for (let n = 0; n < jobs; n++) right += (await run(n)) === n + 1 ? 1 : 0;
    else if (mode === 'tasks') {
      const results = await Promise.all(Array.from({ length: jobs }, (_, n) => run(n)));
      right = results.filter((result, n) => result === n + 1).length;
    } else {
      // Nobody serves this name: the jobs stay queued in gearmand, as in the PHP client's round.
      for (let n = 0; n < jobs; n++) right += (await background(n)) ? 1 : 0;
    }
    return right;
  }
  await printTimedRound(roundOf, Number(warmUp), Number(count));
  socket.destroy();
}

await (role === 'client' ? client() : worker(role === 'worker-thread'));
