#!/usr/bin/env node
/**
 * The `gearshift` command. Each command lives in a file of its own; this one parses the command line,
 * dispatches, and turns errors into messages and exit codes (0 done, 1 the job failed, 2 bad usage).
 */
import { createRequire } from 'node:module';
import { GearshiftError, InvalidOptionError } from '../errors.js';
import { listFunctions } from './functions-command.js';
import { listJobs, requeue } from './jobs-command.js';
import { status } from './status-command.js';
import { submit } from './submit-command.js';
import { UsageError } from './usage-error.js';
import { work } from './work-command.js';

const usage = `gearshift: the Gearman job model for Node.js

Usage:
  gearshift submit <function> [<json>] --functions <module> [--threads N] [--raw]
      Runs one job on a local thread pool; prints its progress on stderr and its result on stdout
      (JSON, or the raw bytes of a bytes function). --raw sends the input's text as it is.
  gearshift submit <function> [<json>] (--queue <file> | --gearman host:port[,...]) [--background]
                   [--priority P] [--unique KEY] [--delay MS] [--attempts N] [--raw] [--functions <module>]
      Hands one job to the runners of a queue file, or to a Gearman cluster. With --background, prints
      its handle once it is accepted; without, waits for the result.
  gearshift work <module> (--queue <file> | --gearman host:port[,...]) [--threads N]
                 [--concurrency N|auto] [--max-concurrency N] [--lease-ms MS] [--grace-ms MS]
                 [--client-id ID] [--prefetch-ms MS]
      Runs the module's jobs until SIGTERM or SIGINT (then finishes what runs). --threads 0 runs them
      on the process's own thread: the least overhead per job, for short jobs that do not block.
      --concurrency auto (the default): a thread takes more jobs while its jobs wait on I/O, up to
      --max-concurrency (default 32); a number fixes the jobs per thread.
      --prefetch-ms (Gearman, default 1): how much work, in recent jobs' run time, to hold beyond the
      free slots; 0 grabs only for free slots.
  gearshift status (--queue <file> | --gearman host:port[,...]) [<handle>]
      Per function: jobs queued, running, and the workers that run it; or one job's state and progress.
  gearshift jobs --queue <file> [--state dead|failed|queued|running|completed] [--limit N]
      The most recent jobs in a state: the dead-letter jobs by default.
  gearshift requeue --queue <file> <handle>...
      Puts failed or dead jobs back in the queue with a fresh set of attempts.
  gearshift functions <module>
      Lists the functions a module defines, with their payloads and timeouts.
  gearshift --help | --version
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'submit':
      return submit(rest);
    case 'functions':
      return listFunctions(rest);
    case 'work':
      return work(rest);
    case 'status':
      return status(rest);
    case 'jobs':
      return listJobs(rest);
    case 'requeue':
      return requeue(rest);
    case '--version':
    case '-v': {
      // The package's own package.json, by its exported name: the same from src/ and from dist/.
      const { version } = createRequire(import.meta.url)('gearshift/package.json') as { version: string };
      process.stdout.write(`${version}\n`);
      return 0;
    }
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(usage);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command '${command}' (see the commands below)`);
  }
}

// Output piped into a reader that stopped reading (`| head`): stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError || error instanceof InvalidOptionError) {
      process.stderr.write(`gearshift: ${error.message}\n\n${usage}`);
      process.exitCode = 2;
    } else if (error instanceof GearshiftError) {
      process.stderr.write(`gearshift: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(
        `gearshift: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    }
  },
);
