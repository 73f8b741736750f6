/**
 * npm run bench:events: how fast a running job's events (status/data/warning) can travel from a worker
 * thread to the caller, through what gearshift uses (a MessagePort and plain messages) and through
 * comlink (a proxy of a caller-side object). The figure behind the README's design note on comlink.
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import * as Comlink from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';

const events = 100_000;
const rounds = 5;

/** The worker: posts `events` status reports one way or the other, then says how long that took. */
const workerSource = `
const { workerData, parentPort } = require('node:worker_threads');
const { port, way, events } = workerData;
parentPort.postMessage('ready');
parentPort.once('message', async () => {
  const started = performance.now();
  if (way === 'message') {
    for (let n = 1; n <= events; n++) port.postMessage({ t: 'status', id: 1, numerator: n, denominator: events });
  } else {
    const Comlink = await import(${JSON.stringify(import.meta.resolve('comlink'))});
    const { default: nodeEndpoint } = await import(${JSON.stringify(import.meta.resolve('comlink/dist/esm/node-adapter.mjs'))});
    const caller = Comlink.wrap(nodeEndpoint(port));
    // Fire and forget, as a handler would: job.status() does not wait for the caller.
    for (let n = 1; n <= events; n++) caller.status(1, n, events);
  }
  parentPort.postMessage(performance.now() - started);
});`;

interface Sink {
  status(id: number, numerator: number, denominator: number): void;
}

async function measure(way: 'message' | 'comlink'): Promise<{ total: number; worker: number }> {
  const { port1, port2 } = new MessageChannel();
  let received = 0;
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => {
    done = resolve;
  });
  const sink: Sink = {
    status(_id, numerator) {
      received++;
      if (numerator === events) done();
    },
  };
  if (way === 'message')
    port1.on('message', (message: { numerator: number }) => sink.status(1, message.numerator, events));
  else Comlink.expose(sink, nodeEndpoint(port1));
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: { port: port2, way, events },
    transferList: [port2],
  });
  await new Promise((resolve) => worker.once('message', resolve));
  const workerMs = new Promise<number>((resolve) => worker.once('message', resolve));
  const started = performance.now();
  worker.postMessage('go');
  await all;
  const total = performance.now() - started;
  const result = { total, worker: await workerMs };
  if (received !== events) throw new Error(`${way}: ${received} of ${events} events arrived`);
  await worker.terminate();
  port1.close();
  return result;
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
const results = { message: [] as number[], comlink: [] as number[] };
for (let round = 0; round < rounds; round++) {
  results.message.push((await measure('message')).total);
  results.comlink.push((await measure('comlink')).total);
}
const rate = (ms: number) => Math.round((events / ms) * 1000).toLocaleString('en-US');
console.log(`gearshift bench:events  ${new Date().toISOString().slice(0, 10)}  node ${process.version}`);
console.log(
  `${events.toLocaleString('en-US')} job status events from a worker thread to the caller (median of ${rounds})`,
);
console.log(`  MessagePort messages (gearshift)  ${rate(median(results.message)).padStart(10)} events/s`);
console.log(
  `  comlink proxy calls               ${rate(median(results.comlink)).padStart(10)} events/s   ${(median(results.comlink) / median(results.message)).toFixed(1)}x slower`,
);
