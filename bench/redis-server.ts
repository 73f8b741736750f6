/**
 * A redis-server for bench:queue's BullMQ peer: Debian's redis-server on a free loopback port, its files
 * in a temporary directory, with the append-only file fsynced every second (BullMQ's documented setting
 * for durable queues) and no snapshots. Undefined where redis-server is not installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../test/helpers/gearmand.js';

/** A running redis-server. */
export interface BenchRedis {
  readonly port: number;
  /** `redis-server --version`, first words. */
  readonly version: string;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<BenchRedis | undefined> {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0) return undefined;
  const port = await freePort();
  const directory = mkdtempSync(join(tmpdir(), 'gearshift-bench-redis-'));
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      directory,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
    ],
    { stdio: 'ignore' },
  );
  await waitForPort(port, child, 'redis-server');
  return {
    port,
    version: probe.stdout.trim().split(' ').slice(0, 3).join(' '),
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
