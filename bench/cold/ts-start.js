// How long a pool of one thread takes to start and load a TypeScript functions module: run with plain
// node (Node's own type stripping, on 22 and 24) or with `node --import tsx` (tsx loads it). Prints ms.
import { createClient } from 'gearshift';

const gs = createClient({
  functions: new URL('./ts/functions.ts', import.meta.url),
  threads: 1,
  queue: false,
});
const started = performance.now();
await gs.start();
const ms = performance.now() - started;
if ((await gs.run('total', { sales: [{ amount: 40 }, { amount: 2 }] })) !== 42)
  throw new Error('wrong total');
await gs.close();
console.log(JSON.stringify({ ms }));
