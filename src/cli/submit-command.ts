/**
 * `gearshift submit <function> [<json>]`: one job, from the shell. With `--functions <module>` it runs
 * here, on a local pool; with `--queue <file>` it goes into the file for its runners (`--background`:
 * the handle is printed as soon as the job is committed; without it, the result when a runner is done).
 */
import { parseArgs } from 'node:util';
import type { Priority } from '../backend.js';
import type { Client } from '../client/client.js';
import type { BackgroundOptions } from '../client/options.js';
import { createClient } from '../compose/create-client.js';
import { countOption, millisecondsOption } from './cli-options.js';
import { UsageError } from './usage-error.js';

export async function submit(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      functions: { type: 'string' },
      queue: { type: 'string' },
      gearman: { type: 'string' },
      threads: { type: 'string' },
      raw: { type: 'boolean', default: false },
      background: { type: 'boolean', default: false },
      priority: { type: 'string' },
      unique: { type: 'string' },
      delay: { type: 'string' },
      attempts: { type: 'string' },
    },
  });
  const [functionName, inputText, ...extra] = positionals;
  if (!functionName) throw new UsageError('submit needs a function name');
  if (extra.length > 0) throw new UsageError(`submit takes one input argument, got also ${extra.join(' ')}`);
  const targets = [values.queue, values.gearman].filter(Boolean).length;
  if (targets > 1 || (!values.functions && targets === 0)) {
    throw new UsageError(
      'submit needs --functions <module> (run it here), --queue <file> (its runners) or --gearman host:port (the cluster)',
    );
  }
  if (values.background && targets === 0)
    throw new UsageError('--background needs --queue <file> or --gearman host:port');
  const input = inputText === undefined || values.raw ? inputText : parseInput(inputText);
  // With a target, --functions only tells names and payloads (nothing runs here).
  const functions = values.functions ? { functions: values.functions } : {};
  const client: Client = values.gearman
    ? createClient({ gearman: { servers: values.gearman }, ...functions })
    : values.queue
      ? createClient({ queue: { path: values.queue, runner: false, foreground: true }, ...functions })
      : createClient({
          functions: values.functions as string,
          threads: countOption('--threads', values.threads, 1, 1),
        });
  const priority = values.priority as Priority | undefined;
  try {
    if (values.background) {
      const delay = millisecondsOption('--delay', values.delay);
      const options: BackgroundOptions = {
        ...(priority ? { priority } : {}),
        ...(values.unique ? { unique: values.unique } : {}),
        ...(delay === undefined ? {} : { delay }),
        ...(values.attempts === undefined
          ? {}
          : { attempts: countOption('--attempts', values.attempts, 1, 1) }),
      };
      process.stdout.write(`${await client.background(functionName, input, options)}\n`);
      return 0;
    }
    const result = await client.run(functionName, input, {
      ...(priority ? { priority } : {}),
      ...(values.unique ? { unique: values.unique } : {}),
      on: {
        status: (event) => process.stderr.write(`status ${event.numerator}/${event.denominator}\n`),
        data: (event) => process.stderr.write(`data ${render(event.data)}\n`),
        warning: (event) => process.stderr.write(`warning ${event.message}\n`),
      },
    });
    if (Buffer.isBuffer(result)) process.stdout.write(result);
    else process.stdout.write(`${render(result)}\n`);
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
