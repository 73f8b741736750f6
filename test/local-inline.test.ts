import { createClient } from '../src/index.js';
import { conformanceSuite } from './conformance/suite.js';
import functions from './fixtures/functions.js';

conformanceSuite('inline', {
  makeClient: ({ slots }) => createClient({ functions, threads: 0, concurrency: slots }),
});
