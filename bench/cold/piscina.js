// A cold process: starts a raw piscina pool, runs one tiny task, prints, exits.
import { Piscina } from 'piscina';

const pool = new Piscina({
  filename: new URL('./piscina-task.js', import.meta.url).href,
  minThreads: 2,
  maxThreads: 2,
});
console.log(await pool.run(41));
await pool.close();
