import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { createClient } from '../src/index.js';
import { conformanceSuite } from './conformance/suite.js';
import type functions from './fixtures/functions.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);
const directory = mkdtempSync(join(tmpdir(), 'gearshift-queue-conformance-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
let files = 0;

// Every job goes through a queue file: committed, claimed by this process's runner, its events and
// result read back from the file.
conformanceSuite('queue file', {
  makeClient: ({ slots }) =>
    createClient<typeof functions>({
      functions: functionsModule,
      threads: slots,
      abortGrace: 500,
      queue: { path: join(directory, `queue-${++files}.db`), foreground: true },
    }),
});
