/**
 * What a broken or hostile job server can and cannot make a gearshift process do: a worker runs only
 * the jobs it asked for (a server that answers one grab with hundreds of assignments gets its
 * connection dropped, said on the log and as an event), and an admin answer that never ends cannot
 * fill a client's memory. The servers are stand-ins written for the test (loopback TCP servers that
 * speak the protocol through the project's codec): no real server misbehaves on purpose.
 */
import { execFile } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { GearmanProtocolError } from '../src/errors.js';
import { encodePacket, type Packet } from '../src/gearman/protocol/packet-codec.js';
import { PacketDecoder } from '../src/gearman/protocol/packet-decoder.js';
import { PacketTypes } from '../src/gearman/protocol/packet-types.js';
import { createWorker, GearmanAdmin, parseServerAddress, type WorkerEventMap } from '../src/index.js';

const exec = promisify(execFile);
const cli = new URL('../dist/cli.js', import.meta.url).pathname;
const functionsModule = new URL('./fixtures/functions.js', import.meta.url);
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; address: string }> {
  const server = createServer((socket) => {
    socket.on('error', () => {});
    onConnection(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.unref();
      }),
  );
  return { server, address: `127.0.0.1:${port}` };
}

describe('a server that floods a worker with jobs it did not ask for', () => {
  it('runs only the jobs it grabbed, drops the connection, says so, and waits long before trying again', async () => {
    const grabs: number[] = [];
    const completed: string[] = [];
    let connections = 0;
    const { address } = await listen((socket) => {
      const decoder = new PacketDecoder(1024 * 1024, 'worker');
      let grabbed = 0;
      let flooded = false;
      connections++;
      socket.on('data', (chunk) => {
        for (const packet of decoder.push(chunk) as Packet[]) {
          if (packet.type === PacketTypes.ECHO_REQ)
            socket.write(encodePacket('RES', PacketTypes.ECHO_RES, {}, packet.data));
          else if (packet.type === PacketTypes.GRAB_JOB_ALL) {
            grabbed++;
            // The probe's grab (before any CAN_DO) is answered as gearmand does; the first real one floods.
            if (grabbed === 1) socket.write(encodePacket('RES', PacketTypes.NO_JOB, {}));
            else if (!flooded) {
              flooded = true;
              const jobs = Array.from({ length: 300 }, (_, index) =>
                encodePacket(
                  'RES',
                  PacketTypes.JOB_ASSIGN_UNIQ,
                  { handle: `H:flood:${index}`, functionName: 'add', unique: '' },
                  Buffer.from(JSON.stringify({ a: index, b: 0 })),
                ),
              );
              socket.write(Buffer.concat(jobs));
            }
          } else if (packet.type === PacketTypes.WORK_COMPLETE) completed.push(packet.args.handle);
        }
      });
      socket.on('close', () => grabs.push(grabbed - 1));
    });
    const lines: string[] = [];
    const events: WorkerEventMap['connection'][] = [];
    const worker = createWorker({
      functions: functionsModule,
      gearman: { servers: address, retryMs: 10 },
      threads: 1,
      log: (line) => lines.push(line),
    });
    cleanups.push(() => worker.destroy());
    worker.on('connection', (event) => events.push(event));
    await worker.start();
    for (
      let tries = 0;
      tries < 300 && !events.some((event) => event.error instanceof GearmanProtocolError);
      tries++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const dropped = events.find((event) => event.state === 'disconnected' && event.error);
    expect(dropped?.error).toBeInstanceOf(GearmanProtocolError);
    expect(dropped?.error?.message).toMatch(
      /sent a job it was not asked for \(H:flood:\d+, add: no grab was outstanding\)/,
    );
    expect(lines.some((line) => line.includes('not asked for'))).toBe(true);
    // Give what was asked for time to answer, and a quick server time to be reconnected to.
    await new Promise((resolve) => setTimeout(resolve, 500));
    // The job connection asked for a few jobs (as many grabs as its slot and prefetch allowed); no more ran.
    expect(completed.length).toBeLessThan(300);
    const [jobConnectionGrabs = 0] = grabs.filter((count) => count > 0);
    expect(completed.length).toBeLessThanOrEqual(jobConnectionGrabs);
    // Marked bad: with retryMs 10 it would be back within milliseconds; it waits the longest backoff.
    const jobConnections = connections;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(connections).toBe(jobConnections);
  });
});

describe('an admin answer that never ends', () => {
  function endless(line: string) {
    return listen((socket) => {
      socket.once('data', () => {
        const chunk = line.repeat(4096);
        const pump = () => {
          while (!socket.destroyed && socket.write(chunk)) {}
          if (!socket.destroyed) socket.once('drain', pump);
        };
        pump();
      });
    });
  }

  it('fails once it passes 16 MiB, with a protocol error, in bounded memory', async () => {
    const { address } = await endless('fn\t1\t0\t1\n');
    const admin = new GearmanAdmin(parseServerAddress(address), {
      connectTimeoutMs: 2000,
      requestTimeoutMs: 30_000,
      keepAliveMs: 0,
      tls: undefined,
    });
    const error = await admin.status().catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(GearmanProtocolError);
    expect((error as Error).message).toMatch(/its answer to "status" holds more than 16777216 bytes/);
  });

  it('fails on a line that never ends', async () => {
    const { address } = await endless('x');
    const admin = new GearmanAdmin(parseServerAddress(address), {
      connectTimeoutMs: 2000,
      requestTimeoutMs: 30_000,
      keepAliveMs: 0,
      tls: undefined,
    });
    await expect(admin.status()).rejects.toThrow(/holds a line longer than 1048576 characters/);
  });

  it('`gearshift status --gearman` ends with one line and exit 1, in a heap of 128 MB', async () => {
    const { address } = await endless('fn\t1\t0\t1\n');
    const result = await exec(
      process.execPath,
      ['--max-old-space-size=128', cli, 'status', '--gearman', address],
      {
        timeout: 30_000,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(result).toMatchObject({ code: 1 });
    expect((result as { stderr: string }).stderr).toMatch(
      /^gearshift: Gearman protocol error from 127\.0\.0\.1:\d+: its answer to "status" holds more than 16777216 bytes\n$/,
    );
  });
});
