// The functions module of the fresh-process benchmarks: plain JavaScript, as a compiled app has it.
import { connect } from 'node:net';
import { defineFunctions } from 'gearshift/functions';

export default defineFunctions({
  inc: (n) => n + 1,
  /** Keeps a core busy for `ms` milliseconds. */
  spin(input) {
    const end = performance.now() + input.ms;
    let turns = 0;
    while (performance.now() < end) turns++;
    return turns;
  },
  /** Waits on a real socket for a server that answers after a delay (bench/slow-server.ts). */
  fetchSlow: (input) =>
    new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port: input.port });
      let reply = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk) => {
        reply += chunk;
      });
      socket.on('end', () => resolve(reply));
      socket.on('error', reject);
    }),
});
