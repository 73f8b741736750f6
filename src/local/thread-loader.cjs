/**
 * The file piscina starts each worker thread with. It loads the thread's real entry (an ES module) with
 * import() and hands piscina the promise of its handler, which piscina awaits before the thread takes
 * tasks.
 *
 * Why not let piscina require() the ES module itself, as Node 20.19+, 22 and 24 allow: a thread
 * terminated while require() finishes loading an ES module aborts the whole process (Node asserts in
 * ModuleWrap::CreateRequiredModuleFacade, or on Node 20 in Module::IsGraphAsync), and gearshift
 * terminates threads on purpose: a stuck job's, a pool being destroyed. import() fails that thread
 * alone. Reproduced on Node 24.22 with bare worker threads that require() an ES module and are
 * terminated around the end of its load: one process aborted per 500 to 3,000 threads; with import(),
 * none in 7,076. (CI saw it once, 2026-12-06, in a test that destroys pools.)
 */
'use strict';
const { workerData } = require('node:worker_threads');

module.exports = import(workerData.entry).then((entry) => entry.default);
