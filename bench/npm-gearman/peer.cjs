// bench:gearman's npm columns: the Gearman libraries Node users install from npm (gearman 2.1,
// node-gearman 0.2, gearmanode 0.9, abraxas 2.1), each as a client or a worker, each used as its README
// shows. CommonJS, as these libraries are.
//
//   node peer.cjs <library> worker <host> <port> <function> [nodelay]      serves n => n + 1 (JSON)
//   node peer.cjs <library> client <host> <port> <function> <serial|background> <count> <warm-up count> [nodelay]
//
// The client takes the arguments of bench/php/client.php and prints the same {"ms", "count"} as its last
// line (a library may log before it): it times only its measured round. `nodelay` turns Nagle's
// algorithm off on every socket the library opens, as three of the four do not (abraxas does): a
// request-and-answer protocol on a socket with Nagle on waits for the peer's delayed ACK, about 40 ms,
// whenever two small writes follow each other, and the library runs at a few dozen jobs a second.
'use strict';
const net = require('node:net');

const [library, role, host, port, functionName, ...rest] = process.argv.slice(2);
const noDelay = rest.includes('nodelay');
const [mode, count, warmUp] = rest.filter((arg) => arg !== 'nodelay');

if (noDelay) {
  // Set before connect: Node applies it once the socket has its handle.
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (...args) {
    this.setNoDelay(true);
    return connect.apply(this, args);
  };
}

const inc = (payload) => JSON.stringify(JSON.parse(payload.toString('utf8')) + 1);

/**
 * Each library's worker and client, as its README shows them. A client offers `run(n)` (resolves with
 * the worker's answer) and `background(n)` (resolves once gearmand has the job: JOB_CREATED).
 */
const libraries = {
  gearman() {
    const gearman = require('gearman');
    const open = () =>
      new Promise((resolve) => {
        const connection = gearman(host, Number(port));
        connection.connect(() => resolve(connection));
      });
    return {
      async worker() {
        const worker = await open();
        // The README's loop sleeps after every job and grabs on NOOP; this one grabs again at once and
        // sleeps only when there is nothing, one round trip a job fewer.
        worker.on('JOB_ASSIGN', (job) => {
          worker.sendWorkComplete(job.handle, inc(job.payload));
          worker.grabJob();
        });
        worker.on('NO_JOB', () => worker.preSleep());
        worker.on('NOOP', () => worker.grabJob());
        worker.addFunction(functionName);
        worker.grabJob();
      },
      async client() {
        const client = await open();
        let answered;
        let failed;
        client.on('WORK_COMPLETE', (job) => answered(JSON.parse(job.payload.toString('utf8'))));
        client.on('JOB_CREATED', (handle) => answered(handle));
        client.on('WORK_FAIL', () => failed(new Error('the job failed')));
        return {
          run: (n) =>
            new Promise((resolve, reject) => {
              // JOB_CREATED comes first and is not the answer: wait for the completion.
              answered = (value) => typeof value === 'number' && resolve(value);
              failed = reject;
              client.submitJob(functionName, String(n));
            }),
          background: (n) =>
            new Promise((resolve) => {
              answered = resolve;
              client.submitJob(`${functionName}_queued`, String(n), { background: true });
            }),
        };
      },
    };
  },
  'node-gearman'() {
    const Gearman = require('node-gearman');
    // Its API says nothing when gearmand has taken a background job; its handler of JOB_CREATED does.
    let created;
    const receiveCreated = Gearman.prototype.receive_JOB_CREATED;
    Gearman.prototype.receive_JOB_CREATED = function (handle, callback) {
      created?.(handle);
      return receiveCreated.call(this, handle, callback);
    };
    return {
      async worker() {
        const worker = new Gearman(host, Number(port));
        worker.registerWorker(functionName, (payload, job) => job.end(inc(payload)));
        worker.connect();
      },
      async client() {
        const client = new Gearman(host, Number(port));
        await new Promise((resolve) => {
          client.on('connect', resolve);
          client.connect();
        });
        return {
          run: (n) =>
            new Promise((resolve, reject) => {
              const job = client.submitJob(functionName, String(n));
              let answer;
              job.on('data', (data) => {
                answer = data;
              });
              job.on('end', () => resolve(JSON.parse(answer.toString('utf8'))));
              job.on('error', reject);
            }),
          background: (n) =>
            new Promise((resolve) => {
              created = resolve;
              client.submitJob(`${functionName}_queued`, String(n), false, { background: true });
            }),
        };
      },
    };
  },
  gearmanode() {
    // gearmanode logs each packet through loggers of winston's, and the winston 3 that npm installs for it
    // gives those no transport: it prints a warning to stderr for every line, three per job. A user quiets
    // it as here, with a transport at the warn level for the loggers it makes.
    const winston = require('winston');
    const quiet = { level: 'warn', transports: [new winston.transports.Console()] };
    winston.configure(quiet);
    winston.loggers.options = quiet;
    const gearmanode = require('gearmanode');
    const servers = [{ host, port: Number(port) }];
    return {
      async worker() {
        const worker = gearmanode.worker({ servers });
        worker.addFunction(functionName, (job) => job.workComplete(inc(job.payload)));
      },
      async client() {
        const client = gearmanode.client({ servers });
        return {
          run: (n) =>
            new Promise((resolve, reject) => {
              const job = client.submitJob(functionName, String(n));
              job.on('complete', () => resolve(JSON.parse(job.response.toString('utf8'))));
              job.on('failed', () => reject(new Error('the job failed')));
              job.on('error', reject);
            }),
          background: (n) =>
            new Promise((resolve, reject) => {
              const job = client.submitJob(`${functionName}_queued`, String(n), { background: true });
              job.on('created', () => resolve(job.handle));
              job.on('error', reject);
            }),
        };
      },
    };
  },
  abraxas() {
    const Gearman = require('abraxas');
    const connect = () => Gearman.Client.connect({ servers: [`${host}:${port}`], defaultEncoding: 'utf8' });
    return {
      async worker() {
        connect().registerWorker(functionName, (task) => inc(task.payload));
      },
      async client() {
        const client = connect();
        return {
          run: (n) => client.submitJob(functionName, String(n)).then((result) => JSON.parse(result)),
          background: (n) => client.submitJobBg(`${functionName}_queued`, String(n)),
        };
      },
    };
  },
};

async function main() {
  const make = libraries[library];
  if (!make) throw new Error(`unknown library ${library}: one of ${Object.keys(libraries).join(', ')}`);
  if (role === 'client' && mode !== 'serial' && mode !== 'background')
    throw new Error(`unknown mode ${mode}: serial or background`);
  const side = make();
  if (role === 'worker') {
    await side.worker();
    process.stdout.write('ready\n');
    return;
  }
  const client = await side.client();
  async function roundOf(jobs) {
    let right = 0;
    if (mode === 'serial') for (let n = 0; n < jobs; n++) right += (await client.run(n)) === n + 1 ? 1 : 0;
    else for (let n = 0; n < jobs; n++) right += (await client.background(n)) ? 1 : 0;
    return right;
  }
  const { printTimedRound } = await import('../timed-round.mjs');
  await printTimedRound(roundOf, Number(warmUp), Number(count));
  process.exit(0);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
