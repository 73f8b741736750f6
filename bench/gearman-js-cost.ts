/**
 * npm run bench:gearman-js: the JavaScript that gearshift runs per Gearman job, without the network. The
 * sockets of the client and the worker are real, to a local listener that says nothing; what they write
 * is answered in-process instead (on the next turn, as a read would be), so no system call, server or
 * other process is timed. On a crowded machine the end-to-end figures of bench:gearman move by a third
 * from run to run; these by a tenth to a fifth (2026-12-02, CPU time), enough to show a change of a few
 * microseconds per job to the hot path.
 *
 * Measured: a worker's job (`--threads 0 --prefetch-ms 0`: JOB_ASSIGN_UNIQ in, WORK_COMPLETE and the next
 * GRAB_JOB_ALL out) and a serial background submission (SUBMIT_JOB_BG out, JOB_CREATED in). Each is the
 * median of five rounds, in microseconds of CPU time per job; the in-process answers are in it too.
 * Beside each, in the same run and harness, the same job done by a bare node:net worker or client (the
 * floor: framed by hand, no checks, as bench/floor/gearman.mjs does it). The difference between the two
 * is gearshift's own JavaScript per job.
 *
 * Answers reach gearshift's connections through their `onread` callback, as a kernel read would, and the
 * floor's bare sockets as 'data' events straight to their listener: neither goes through a readable
 * stream, so the stream's cost per read, which the real floor pays and gearshift no longer does (its TCP
 * connections read through `onread` since 2026-12-07), is in none of these figures.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { connect, createServer, Socket } from 'node:net';
import { createClient, createWorker } from '../src/index.js';

const functionsModule = new URL('./functions.ts', import.meta.url);
const roundMs = 1500;
const rounds = 5;

/**
 * One response packet. Framed here, not with src's encodePacket: the answers are part of each figure,
 * and they must cost the same whatever version of the codec is being measured.
 */
function response(type: number, ...parts: string[]): Buffer {
  const body = Buffer.from(parts.join('\0'), 'utf8');
  const packet = Buffer.alloc(12 + body.length);
  packet.write('\0RES', 0, 'latin1');
  packet.writeUInt32BE(type, 4);
  packet.writeUInt32BE(body.length, 8);
  body.copy(packet, 12);
  return packet;
}

/** The packets of one write: type and body. */
function* packetsOf(buffer: Buffer): Generator<{ type: number; body: Buffer }> {
  for (let offset = 0; offset + 12 <= buffer.length; ) {
    const size = buffer.readUInt32BE(offset + 8);
    yield { type: buffer.readUInt32BE(offset + 4), body: buffer.subarray(offset + 12, offset + 12 + size) };
    offset += 12 + size;
  }
}

/** What the in-process server answers to one packet from a socket, and what it counts. */
type Answer = (socket: Socket, type: number, body: Buffer) => Buffer | undefined;

const listener = createServer(() => {});
await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
const address = listener.address();
const port = typeof address === 'object' && address ? address.port : 0;
let answer: Answer = () => undefined;
// Only the sockets to the silent listener are answered here; every other socket writes as usual.
function answeredWrite(this: Socket, chunk: Uint8Array | string, ...rest: unknown[]): boolean {
  if (this.remotePort !== port) return realWrite.call(this, chunk, ...rest);
  const replies: Buffer[] = [];
  const bytes =
    typeof chunk === 'string'
      ? Buffer.from(chunk)
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  for (const { type, body } of packetsOf(bytes)) {
    const reply = answer(this, type, body);
    if (reply) replies.push(reply);
  }
  if (replies.length > 0) {
    const data = Buffer.concat(replies);
    setImmediate(() => read(this, data));
  }
  return true;
}
const realWrite = Socket.prototype.write as unknown as typeof answeredWrite;
Socket.prototype.write = answeredWrite as unknown as Socket['write'];

/**
 * The `onread` callback of each socket opened with one (gearshift's TCP connections read that way), to
 * hand it the answers as its reads would be.
 */
type ReadCallback = (bytes: number, buffer: Uint8Array) => unknown;
const readers = new WeakMap<Socket, ReadCallback>();
const nodeNet = createRequire(import.meta.url)('node:net') as typeof import('node:net');
const realConnect = nodeNet.connect;
nodeNet.connect = ((...args: Parameters<typeof realConnect>) => {
  const socket = realConnect(...args);
  const onread = (args[0] as { onread?: { callback: ReadCallback } }).onread;
  if (onread) readers.set(socket, onread.callback);
  return socket;
}) as typeof realConnect;
// So that the package's `import('node:net')` gets the wrapper too.
syncBuiltinESMExports();

/**
 * Hands `data` to a socket as a read: to its `onread` callback (as if the kernel had filled its buffer
 * with it), or as a 'data' event.
 */
function read(socket: Socket, data: Buffer): void {
  const callback = readers.get(socket);
  if (callback) callback(data.length, data);
  else socket.emit('data', data);
}

