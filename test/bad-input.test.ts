/**
 * The bad-input catalogue: every bad input a user or a network can send, each with the typed error it
 * must get, and then proof that nothing else was affected (the same client still runs a good job, the
 * same queue file still holds its jobs and passes `PRAGMA integrity_check`, the worker still serves).
 * RELIABILITY.md lists the same rows.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Client,
  createClient,
  createWorker,
  FunctionsModuleError,
  GearmanConnectionError,
  GearmanProtocolError,
  type GearshiftError,
  InvalidOptionError,
  PayloadError,
  QueueFileError,
  UnknownFunctionError,
  type Worker,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { gearshift } from './helpers/cli.js';
import { freePort, gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { openDatabase, queryValue } from './helpers/sqlite.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-bad-input-'));
type Fns = Client<typeof functions>;
/** Calls without compile-time checks: the point is what happens at run time. */
type Loose = Client;

/** The error a call ended with (or a failure when it did not fail). */
async function errorOf(call: () => unknown): Promise<GearshiftError> {
  try {
    await call();
  } catch (error) {
    return error as GearshiftError;
  }
  throw new Error('expected a failure, and the call succeeded');
}

/** A row of the catalogue: what is sent, and the error it must get. */
interface Row {
  readonly input: string;
  readonly send: () => unknown;
  readonly error: abstract new (...args: never[]) => GearshiftError;
  readonly message: RegExp;
}

function catalogue(rows: () => readonly Row[], stillWorks: () => Promise<void>): void {
  // The rows are read for their names now; their `send` runs in the test, once beforeAll made the clients.
  it.each(rows().map((row) => row.input))('%s', async (name) => {
    const row = rows().find((candidate) => candidate.input === name) as Row;
    const error = await errorOf(row.send);
    expect(error).toBeInstanceOf(row.error);
    expect(error.message).toMatch(row.message);
    await stillWorks();
  });
}

