/**
 * What goes wrong on a Gearman cluster, and what a gearshift client or worker does about it, against real
 * gearmand processes: a worker process killed mid-job, gearmand restarted (with and without a persistent
 * queue), a full queue, several servers with one dead, a server that never answers, a peer that speaks
 * something else. TLS is in security.test.ts.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type Client,
  ClientClosedError,
  createClient,
  createWorker,
  GearmanAdmin,
  GearmanConnectionError,
  type GearmanOptions,
  GearmanProtocolError,
  GearmanServerError,
  parseServerAddress,
  type Worker,
  WorkerCrashedError,
} from '../src/index.js';
import type crasherFunctions from './fixtures/crashers.js';
import type functions from './fixtures/functions.js';
import { freePort, gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startWorkProcess, stopAllRunners, stopRunner } from './helpers/runner-process.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);
/** Quick retries, so that reconnecting after a restart takes milliseconds, not the default second. */
const quick = { retryMs: 50, requestTimeoutMs: 2000, connectTimeoutMs: 2000 } as const;

const clients: Client<typeof functions>[] = [];
const workers: Worker[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  await stopAllRunners();
  // The servers stop before their directories go: a gearmand with a persistent queue still writes to
  // its SQLite file while it runs, and removing the directory under it fails (ENOTEMPTY) or leaves files.
  await stopAllGearmands();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function client(gearman: GearmanOptions): Client<typeof functions> {
  const made = createClient<typeof functions>({ functions: functionsModule, gearman });
  clients.push(made);
  return made;
}

async function worker(gearman: GearmanOptions): Promise<Worker> {
  const made = createWorker({ functions: functionsModule, gearman, threads: 1 });
  workers.push(made);
  await made.start();
  return made;
}

function admin(address: string): GearmanAdmin {
  return new GearmanAdmin(parseServerAddress(address), {
    connectTimeoutMs: 2000,
    keepAliveMs: 0,
    tls: undefined,
    requestTimeoutMs: 2000,
  });
}

/** How many `echo` jobs gearmand at `address` holds, queued or running. */
async function queued(address: string): Promise<number> {
  return (await admin(address).status()).find((line) => line.functionName === 'echo')?.total ?? 0;
}

/** Polls until `check` holds (or fails after 20 s, saying what it waited for). */
async function until(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`waited 20 s for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A TCP server on a free loopback port that treats each connection with `handle`. */
async function fakeServer(handle: (socket: Socket) => void): Promise<string> {
  const server: Server = createServer(handle);
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return `127.0.0.1:${port}`;
}

function temporaryDirectory(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gearshift-faults-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe.skipIf(!gearmandInstalled)('Gearman faults, against real gearmand processes', () => {
  it('a worker process killed mid-job: gearmand gives the job to another worker, and the caller gets its result', async () => {
    const server = await startGearmand();
    const first: ChildProcess = await startWorkProcess(functionsModule.pathname, [
      '--gearman',
      server.address,
      '--threads',
      '1',
    ]);
    const caller = client({ servers: [server.address], ...quick });
    const job = caller.run('pidAfter', { ms: 1500 });
    await until('the first worker to start the job', async () =>
      (await admin(server.address).status()).some(
        (line) => line.functionName === 'pidAfter' && line.running === 1,
      ),
    );
    const second = await startWorkProcess(functionsModule.pathname, [
      '--gearman',
      server.address,
      '--threads',
      '1',
    ]);
    await stopRunner(first, 'SIGKILL');
    // The answer is the second worker's: the first was killed before it could give one.
    await expect(job).resolves.toBe(second.pid);
  });

  it("a job that kills its worker's thread: the caller gets WorkerCrashedError, the worker serves on", async () => {
    const server = await startGearmand();
    const gearman = { servers: [server.address], ...quick };
    const crashers = new URL('./fixtures/crashers.ts', import.meta.url);
    const crashingWorker = createWorker({ functions: crashers, gearman, threads: 1 });
    workers.push(crashingWorker);
    await crashingWorker.start();
    const caller = createClient<typeof crasherFunctions>({ functions: crashers, gearman });
    cleanups.push(() => caller.destroy());
    const error = await caller.run('exitOn', { value: 1, exitOn: 1 }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(WorkerCrashedError);
    expect((error as Error).message).toMatch(/exited with code 3/);
    expect(await caller.run('exitOn', { value: 2, exitOn: 1 })).toBe(2);
  });

  it('gearmand restarted: the client and the worker reconnect by themselves', async () => {
    const server = await startGearmand();
    await worker({ servers: [server.address], ...quick });
    const caller = client({ servers: [server.address], ...quick });
    expect(await caller.run('add', { a: 1, b: 2 })).toBe(3);
    await server.restart();
    expect(await caller.run('add', { a: 2, b: 2 })).toBe(4);
    expect(await caller.background('add', { a: 0, b: 0 })).toMatch(/^H:/);
  });

  it('with waitForServerMs, submissions made while the only gearmand is down wait for it, then succeed', async () => {
    const server = await startGearmand();
    await worker({ servers: [server.address], ...quick });
    const caller = client({ servers: [server.address], ...quick, waitForServerMs: 20_000 });
    expect(await caller.run('add', { a: 1, b: 2 })).toBe(3);
    await server.down();
    const settled: string[] = [];
    const run = caller.run('add', { a: 2, b: 2 }).finally(() => settled.push('run'));
    const background = caller.background('add', { a: 0, b: 0 }).finally(() => settled.push('background'));
    // Down for a while: several rounds of attempts (every 100 ms) fail, and nothing is given up.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(settled).toEqual([]);
    await server.up();
    expect(await run).toBe(4);
    expect(await background).toMatch(/^H:/);
  });

  it('without a server for waitForServerMs, a submission fails with a GearmanConnectionError; destroy() ends a wait at once', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const caller = client({ servers: [address], ...quick, waitForServerMs: 400 });
    const started = Date.now();
    const error = await caller.run('add', { a: 1, b: 1 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as Error).message).toMatch(
      /cannot take the job: the servers tried \(127\.0\.0\.1:\d+\) failed/,
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await expect(caller.background('add', { a: 1, b: 1 })).rejects.toBeInstanceOf(GearmanConnectionError);

    const patient = client({ servers: [address], ...quick, waitForServerMs: 60_000 });
    const waiting = patient.run('add', { a: 1, b: 1 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    const waitingBackground = patient.background('add', { a: 1, b: 1 }).then(
      () => undefined,
      (reason: unknown) => reason,
    );
    await new Promise((resolve) => setTimeout(resolve, 250));
    await patient.destroy();
    expect(await waiting).toBeInstanceOf(ClientClosedError);
    expect(await waitingBackground).toBeInstanceOf(ClientClosedError);
  });

  it('a foreground job whose server dies fails with a GearmanConnectionError naming the server and the job', async () => {
    const server = await startGearmand();
    await worker({ servers: [server.address], ...quick });
    const caller = client({ servers: [server.address], ...quick });
    const job = caller.run('sleep', { ms: 10_000 });
    await until('the job to start', async () =>
      (await admin(server.address).status()).some(
        (line) => line.functionName === 'sleep' && line.running === 1,
      ),
    );
    const outcome = job.then(
      () => undefined,
      (reason: unknown) => reason,
    );
    await server.stop();
    const error = await outcome;
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as GearmanConnectionError).server).toBe(server.address);
    expect((error as Error).message).toMatch(/went away while sleep \(H:/);
  });

  it('background jobs in a persistent gearmand queue (libsqlite3) survive its restart and run afterwards', async () => {
    const dir = temporaryDirectory();
    const server = await startGearmand(['-q', 'libsqlite3', '--libsqlite3-db', join(dir, 'gearmand.db')]);
    const out = join(dir, 'marks.txt');
    const caller = client({ servers: [server.address], ...quick });
    const texts = Array.from({ length: 50 }, (_, index) => `job ${index}`);
    const jobs = texts.map((text) => caller.backgroundJob('mark', { path: out, text }));
    expect(await caller.backgroundAll(jobs)).toHaveLength(50);
    await server.restart();
    await worker({ servers: [server.address], ...quick });
    const lines = () => (existsSync(out) ? readFileSync(out, 'utf8').trim().split('\n') : []);
    await until('the 50 jobs to run', () => lines().length >= 50);
    expect(new Set(lines())).toEqual(new Set(texts));
  });

  it('a queue full under maxqueue refuses with a GearmanServerError carrying the server code', async () => {
    const server = await startGearmand();
    const caller = client({ servers: [server.address], ...quick });
    await caller.background('echo', 'first');
    await admin(server.address).maxQueue('echo', [1, 1, 1]);
    const refused = await caller.background('echo', 'second').catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GearmanServerError);
    expect((refused as GearmanServerError).serverCode).toBe('QUEUE_ERROR');
    await expect(caller.run('echo', 'third')).rejects.toThrow(/QUEUE_ERROR \(Job queue is full\)/);
  });

  it('several servers: jobs without a unique are spread, a unique always goes to the same server, a dead server is skipped', async () => {
    const [one, two] = await Promise.all([startGearmand(), startGearmand()]);
    const caller = client({ servers: [one.address, two.address], ...quick });
    await caller.backgroundAll(Array.from({ length: 10 }, () => caller.backgroundJob('echo', 'spread')));
    expect([await queued(one.address), await queued(two.address)]).toEqual([5, 5]);

    for (let round = 0; round < 4; round++) await caller.background('echo', 'same', { unique: 'one-key' });
    const withKey = [await queued(one.address), await queued(two.address)];
    expect(withKey.sort()).toEqual([5, 6]);

    await two.stop();
    const handles = await caller.backgroundAll(
      Array.from({ length: 6 }, () => caller.backgroundJob('echo', 'one is left')),
    );
    expect(handles).toHaveLength(6);
    expect(await queued(one.address)).toBe(withKey[0] === 6 ? 12 : 11);
  });

  it('a server that accepts and never answers: the submission goes to the next server after requestTimeoutMs', async () => {
    const silent = await fakeServer(() => {});
    const server = await startGearmand();
    await worker({ servers: [server.address], ...quick });
    const caller = client({ servers: [silent, server.address], ...quick, requestTimeoutMs: 300 });
    const results = await Promise.all([1, 2, 3, 4].map((a) => caller.run('add', { a, b: 1 })));
    expect(results).toEqual([2, 3, 4, 5]);

    const alone = client({ servers: [silent], ...quick, requestTimeoutMs: 300 });
    const error = await alone.run('add', { a: 1, b: 1 }).catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as Error).message).toMatch(/300 ms/);
  });

  it('a client whose process stalls past requestTimeoutMs reads the answers that came meanwhile, and keeps its connection', async () => {
    const server = await startGearmand();
    const caller = client({ servers: [server.address], ...quick, requestTimeoutMs: 500 });
    // No worker has the function: the jobs stay queued, where gearmand counts them.
    await caller.background('echo', 'the connection is open');
    const submitted = caller.background('echo', 'submitted before the stall');
    // A synchronous task holds the process for three times requestTimeoutMs.
    for (const until = Date.now() + 1500; Date.now() < until; );
    await expect(submitted).resolves.toMatch(/^H:/);
    expect(await queued(server.address)).toBe(2);
  });

  it('a worker whose process stalls past requestTimeoutMs, a grab unanswered, keeps its connection', async () => {
    const server = await startGearmand();
    const gearman = { servers: [server.address], ...quick, requestTimeoutMs: 500 };
    const stalling = createWorker({ functions: functionsModule, gearman, threads: 1 });
    workers.push(stalling);
    const states: string[] = [];
    stalling.on('connection', (event) => {
      // Once connected, the worker sends a grab (the probe of which grab packet the server knows, before it
      // registers); right behind it, the process stalls for three times requestTimeoutMs (a long
      // synchronous task), while gearmand's answer comes.
      if (states.length === 0)
        queueMicrotask(() => {
          for (const until = Date.now() + 1500; Date.now() < until; );
        });
      states.push(event.state);
    });
    await stalling.start();
    const caller = client({ servers: [server.address], ...quick });
    expect(await caller.run('add', { a: 1, b: 1 })).toBe(2);
    expect(states).toEqual(['connected']);
  });

  it('a peer that is not a Gearman server: a GearmanProtocolError, and the process goes on', async () => {
    const http = await fakeServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const caller = client({ servers: [http], ...quick });
    const error = await caller.run('echo', 'x').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(GearmanProtocolError);
    expect((error as Error).message).toMatch(/magic/i);

    // A worker pointed at it keeps retrying without crashing (each try a protocol error of its own,
    // followed by a new connection), and stops when asked.
    const lost: Error[] = [];
    const confused = createWorker({
      functions: functionsModule,
      gearman: { servers: [http], ...quick },
      threads: 1,
      log: false,
    });
    workers.push(confused);
    confused.on('connection', (event) => {
      if (event.error) lost.push(event.error);
    });
    await confused.start();
    await until('the worker to try the peer twice', async () => lost.length >= 2);
    expect(lost.every((error) => error instanceof GearmanProtocolError)).toBe(true);
    await confused.stop(0);
    // And this process serves on: a caller on a real server is unaffected.
    const server = await startGearmand();
    await worker({ servers: [server.address], ...quick });
    expect(await client({ servers: [server.address], ...quick }).run('add', { a: 2, b: 3 })).toBe(5);
  });

  it('a server announcing a packet larger than maxPacketBytes: a GearmanProtocolError, the body is not read', async () => {
    const huge = await fakeServer((socket) => {
      socket.once('data', () => {
        // A well-formed RES header for OPTION_RES (type 27) announcing 1 GiB.
        const header = Buffer.alloc(12);
        header.write('\0RES', 0, 'latin1');
        header.writeUInt32BE(27, 4);
        header.writeUInt32BE(1024 ** 3, 8);
        socket.write(header);
      });
    });
    const caller = client({ servers: [huge], ...quick, maxPacketBytes: 1024 * 1024 });
    await expect(caller.run('echo', 'x')).rejects.toThrow(/1073741824 bytes, more than the 1048576 allowed/);
  });

  it('a connection that does not open within connectTimeoutMs fails with a GearmanConnectionError', async () => {
    // A TLS handshake to a server that never answers it: the connection is never ready.
    const silent = await fakeServer(() => {});
    const caller = client({ servers: [silent], ...quick, connectTimeoutMs: 200, tls: {} });
    const started = Date.now();
    const error = await caller.run('echo', 'x').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as Error).message).toMatch(/did not connect within 200 ms/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