/**
 * After a warm-up round, the median over rounds of `roundMs` of the process's CPU time (user and system)
 * per counted job, in microseconds. CPU time, not elapsed time: on a shared machine a process that is
 * made to wait does fewer jobs in a round but spends no more CPU on each.
 */
async function measure(count: () => number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, roundMs));
  const perJob: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const before = count();
    const started = process.cpuUsage();
    await new Promise((resolve) => setTimeout(resolve, roundMs));
    const spent = process.cpuUsage(started);
    perJob.push((spent.user + spent.system) / (count() - before));
  }
  return perJob.sort((a, b) => a - b)[Math.floor(rounds / 2)] as number;
}

/** A bare request packet, framed by hand as bench/floor/gearman.mjs frames it. */
function request(type: number, ...parts: string[]): Buffer {
  const packet = response(type, ...parts);
  packet.write('\0REQ', 0, 'latin1');
  return packet;
}

/** A bare node:net connection to the silent listener, calling `onPacket` for each packet answered. */
async function bareSocket(onPacket: (socket: Socket, type: number, body: Buffer) => void): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('data', (chunk: Buffer) => {
    for (const { type, body } of packetsOf(chunk)) onPacket(socket, type, body);
  });
  return socket;
}

// The worker: every GRAB_JOB_ALL on its job connection brings a job, and PRE_SLEEP a NOOP (more wait).
// Its control connection (the cancel function) is told there is nothing.
const jobSockets = new WeakSet<Socket>();
let completed = 0;
let assigned = 0;
answer = (socket, type, body) => {
  if (type === 1 && body.toString('utf8') === 'inc') jobSockets.add(socket); // CAN_DO
  if (type === 16) return response(17, body.toString('utf8')); // ECHO_REQ
  if (type === 13) completed++; // WORK_COMPLETE
  const jobs = jobSockets.has(socket);
  if (type === 39) {
    // GRAB_JOB_ALL
    if (!jobs) return response(10); // NO_JOB
    assigned++;
    return response(31, `H:bench:${assigned}`, 'inc', `u-${assigned}`, String(assigned));
  }
  if (type === 4 && jobs) return response(6); // PRE_SLEEP: NOOP
  return undefined;
};
const worker = createWorker({
  functions: functionsModule,
  gearman: { servers: [`127.0.0.1:${port}`] },
  threads: 0,
  prefetchMs: 0,
});
await worker.start();
const workerCost = await measure(() => completed);
await worker.destroy();

// The floor worker: the handle out of JOB_ASSIGN_UNIQ, n + 1 as JSON, WORK_COMPLETE and the next grab.
const bareWorker = await bareSocket((socket, type, body) => {
  if (type !== 31) return;
  const handleEnd = body.indexOf(0);
  const dataStart = body.indexOf(0, body.indexOf(0, handleEnd + 1) + 1) + 1;
  const result = JSON.stringify(JSON.parse(body.toString('utf8', dataStart)) + 1);
  const handle = body.toString('utf8', 0, handleEnd);
  socket.write(Buffer.concat([request(13, handle, result), request(39), request(4)]));
});
bareWorker.write(Buffer.concat([request(1, 'inc'), request(39), request(4)]));
const workerFloor = await measure(() => completed);
bareWorker.destroy();

// The client: every SUBMIT_JOB_BG is created at once.
let created = 0;
answer = (_socket, type, body) => {
  if (type === 26) return response(27, body.toString('utf8')); // OPTION_REQ
  if (type === 18) return response(8, `H:bench:${++created}`); // SUBMIT_JOB_BG: JOB_CREATED
  return undefined;
};
const client = createClient({ gearman: { servers: [`127.0.0.1:${port}`] } });
let submitting = true;
const submissions = (async () => {
  while (submitting) await client.background('inc', created);
})();
const clientCost = await measure(() => created);
submitting = false;
await submissions;
await client.destroy();

// The floor client: SUBMIT_JOB_BG with a random unique (as gearshift's), awaited until JOB_CREATED.
let createdAnswer: (() => void) | undefined;
const bareClient = await bareSocket((_socket, type) => {
  if (type === 8) createdAnswer?.();
});
submitting = true;
const bareSubmissions = (async () => {
  while (submitting) {
    await new Promise<void>((resolve) => {
      createdAnswer = resolve;
      bareClient.write(request(18, 'inc', crypto.randomUUID(), String(created)));
    });
  }
})();
const clientFloor = await measure(() => created);
submitting = false;
await bareSubmissions;
bareClient.destroy();
listener.close();

console.log(`gearshift bench:gearman-js  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log('CPU time per job, socket writes answered in-process; median of five rounds of 1.5 s');
console.log("                                        gearshift   node:net floor   gearshift's own");
const row = (label: string, cost: number, floor: number) =>
  console.log(
    `  ${label.padEnd(36)} ${cost.toFixed(2).padStart(7)} us ${floor.toFixed(2).padStart(11)} us ${(cost - floor).toFixed(2).padStart(12)} us`,
  );
row("a worker's job (inline, no prefetch)", workerCost, workerFloor);
row('a background submission (serial)', clientCost, clientFloor);