describe('bad input on a local client', () => {
  let gs: Fns;
  beforeAll(() => {
    gs = createClient<typeof functions>({ functions: functionsModule, threads: 1, queue: false });
  });
  afterAll(() => gs.close());
  const loose = () => gs as unknown as Loose;
  const cycle: Record<string, unknown> = {};
  cycle.self = cycle;

  catalogue(
    () => [
      {
        input: 'an unknown function',
        send: () => loose().run('nope', 1),
        error: UnknownFunctionError,
        message: /Unknown function 'nope'.*'add'/,
      },
      {
        input: 'a function in the input',
        send: () => loose().run('echo', { a: () => 1 }),
        error: PayloadError,
        message: /input\.a is a function/,
      },
      {
        input: 'a symbol in the input',
        send: () => loose().run('echo', [Symbol('s')]),
        error: PayloadError,
        message: /input\[0\] is a symbol/,
      },
      {
        input: 'a class instance in the input',
        send: () => loose().run('echo', new Map()),
        error: PayloadError,
        message: /input is a Map/,
      },
      {
        input: 'a BigInt in the input',
        send: () => loose().run('echo', { n: 1n }),
        error: PayloadError,
        message: /input\.n is a BigInt/,
      },
      {
        input: 'a cycle in the input',
        send: () => loose().run('echo', cycle),
        error: PayloadError,
        message: /input\.self.*cycle/,
      },
      {
        input: 'a unique longer than 64 bytes',
        send: () => gs.run('echo', 1, { unique: 'é'.repeat(33) }),
        error: InvalidOptionError,
        message: /`options\.unique` to be at most 64 bytes/,
      },
      {
        input: 'a negative timeout',
        send: () => gs.run('echo', 1, { timeout: -5 }),
        error: InvalidOptionError,
        message: /`options\.timeout`/,
      },
      {
        input: 'a priority that does not exist',
        send: () => loose().run('echo', 1, { priority: 'urgent' as 'high' }),
        error: InvalidOptionError,
        message: /`options\.priority`.*'high', 'normal' or 'low'/,
      },
    ],
    async () => expect(await gs.run('add', { a: 1, b: 2 })).toBe(3),
  );

  it('JSON with __proto__ keys reaches the handler as a plain key, and pollutes no prototype', async () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    const seen = await gs.run('keysOf', input);
    expect(seen).toEqual({ own: ['__proto__', 'a'], polluted: false });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('bad functions modules', () => {
  const throwing = new URL('./fixtures/throws-at-load.ts', import.meta.url);
  const clients: Loose[] = [];
  afterAll(() => Promise.all(clients.map((client) => client.destroy())));
  const client = (functions: URL) => {
    const made = createClient({ functions, threads: 1, queue: false }) as Loose;
    clients.push(made);
    return made;
  };

  catalogue(
    () => [
      {
        input: 'a functions module that is missing',
        send: () => client(new URL('./fixtures/nowhere.ts', import.meta.url)).run('echo', 1),
        error: FunctionsModuleError,
        message: /nowhere/,
      },
      {
        input: 'a functions module that throws while loading',
        send: () => client(throwing).run('echo', 1),
        error: FunctionsModuleError,
        message: /throws-at-load/,
      },
    ],
    async () => {
      const good = client(functionsModule);
      expect(await good.run('add', { a: 2, b: 2 })).toBe(4);
    },
  );
});

describe('bad queue files and directories', () => {
  const dir = join(directory, 'queues');
  mkdirSync(dir, { recursive: true });
  // A good file beside the bad ones: it must keep its job, untouched, whatever the others do.
  const goodPath = join(dir, 'good.db');
  let good: Loose;
  let goodHandle: string;
  const submitTo = async (path: string) => {
    const client = createClient({ queue: { path } }) as Loose;
    try {
      return await client.background('echo', 1);
    } finally {
      await client.destroy();
    }
  };
  const corrupt = join(dir, 'corrupt.db');
  const foreign = join(dir, 'foreign.db');
  let corruptBytes: Buffer;
  let foreignBytes: Buffer;
  const readOnly = join(dir, 'read-only');

  beforeAll(async () => {
    good = createClient({ queue: { path: goodPath } }) as Loose;
    goodHandle = await good.background('echo', 'kept');
    // A SQLite header, then pages of nonsense: a file damaged on disk.
    writeFileSync(
      corrupt,
      Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(8192, 0x5a)]),
    );
    const other = openDatabase(foreign);
    other.exec('CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)');
    other.close();
    corruptBytes = readFileSync(corrupt);
    foreignBytes = readFileSync(foreign);
    mkdirSync(readOnly);
    makeReadOnly(readOnly);
  });

  catalogue(
    () => [
      {
        input: 'a corrupt queue file',
        send: () => submitTo(corrupt),
        error: QueueFileError,
        message: new RegExp(`${corrupt}.*(malformed|not a database|corrupt)`, 'i'),
      },
      {
        input: "another application's SQLite file",
        send: () => submitTo(foreign),
        error: QueueFileError,
        message: /is a SQLite database of something else \(its tables: invoices\); it was not changed/,
      },
      {
        input: 'a read-only queue directory',
        send: () => submitTo(join(readOnly, 'queue.db')),
        error: QueueFileError,
        message: new RegExp(`Queue file ${readOnly}/queue.db cannot be .*(EROFS|EACCES)`),
      },
    ],
    async () => {
      expect((await good.status(goodHandle)).state).toBe('queued');
      expect(queryValue(goodPath, 'PRAGMA integrity_check')).toBe('ok');
      // The bad files are left exactly as they were found.
      expect(readFileSync(corrupt).equals(corruptBytes)).toBe(true);
      expect(readFileSync(foreign).equals(foreignBytes)).toBe(true);
    },
  );

  afterAll(async () => {
    await good.destroy();
    undoReadOnly(readOnly);
  });
});

describe('bad command lines', () => {
  const rows: [string, string[], RegExp][] = [
    ['no command', [], /Usage:/],
    ['an unknown command', ['launch'], /unknown command 'launch'/],
    ['work with neither --queue nor --gearman', ['work', 'x.js'], /work needs --queue <file> or --gearman/],
    [
      'a --threads that is not a number',
      ['work', 'x.js', '--queue', 'q.db', '--threads', 'many'],
      /--threads/,
    ],
    [
      '--prefetch-ms on a queue runner (it is for Gearman workers)',
      ['work', 'x.js', '--queue', 'q.db', '--prefetch-ms', '5'],
      /--prefetch-ms is for --gearman workers/,
    ],
    [
      'a --prefetch-ms that is not a number of milliseconds',
      ['work', 'x.js', '--gearman', '127.0.0.1:1', '--prefetch-ms', 'soon'],
      /--prefetch-ms/,
    ],
    [
      'an input that is not JSON',
      ['submit', 'echo', '{nope', '--functions', functionsModule.pathname],
      /the input must be JSON/,
    ],
    ['a bad server address', ['status', '--gearman', 'host:99999'], /gearman\.servers|port from 1 to 65535/],
  ];
  it.each(rows)('%s: exit code 2 and a message naming it', async (_name, args, message) => {
    const { code, stdout, stderr } = await gearshift(...args);
    expect(code).toBe(2);
    expect(`${stdout}${stderr}`).toMatch(message);
  });
});

describe('bad server addresses', () => {
  const addresses: [string, unknown][] = [
    ['an empty list', []],
    ['an empty address', ''],
    ['a port out of range', 'gearman.local:99999'],
    ['a port that is not a number', 'gearman.local:http'],
    ['a space in the host', 'gear man:4730'],
    ['a number instead of a string', [4730]],
  ];
  it.each(addresses)('%s: InvalidOptionError naming gearman.servers, at createClient', (_name, servers) => {
    const error = (() => {
      try {
        createClient({ gearman: { servers: servers as string } });
      } catch (thrown) {
        return thrown;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as Error).message).toMatch(/gearman\.servers/);
  });
});

describe('bad Gearman timing options', () => {
  const options: [string, Record<string, unknown>][] = [
    ['gearman.waitForServerMs', { waitForServerMs: -1 }],
    ['gearman.requestTimeoutMs', { requestTimeoutMs: 0 }],
    ['gearman.retryMs', { retryMs: 'soon' }],
  ];
  it.each(options)('%s out of range: InvalidOptionError naming it, at createClient', (name, bad) => {
    expect(() => createClient({ gearman: { servers: ['gearman.local'], ...bad } })).toThrow(
      new RegExp(name.replace('.', '\\.')),
    );
    expect(() => createClient({ gearman: { servers: ['gearman.local'], ...bad } })).toThrow(
      InvalidOptionError,
    );
  });
});

describe.skipIf(!gearmandInstalled)('bad input on the Gearman wire', () => {
  const limit = 1024 * 1024;
  let gs: Fns;
  /** A client without the functions module: it takes any name, as gearmand does. */
  let loose: Loose;
  let worker: Worker;
  let real: string;
  /** The client that met the last bad bytes: it must serve on, through the real server beside them. */
  let lastClient: Loose | undefined;
  const fakes: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    const server = await startGearmand();
    real = server.address;
    const gearman = { servers: [server.address], maxPacketBytes: limit, requestTimeoutMs: 500 };
    worker = createWorker({ functions: functionsModule, gearman, threads: 1 });
    await worker.start();
    gs = createClient<typeof functions>({ functions: functionsModule, gearman });
    loose = createClient({ gearman });
  });
  afterAll(async () => {
    await gs.destroy();
    await loose.destroy();
    await worker.destroy();
    await Promise.all(fakes.map((fake) => fake.close()));
    await stopAllGearmands();
  });

  /**
   * A client of a fake server that answers any connection with `bytes`, then says nothing more, and (with
   * `andReal`) of the real gearmand after it: its first job goes to the fake (the first server in turn).
   */
  async function fake(bytes: Buffer, andReal = true): Promise<Loose> {
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => socket.write(bytes));
    });
    const port = await freePort();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const client = createClient({
      gearman: { servers: [`127.0.0.1:${port}`, ...(andReal ? [real] : [])], requestTimeoutMs: 500 },
    }) as Loose;
    if (andReal) lastClient = client;
    fakes.push({
      close: async () => {
        await client.destroy();
        for (const socket of sockets) socket.destroy();
        await new Promise((resolve) => server.close(resolve));
      },
    });
    return client;
  }
  const header = (magic: string, type: number, size: number) => {
    const bytes = Buffer.alloc(12);
    bytes.write(magic, 0, 'latin1');
    bytes.writeUInt32BE(type, 4);
    bytes.writeUInt32BE(size, 8);
    return bytes;
  };
  const big = 'x'.repeat(limit + 1);

  catalogue(
    () => [
      {
        input: 'an input larger than maxPacketBytes (client side)',
        send: () => gs.run('echo', big),
        error: PayloadError,
        message: /echo: input is 1048579 bytes, more than the 1048576/,
      },
      {
        input: 'a background input larger than maxPacketBytes',
        send: () => gs.background('echo', big),
        error: PayloadError,
        message: /more than the 1048576 a packet may carry/,
      },
      {
        input: 'a result larger than maxPacketBytes (worker side)',
        send: () => gs.run('repeat', { text: 'ab', times: limit }),
        error: PayloadError,
        message: /repeat: result is 2097154 bytes, more than the 1048576/,
      },
      {
        input: 'a function name with a NUL, through a client that takes any name',
        send: () => loose.run('ec\0ho', 1),
        error: InvalidOptionError,
        message: /functionName.*without NUL characters/,
      },
      {
        input: 'a background job of a function name with a NUL',
        send: () => loose.background('ec\0ho', 1),
        error: InvalidOptionError,
        message: /functionName.*without NUL characters/,
      },
      {
        input: 'a frame header that announces 4 GiB',
        send: async () => (await fake(header('\0RES', 27, 0xffffffff))).run('echo', 1),
        error: GearmanProtocolError,
        message: /4294967295 bytes, more than the/,
      },
      {
        input: 'a bad magic',
        send: async () => (await fake(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'))).run('echo', 1),
        error: GearmanProtocolError,
        message: /magic/i,
      },
      {
        input: 'an unknown packet type',
        send: async () => (await fake(header('\0RES', 99, 0))).run('echo', 1),
        error: GearmanProtocolError,
        message: /type 99/,
      },
      {
        // Alone: with a second server, the job would go there once this one is taken for gone.
        input: 'a truncated frame, then silence',
        send: async () => (await fake(header('\0RES', 27, 100).subarray(0, 7), false)).run('echo', 1),
        error: GearmanConnectionError,
        message: /did not answer within 500 ms/,
      },
    ],
    async () => {
      expect(await gs.run('add', { a: 20, b: 22 })).toBe(42);
      // The client that met the bad bytes serves on too: its next job goes to the real server.
      if (lastClient) expect(await lastClient.run('add', { a: 1, b: 2 })).toBe(3);
      lastClient = undefined;
      expect(worker.running).toBe(0);
    },
  );

  it("a closed client's status() of a handle fails at once rather than waiting for its lone server", async () => {
    const closed = createClient({ gearman: { servers: [real] } });
    const handle = await closed.background('echo', 1);
    await closed.close();
    await expect(closed.status(handle)).rejects.toThrow(GearmanConnectionError);
    await expect(closed.status('H:elsewhere:1')).rejects.toThrow(/was closed by this client/);
  });

  it('JSON with __proto__ keys crosses the wire as a plain key, and pollutes no prototype', async () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": 1}') as Record<string, unknown>;
    expect(await gs.run('keysOf', input)).toEqual({ own: ['__proto__', 'a'], polluted: false });
  });
});

afterAll(() => rmSync(directory, { recursive: true, force: true }));

/**
 * Makes a directory read-only for this process. Root ignores permission bits, so as root a read-only
 * tmpfs is mounted there instead (the kernel then refuses writes with EROFS, to root too).
 */
function makeReadOnly(dir: string): void {
  if (process.getuid?.() === 0) execFileSync('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', dir]);
  else chmodSync(dir, 0o500);
}

function undoReadOnly(dir: string): void {
  if (process.getuid?.() === 0) execFileSync('umount', [dir]);
}
