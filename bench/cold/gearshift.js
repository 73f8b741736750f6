// A cold process: starts a gearshift client on the thread pool, runs one tiny job, prints, exits.
import { createClient } from 'gearshift';

const gs = createClient({ functions: new URL('./functions.js', import.meta.url), threads: 2, queue: false });
console.log(await gs.run('inc', 41));
await gs.close();
