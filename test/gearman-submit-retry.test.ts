/**
 * A background submission whose connection breaks after gearmand took it, before its JOB_CREATED came
 * back, is sent again (waitForServerMs): with the unique it was first sent with, so that gearmand joins
 * the two into the job it already holds. Sent with a new random unique, it queued a second copy, and
 * the job ran twice (seen in the chaos test, after gearmand restarts with a sqlite queue).
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { fillGearmanOptions } from '../src/gearman/gearman-options.js';
import { createClient, GearmanAdmin, parseServerAddress } from '../src/index.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

/** Gearman's binary packets: a 12-byte header whose second word is the type and third the data's size. */
const headerBytes = 12;
const JOB_CREATED = 8;

const relays: Server[] = [];
const sockets = new Set<Socket>();
afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  sockets.clear();
  await Promise.all(relays.splice(0).map((relay) => new Promise((resolve) => relay.close(resolve))));
  await stopAllGearmands();
});

/** What a relay did: connections taken, and connections cut. */
interface RelayCounts {
  connections: number;
  cuts: number;
}

/**
 * A loopback relay to `port` that forwards every packet, except that on its first connection it cuts
 * both sides at the first JOB_CREATED, which the client therefore never gets. Resolves with its port
 * and its counts.
 */
async function cutAtFirstJobCreated(port: number): Promise<{ port: number; counts: RelayCounts }> {
  const counts: RelayCounts = { connections: 0, cuts: 0 };
  const relay = createServer((client: Socket) => {
    const server = createConnection({ host: '127.0.0.1', port });
    const cutHere = counts.connections++ === 0;
    sockets.add(client).add(server);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk) => server.write(chunk));
    server.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= headerBytes) {
        const size = headerBytes + pending.readUInt32BE(8);
        if (pending.length < size) return;
        if (cutHere && pending.readUInt32BE(4) === JOB_CREATED) {
          counts.cuts++;
          client.destroy();
          server.destroy();
          return;
        }
        client.write(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
    });
    for (const socket of [client, server]) {
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        server.destroy();
      });
    }
  });
  relays.push(relay);
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  if (typeof address !== 'object' || !address) throw new Error('the relay has no port');
  return { port: address.port, counts };
}

describe.skipIf(!gearmandInstalled)('a background submission sent again after its connection broke', () => {
  it('keeps its unique, so gearmand holds one job, not two', async () => {
    const gearmand = await startGearmand();
    const relay = await cutAtFirstJobCreated(gearmand.port);
    const client = createClient({
      gearman: { servers: [`127.0.0.1:${relay.port}`], retryMs: 20, waitForServerMs: 5000 },
    });
    try {
      // No worker has the function: the job stays queued, where gearmand counts it.
      const handle = await client.background('nobodyRunsThis', { n: 1 });
      expect(handle).toMatch(/^H:/);
      // The first connection was cut at its JOB_CREATED, and the submission went again on a second.
      expect(relay.counts).toEqual({ connections: 2, cuts: 1 });
      const admin = new GearmanAdmin(
        parseServerAddress(gearmand.address),
        fillGearmanOptions({ servers: gearmand.address }),
      );
      const line = (await admin.status()).find((each) => each.functionName === 'nobodyRunsThis');
      expect(line?.total).toBe(1);
    } finally {
      await client.close();
    }
  });
});
