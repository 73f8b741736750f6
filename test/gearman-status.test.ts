/**
 * Looking a job up by its unique (Gearman's GET_STATUS_UNIQUE) through a real gearmand: the way to find a
 * job submitted by another process, whose handle this one never saw.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { fillGearmanOptions } from '../src/gearman/gearman-options.js';
import {
  createClient,
  createWorker,
  GearmanAdmin,
  parseServerAddress,
  UnsupportedError,
} from '../src/index.js';
import type functions from './fixtures/functions.js';
import { gearshift } from './helpers/cli.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.ts', import.meta.url);
afterAll(stopAllGearmands);

describe.skipIf(!gearmandInstalled)('statusOfUnique, through gearmand', () => {
  it('finds a running job by its unique, with the number of clients waiting on it', async () => {
    const server = await startGearmand();
    const gearman = { servers: [server.address] };
    const worker = createWorker({ functions: functionsModule, gearman, threads: 1 });
    const callers = [1, 2, 3].map(() =>
      createClient<typeof functions>({ functions: functionsModule, gearman }),
    );
    const [first, second, observer] = callers as [
      (typeof callers)[0],
      (typeof callers)[0],
      (typeof callers)[0],
    ];
    try {
      await worker.start();
      // Two processes' worth of callers asking for the same job: gearmand runs it once for both.
      const jobs = [first, second].map((caller) =>
        caller.run('progress', { steps: 300 }, { unique: 'nightly-report' }),
      );
      let status = await observer.statusOfUnique('nightly-report');
      for (let tries = 0; !(status.running && status.waiting === 2) && tries < 200; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        status = await observer.statusOfUnique('nightly-report');
      }
      expect(status).toMatchObject({ known: true, running: true, waiting: 2 });
      const [a, b] = await Promise.all(jobs);
      expect(a).toEqual({ steps: 300 });
      expect(b).toEqual(a);
      expect(await observer.statusOfUnique('nightly-report')).toMatchObject({ known: false, running: false });
    } finally {
      await Promise.all(callers.map((caller) => caller.destroy()));
      await worker.destroy();
    }
  });
});

describe.skipIf(!gearmandInstalled)('gearshift status --gearman', () => {
  it("shows a background job's state and progress, nothing undefined, and hides gearshift's control functions", async () => {
    const server = await startGearmand();
    const gearman = { servers: [server.address] };
    const worker = createWorker({ functions: functionsModule, gearman, threads: 1 });
    const client = createClient<typeof functions>({ functions: functionsModule, gearman });
    try {
      await worker.start();
      const handle = await client.background('progress', { steps: 400 });
      let shown = await gearshift('status', '--gearman', server.address, handle);
      for (let tries = 0; !shown.stdout.includes('state: running') && tries < 200; tries++) {
        shown = await gearshift('status', '--gearman', server.address, handle);
      }
      expect(shown.code).toBe(0);
      expect(shown.stdout).toMatch(
        new RegExp(`^handle: ${handle}\\nstate: running\\nprogress: \\d+/\\d+\\n$`),
      );
      expect(shown.stdout).not.toContain('undefined');
      const table = await gearshift('status', '--gearman', server.address);
      expect(table.stdout).toContain('\nprogress\t');
      // The worker registered gearshift:cancel:<id> too: an internal control function, not shown.
      expect(table.stdout).not.toContain('gearshift:');
      const admin = await new GearmanAdmin(
        parseServerAddress(server.address),
        fillGearmanOptions(gearman),
      ).status();
      expect(admin.some((line) => line.functionName.startsWith('gearshift:cancel:'))).toBe(true);
    } finally {
      await client.destroy();
      await worker.destroy();
    }
  });
});

describe('statusOfUnique elsewhere', () => {
  it('is refused with UnsupportedError by a client without Gearman servers, and says what to use', async () => {
    const local = createClient<typeof functions>({ functions: functionsModule, threads: 0, queue: false });
    const error = await local.statusOfUnique('anything').catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(UnsupportedError);
    expect((error as Error).message).toMatch(/use status\(handle\)/);
    await local.close();
  });
});
