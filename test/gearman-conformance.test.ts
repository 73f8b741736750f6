import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import { createClient, createWorker, type Worker } from '../src/index.js';
import { conformanceSuite } from './conformance/suite.js';
import type functions from './fixtures/functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands, type TestGearmand } from './helpers/gearmand.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);

// Every job goes through a real gearmand to a gearshift worker in this process.
describe.skipIf(!gearmandInstalled)('through gearmand', () => {
  let server: TestGearmand;
  const workers: Worker[] = [];
  beforeAll(async () => {
    server = await startGearmand();
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((worker) => worker.destroy()));
  });
  afterAll(stopAllGearmands);

  conformanceSuite('gearman', {
    makeClient: ({ slots }) => {
      const gearman = { servers: [server.address] };
      const worker = createWorker({ functions: functionsModule, gearman, threads: slots, abortGrace: 500 });
      workers.push(worker);
      void worker.start();
      return createClient<typeof functions>({ functions: functionsModule, gearman });
    },
  });
});
