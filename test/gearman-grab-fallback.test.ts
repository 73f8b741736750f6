/**
 * The worker's grab fallback against a server that does not answer the grabs it does not know, neither
 * with a job nor with an ERROR. No such server is installed here (gearmand closes the connection on a
 * packet it has never heard of; Perl's Gearman::Server answers ERROR, tested in
 * gearman-perl-server.test.ts), so this one is a stand-in written for the test: a loopback TCP server,
 * speaking the real protocol through the project's codec, that knows only the original GRAB_JOB and
 * ignores GRAB_JOB_ALL and GRAB_JOB_UNIQ in silence.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePacket, type Packet } from '../src/gearman/protocol/packet-codec.js';
import { PacketDecoder } from '../src/gearman/protocol/packet-decoder.js';
import { PacketTypes, packetLayouts } from '../src/gearman/protocol/packet-types.js';
import { createWorker, type Worker } from '../src/index.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);

/** The stand-in: one job of `add` to hand out, and the packet types each connection sent, by name. */
async function silentServer(): Promise<{
  server: Server;
  port: number;
  seen: string[][];
  result: Promise<string>;
}> {
  const seen: string[][] = [];
  let finish: (result: string) => void = () => {};
  const result = new Promise<string>((resolve) => {
    finish = resolve;
  });
  let handedOut = false;
  const answer = (socket: Socket, sent: string[], canDo: Set<string>, packet: Packet) => {
    sent.push(packetLayouts[packet.type].name);
    switch (packet.type) {
      case PacketTypes.CAN_DO:
        canDo.add(packet.args.functionName);
        return;
      case PacketTypes.ECHO_REQ:
        socket.write(encodePacket('RES', PacketTypes.ECHO_RES, {}, packet.data));
        return;
      case PacketTypes.GRAB_JOB:
        // As a real server: a job only for a connection that said it can do its function.
        if (handedOut || !canDo.has('add')) socket.write(encodePacket('RES', PacketTypes.NO_JOB, {}));
        else {
          handedOut = true;
          const data = Buffer.from(JSON.stringify({ a: 40, b: 2 }));
          socket.write(
            encodePacket(
              'RES',
              PacketTypes.JOB_ASSIGN,
              { handle: 'H:stand-in:1', functionName: 'add' },
              data,
            ),
          );
        }
        return;
      case PacketTypes.WORK_COMPLETE:
        finish(packet.data.toString('utf8'));
        return;
      default:
        // GRAB_JOB_ALL, GRAB_JOB_UNIQ: not known here, and not answered. CAN_DO, PRE_SLEEP...: nothing owed.
        return;
    }
  };
  const server = createServer((socket) => {
    const decoder = new PacketDecoder(1024 * 1024, 'worker');
    const sent: string[] = [];
    const canDo = new Set<string>();
    seen.push(sent);
    socket.on('data', (chunk) => {
      for (const packet of decoder.push(chunk)) answer(socket, sent, canDo, packet);
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { server, port, seen, result };
}

describe('the grab fallback, against a server that answers nothing to a grab it does not know', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
  });

  it('tries GRAB_JOB_ALL, then GRAB_JOB_UNIQ, then grabs with GRAB_JOB, and runs the job', async () => {
    const { server, port, seen, result } = await silentServer();
    const worker: Worker = createWorker({
      functions: functionsModule,
      gearman: { servers: [`127.0.0.1:${port}`] },
      threads: 1,
    });
    cleanups.push(async () => {
      await worker.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    await worker.start();
    expect(await result).toBe('42');
    // Each connection (the job loop's and the control loop's) learns the grab before it registers; the
    // control loop may still be learning when the job is done.
    for (let tries = 0; tries < 200; tries++) {
      if (seen.length === 2 && seen.every((sent) => sent.includes('GRAB_JOB', 6))) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(seen).toHaveLength(2);
    for (const sent of seen) {
      expect(sent.slice(0, 7)).toEqual([
        'GRAB_JOB_ALL',
        'ECHO_REQ',
        'GRAB_JOB_UNIQ',
        'ECHO_REQ',
        'GRAB_JOB',
        'ECHO_REQ',
        'SET_CLIENT_ID',
      ]);
      expect(sent.slice(7)).not.toContain('GRAB_JOB_ALL');
      expect(sent.slice(7)).not.toContain('GRAB_JOB_UNIQ');
      expect(sent.slice(7)).toContain('GRAB_JOB');
    }
  });
});
