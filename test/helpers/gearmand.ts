/**
 * Real Gearman job servers for tests: each on a free loopback port, logging into a temporary directory,
 * stopped by the test that started it (even when it fails, through stopAllGearmands in afterEach).
 *
 * Two servers: C gearmand (Debian's gearman-job-server) and Perl's Gearman::Server (gearman-server).
 * Both packages install a program named `gearmand`, so each is called by the full path its package
 * lists, never through PATH.
 *
 * Where a server is not installed, the tests that need it are skipped with one loud line saying what to
 * install; under CI (CI=true), a missing server is a failure, not a skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Which job server: C gearmand, or Perl's Gearman::Server. */
export type GearmandKind = 'c' | 'perl';

/** The program a Debian package installs under the name `gearmand`, by the package's own file list. */
function programOf(debianPackage: string): string | undefined {
  const listed = spawnSync('dpkg', ['-L', debianPackage], { encoding: 'utf8' });
  const path = (listed.stdout ?? '').split('\n').find((line) => /\/s?bin\/gearmand$/.test(line));
  if (!path) return undefined;
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    return undefined;
  }
}

/** The full path of each server's program, where its package is installed. */
export const gearmandPrograms: Readonly<Record<GearmandKind, string | undefined>> = {
  c: programOf('gearman-job-server'),
  perl: programOf('gearman-server'),
};

const packages: Record<GearmandKind, string> = { c: 'gearman-job-server', perl: 'gearman-server' };
for (const kind of ['c', 'perl'] as const) {
  if (gearmandPrograms[kind]) continue;
  const message = `${packages[kind]} is not installed: the Gearman tests need it (apt-get install gearman-job-server gearman-server gearman-tools php-cli php-gearman stunnel4)`;
  if (process.env.CI) throw new Error(`${message}; under CI that is a failure, not a skip`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}
/** Whether the tests that need gearmand can run here. */
export const gearmandInstalled = gearmandPrograms.c !== undefined;
/** Whether the tests that need Perl's Gearman::Server can run here. */
export const perlGearmandInstalled = gearmandPrograms.perl !== undefined;

/** A gearmand started by a test. */
export interface TestGearmand {
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Stops it (SIGTERM, then SIGKILL), and starts it again on the same port with the same options. */
  restart(): Promise<void>;
  /** Stops it for a while: `up()` starts it again on the same port (stopAllGearmands still cleans up). */
  down(): Promise<void>;
  up(): Promise<void>;
  stop(): Promise<void>;
}

const running = new Set<TestGearmand>();

/** A free loopback port (the kernel's choice, released for the server to take). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts a job server on a free port, once it accepts connections: C gearmand by default, with extra
 * arguments (`-q libsqlite3 ...`), or Perl's Gearman::Server (`kind: 'perl'`, which logs nothing).
 */
export async function startGearmand(
  extra: readonly string[] = [],
  kind: GearmandKind = 'c',
): Promise<TestGearmand> {
  const program = gearmandPrograms[kind];
  if (!program) throw new Error(`${packages[kind]} is not installed`);
  const port = await freePort();
  const logs = mkdtempSync(join(tmpdir(), 'gearshift-gearmand-'));
  const logArgs = kind === 'c' ? ['-l', join(logs, 'gearmand.log'), '--verbose', 'ERROR'] : [];
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn(program, ['-p', String(port), '-L', '127.0.0.1', ...logArgs, ...extra], {
      stdio: 'ignore',
    });
    await waitForPort(port, child, program);
  };
  const halt = async () => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  };
  await launch();
  const server: TestGearmand = {
    port,
    address: `127.0.0.1:${port}`,
    async restart() {
      await halt();
      await launch();
    },
    down: halt,
    up: launch,
    async stop() {
      running.delete(server);
      await halt();
      rmSync(logs, { recursive: true, force: true });
    },
  };
  running.add(server);
  return server;
}

/** Stops every gearmand a test started and left running. */
export async function stopAllGearmands(): Promise<void> {
  await Promise.all([...running].map((server) => server.stop()));
}

/** Resolves once something listens on the loopback `port`; fails if `child` (named `name`) exits first. */
export async function waitForPort(port: number, child: ChildProcess, name = 'gearmand'): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`${name} exited with ${child.exitCode} before listening on ${port}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
