/**
 * `gearshift submit <function> [<json>]`: one job, from the shell. With `--functions <module>` alone it
 * runs here, on a local pool; with `--queue <file>` it goes into the file for its runners, with
 * `--gearman` to the cluster (`--background`: the handle is printed as soon as the job is accepted;
 * without it, the result when a worker is done). With a target, `--functions` only tells the names and
 * payloads, so that a mistyped name is refused before anything is written.
 */
import type { Client } from '../client/client.js';
import type { BackgroundOptions, RunOptions } from '../client/options.js';
import { createClient } from '../compose/create-client.js';
import type { Command, CommandLine } from './command.js';
import { watchForRunners } from './runner-watch.js';
import { UsageError } from './usage-error.js';

export const submitCommand: Command = {
  name: 'submit',
  usage: `gearshift submit <function> [<json>] --functions <module> [--threads N] [--raw]
    Runs one job on a local thread pool; prints its progress on stderr and its result on stdout
    (JSON, or the raw bytes of a bytes function). --raw sends the input's text as it is.
gearshift submit <function> [<json>] (--queue <file> | --gearman host:port[,...]) [--background]
                 [--priority P] [--unique KEY] [--delay DURATION] [--attempts N] [--raw] [--functions <module>]
    Hands one job to the runners of a queue file, or to a Gearman cluster. With --background, prints
    its handle once it is accepted; without, waits for the result (and says so while no runner of the
    queue file runs its function). With --functions, an unknown function is refused before it is sent.`,
  options: [
    'functions',
    'queue',
    'gearman',
    'threads',
    'raw',
    'background',
    'priority',
    'unique',
    'delay',
    'attempts',
  ],
  run: submit,
};

async function submit(line: CommandLine): Promise<number> {
  const { values, positionals } = line;
  const [functionName, inputText, ...extra] = positionals;
  if (!functionName) throw new UsageError('submit needs a function name');
  if (extra.length > 0) throw new UsageError(`submit takes one input argument, got also ${extra.join(' ')}`);
  if (values.queue !== undefined && values.gearman !== undefined) {
    throw new UsageError('submit takes one of --queue <file> and --gearman host:port, not both');
  }
  const target = values.queue ?? values.gearman;
  if (target === undefined && values.functions === undefined) {
    throw new UsageError(
      'submit needs --functions <module> (run it here), --queue <file> (its runners) or --gearman host:port (the cluster)',
    );
  }
  if (target === undefined) {
    for (const option of ['background', 'delay', 'attempts'] as const) {
      if (values[option] !== undefined)
        throw new UsageError(`--${option} needs --queue <file> or --gearman host:port`);
    }
  } else if (values.threads !== undefined) {
    throw new UsageError(
      '--threads is for a job run here (--functions alone): with a target, workers run it',
    );
  }
  if (values.gearman !== undefined && (values.delay !== undefined || values.attempts !== undefined)) {
    throw new UsageError('--delay and --attempts are kept by a queue file; gearmand keeps neither');
  }
  const input = inputText === undefined || values.raw ? inputText : parseInput(inputText);
  const functions = values.functions === undefined ? {} : { functions: values.functions };
  const client: Client = values.gearman
    ? createClient({ gearman: { servers: values.gearman }, ...functions })
    : values.queue
      ? createClient({ queue: { path: values.queue, runner: false, foreground: true }, ...functions })
      : createClient({ functions: values.functions as string, threads: values.threads ?? 1 });
  const common = {
    ...(values.priority ? { priority: values.priority } : {}),
    ...(values.unique ? { unique: values.unique } : {}),
  };
  try {
    if (values.background) {
      const options: BackgroundOptions = {
        ...common,
        ...(values.delay === undefined ? {} : { delay: values.delay }),
        ...(values.attempts === undefined ? {} : { attempts: values.attempts }),
      };
      process.stdout.write(`${await client.background(functionName, input, options)}\n`);
      return 0;
    }
    const watch = values.queue ? watchForRunners(values.queue, functionName) : undefined;
    const options: RunOptions = {
      ...common,
      on: {
        status: (event) => process.stderr.write(`status ${event.numerator}/${event.denominator}\n`),
        data: (event) => process.stderr.write(`data ${render(event.data)}\n`),
        warning: (event) => process.stderr.write(`warning ${event.message}\n`),
      },
    };
    try {
      const result = await client.run(functionName, input, options);
      if (Buffer.isBuffer(result)) process.stdout.write(result);
      else process.stdout.write(`${render(result)}\n`);
    } finally {
      watch?.stop();
    }
    return 0;
  } finally {
    await client.destroy();
  }
}

/** The input, given as JSON (with --raw, the argument's own text is sent, for a bytes function). */
function parseInput(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(
      `the input must be JSON (quote it for the shell: '{"a":1}', or pass --raw to send the text as it is): ${(error as Error).message}`,
    );
  }
}

function render(value: unknown): string {
  return value === undefined ? '' : Buffer.isBuffer(value) ? value.toString('utf8') : JSON.stringify(value);
}
