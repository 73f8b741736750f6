#!/usr/bin/env node
/**
 * The `gearshift` command. Each command lives in a file of its own; this one picks the command, reads
 * its command line, and turns errors into one line and an exit code: 0 done, 1 the job or the operation
 * failed, 2 a wrong command line (with that command's usage). No stack trace without `--verbose` (or
 * `DEBUG` in the environment).
 */
import { createRequire } from 'node:module';
import { GearshiftError, InvalidOptionError } from '../errors.js';
import { type Command, readCommandLine } from './command.js';
import { dashboardCommand, metricsCommand } from './console-command.js';
import {
  cancelCommand,
  pauseCommand,
  purgeCommand,
  removeCommand,
  requeueCommand,
  resumeCommand,
  retryCommand,
} from './control-command.js';
import { functionsCommand } from './functions-command.js';
import { jobsCommand } from './jobs-command.js';
import { schedulerCommand } from './scheduler-command.js';
import { schedulesCommand, unscheduleCommand } from './schedules-command.js';
import { statusCommand } from './status-command.js';
import { submitCommand } from './submit-command.js';
import { UsageError } from './usage-error.js';
import { workCommand } from './work-command.js';

const commands: readonly Command[] = [
  submitCommand,
  workCommand,
  statusCommand,
  jobsCommand,
  schedulesCommand,
  unscheduleCommand,
  schedulerCommand,
  cancelCommand,
  retryCommand,
  removeCommand,
  pauseCommand,
  resumeCommand,
  purgeCommand,
  requeueCommand,
  dashboardCommand,
  metricsCommand,
  functionsCommand,
];

const usage = `gearshift: the Gearman job model for Node.js

Usage:
${commands.map((command) => indent(command.usage)).join('\n')}
  gearshift --help | --version

Durations take a unit (500ms, 30s, 15m, 12h, 7d) or are milliseconds. --verbose shows the stack of an
unexpected error.
`;

function indent(text: string): string {
  return text.replace(/^/gm, '  ');
}

const argv = process.argv.slice(2);
const verbose = argv.includes('--verbose') || Boolean(process.env.DEBUG);

async function main(): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
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
      return name === undefined ? 2 : 0;
  }
  const command = commands.find((candidate) => candidate.name === name);
  if (!command) {
    fail(
      `unknown command '${name}' (the commands: ${commands.map((known) => known.name).join(', ')})`,
      usage,
    );
    return 2;
  }
  try {
    return await command.run(readCommandLine(command, rest));
  } catch (error) {
    if (error instanceof UsageError || error instanceof InvalidOptionError) {
      fail(error.message, `Usage:\n${indent(command.usage)}\n  (gearshift --help lists every command)\n`);
      return 2;
    }
    throw error;
  }
}

/** One line naming the mistake, then the usage that applies. */
function fail(message: string, help: string): void {
  process.stderr.write(`gearshift: ${message}\n\n${help}`);
}

// Output piped into a reader that stopped reading (`| head`): stop quietly, as Unix tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof GearshiftError) process.stderr.write(`gearshift: ${error.message}\n`);
    else {
      const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      process.stderr.write(
        `gearshift: unexpected error: ${what}${verbose ? '' : ' (--verbose shows its stack)'}\n`,
      );
    }
    if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exitCode = 1;
  },
);
