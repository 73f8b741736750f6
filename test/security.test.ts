/**
 * Security: TLS end to end through stunnel in front of a real gearmand (mutual certificates included),
 * no code travelling on the wire (a worker runs only the functions of its own module, whatever a server
 * assigns it), and no secret or payload content in error messages. Queue files' modes (0600) are tested
 * in queue-background.test.ts.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodePacket } from '../src/gearman/protocol/packet-codec.js';
import { PacketDecoder } from '../src/gearman/protocol/packet-decoder.js';
import { PacketTypes } from '../src/gearman/protocol/packet-types.js';
import {
  type Client,
  createClient,
  createWorker,
  GearmanConnectionError,
  type GearmanOptions,
  InvalidOptionError,
  PayloadError,
  type Worker,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { freePort, gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startTlsProxy, type TlsProxy, tlsProxyInstalled } from './helpers/tls-proxy.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);
const opened: (Client | Worker)[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((each) => each.destroy()));
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await stopAllGearmands();
});

function client(gearman: GearmanOptions): Client<typeof functions> {
  const made = createClient<typeof functions>({ functions: functionsModule, gearman });
  opened.push(made as Client);
  return made;
}

async function worker(gearman: GearmanOptions, threads = 1): Promise<Worker> {
  const made = createWorker({ functions: functionsModule, gearman, threads });
  opened.push(made);
  await made.start();
  return made;
}

describe.skipIf(!gearmandInstalled || !tlsProxyInstalled)('TLS, through stunnel in front of gearmand', () => {
  async function proxied(requireClientCertificate: boolean): Promise<TlsProxy> {
    const server = await startGearmand();
    const proxy = await startTlsProxy(server.address, { requireClientCertificate });
    cleanups.push(() => proxy.stop());
    return proxy;
  }

  it('a client and a worker that trust the CA run jobs over TLS', async () => {
    const proxy = await proxied(false);
    const gearman = { servers: [proxy.address], tls: { ca: proxy.certificates.ca } };
    await worker(gearman);
    const caller = client(gearman);
    expect(await caller.run('add', { a: 20, b: 22 })).toBe(42);
    expect(await caller.run('echo', { text: 'é'.repeat(10_000) })).toEqual({ text: 'é'.repeat(10_000) });
  });

  it('a server certificate from an untrusted CA is refused, with the TLS reason', async () => {
    const proxy = await proxied(false);
    const caller = client({ servers: [proxy.address], tls: { ca: proxy.certificates.strangerCa } });
    const error = await caller.run('echo', 'x').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as Error).message).toMatch(/certificate/i);
  });

  it('mutual TLS: with the client certificate jobs run; without one the client is refused, and says so', async () => {
    const proxy = await proxied(true);
    const { ca, cert, key } = proxy.certificates;
    await worker({ servers: [proxy.address], tls: { ca, cert, key } });
    const trusted = client({ servers: [proxy.address], tls: { ca, cert, key } });
    expect(await trusted.run('add', { a: 1, b: 1 })).toBe(2);

    const anonymous = client({ servers: [proxy.address], tls: { ca }, requestTimeoutMs: 2000 });
    const error = await anonymous.run('echo', 'x').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(GearmanConnectionError);
    expect((error as Error).message).toMatch(new RegExp(proxy.address.replace(/\./g, '\\.')));
    // The TLS alert races the connection's reset, so the client's own words may be only its hint; the
    // server's log says why it refused: the certificate, not anything else.
    expect((error as Error).message).toMatch(/CERTIFICATE_REQUIRED|requires a client certificate/);
    expect(proxy.log()).toMatch(/peer did not return a certificate|certificate required/i);
  });
});

describe('no code travels on the wire', () => {
  it('a worker assigned a name its module lacks (constructor, __proto__, eval) runs nothing and answers WORK_FAIL', async () => {
    // A fake job server that breaks the rules: it assigns, one grab at a time, jobs whose names the
    // worker never registered, with JavaScript for input, then a real one; on the worker's control
    // connection it assigns a job that is not a cancel request. It records every answer.
    const jobs = [
      ['H:fake:1', 'constructor', '"process.exit(7)"'],
      ['H:fake:2', '__proto__', '{"polluted": true}'],
      ['H:fake:3', 'eval', '"globalThis.hacked = true"'],
      ['H:fake:4', 'add', '{"a": 2, "b": 3}'],
    ];
    const control = [['H:fake:c', 'constructor', '"process.exit(7)"']];
    const answers = new Map<string, { type: number; data: string }>();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      const decoder = new PacketDecoder(1024 * 1024, 'worker');
      let queue: string[][] = [];
      socket.on('data', (chunk) => {
        for (const packet of decoder.push(chunk)) {
          if (packet.type === PacketTypes.CAN_DO) {
            queue = packet.args.functionName.startsWith('gearshift:cancel:') ? control : jobs;
          } else if (packet.type === PacketTypes.GRAB_JOB_ALL) {
            const next = queue.shift();
            socket.write(
              next
                ? encodePacket(
                    'RES',
                    PacketTypes.JOB_ASSIGN_UNIQ,
                    { handle: next[0] as string, functionName: next[1] as string, unique: '' },
                    Buffer.from(next[2] as string),
                  )
                : encodePacket('RES', PacketTypes.NO_JOB, {}),
            );
          } else if (packet.type === PacketTypes.ECHO_REQ) {
            // A worker's first packets on a connection ask which grab the server knows, with an echo behind.
            socket.write(encodePacket('RES', PacketTypes.ECHO_RES, {}, packet.data));
          } else if (packet.type === PacketTypes.PRE_SLEEP) {
            // As gearmand does: a worker going to sleep while jobs wait is woken at once.
            if (queue.length > 0) socket.write(encodePacket('RES', PacketTypes.NOOP, {}));
          } else if ('handle' in packet.args) {
            answers.set(packet.args.handle, { type: packet.type, data: packet.data.toString() });
          }
        }
      });
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    // Inline (threads: 0): the handlers would run in this very thread, so that its globals, checked
    // below, are the ones a job that ran would have touched.
    await worker({ servers: [`127.0.0.1:${port}`] }, 0);
    const deadline = Date.now() + 10_000;
    while (answers.size < 5 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const fail = { type: PacketTypes.WORK_FAIL, data: '' };
    expect(Object.fromEntries(answers)).toEqual({
      'H:fake:1': fail,
      'H:fake:2': fail,
      'H:fake:3': fail,
      'H:fake:4': { type: PacketTypes.WORK_COMPLETE, data: '5' },
      'H:fake:c': fail,
    });
    expect((globalThis as Record<string, unknown>).hacked).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('no secret and no payload in error messages', () => {
  it('a TLS key passed where the tls options belong is refused without quoting it', () => {
    const key =
      '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC-very-secret\n-----END PRIVATE KEY-----\n';
    const error = (() => {
      try {
        createClient({ gearman: { servers: ['127.0.0.1:4730'], tls: key as never } });
      } catch (thrown) {
        return thrown as Error;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect(error?.message).toBe(
      'Expected `gearman.tls` to be an object of node:tls options ({ ca, cert, key }), got a string (its content is not shown: it may be a secret)',
    );
    expect(error?.message).not.toContain('PRIVATE');
  });

  it.skipIf(!gearmandInstalled)(
    "a worker's answer that is not JSON is reported by its size, not its content",
    async () => {
      // A fake worker (raw protocol) answers with a token that must not reach an error message or a log.
      const server = await startGearmand();
      const secret = 'sk_live_51H8secret-token';
      const socket = await new Promise<Socket>((resolve) => {
        const made = connect(server.port, '127.0.0.1', () => resolve(made));
      });
      cleanups.push(async () => {
        socket.destroy();
      });
      const decoder = new PacketDecoder(1024 * 1024, 'gearmand');
      socket.on('data', (chunk) => {
        for (const packet of decoder.push(chunk)) {
          if (packet.type === PacketTypes.NOOP)
            socket.write(encodePacket('REQ', PacketTypes.GRAB_JOB_UNIQ, {}));
          if (packet.type === PacketTypes.JOB_ASSIGN_UNIQ)
            socket.write(
              encodePacket(
                'REQ',
                PacketTypes.WORK_COMPLETE,
                { handle: packet.args.handle },
                Buffer.from(secret),
              ),
            );
        }
      });
      socket.write(encodePacket('REQ', PacketTypes.CAN_DO, { functionName: 'echo' }));
      socket.write(encodePacket('REQ', PacketTypes.PRE_SLEEP, {}));
      const caller = client({ servers: [server.address] });
      const error = await caller.run('echo', 'hello').catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(PayloadError);
      expect((error as Error).message).toBe(
        `echo: result is not JSON (${secret.length} bytes); to exchange raw bytes, send a Buffer or declare the function with { bytes }`,
      );
    },
  );
});
