import { createClient } from '../src/index.js';
import { conformanceSuite } from './conformance/suite.js';
import type functions from './fixtures/functions.js';

const functionsModule = new URL('./fixtures/functions.js', import.meta.url);

conformanceSuite('local threads', {
  makeClient: ({ slots }) =>
    createClient<typeof functions>({ functions: functionsModule, threads: slots, abortGrace: 500 }),
});
