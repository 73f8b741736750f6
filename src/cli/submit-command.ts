/** `gearshift submit <function> [<json>] --functions <module>`: one job, from the shell. */
import { parseArgs } from 'node:util';
import { createClient } from '../client/create-client.js';
import { checkCount } from '../client/options.js';
import { UsageError } from './usage-error.js';

export async function submit(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      functions: { type: 'string' },
      threads: { type: 'string', default: '1' },
      raw: { type: 'boolean', default: false },
    },
  });
  const [functionName, inputText, ...extra] = positionals;
  if (!functionName) throw new UsageError('submit needs a function name');
  if (extra.length > 0) throw new UsageError(`submit takes one input argument, got also ${extra.join(' ')}`);
  if (!values.functions)
    throw new UsageError('submit needs --functions <module> (the module whose functions run the job)');
  const threads = checkCount('--threads', Number(values.threads), 1);
  const client = createClient({ functions: values.functions, threads });
  try {
    const input = inputText === undefined || values.raw ? inputText : parseInput(inputText);
    const job = client.run(functionName, input, {
      on: {
        status: (event) => process.stderr.write(`status ${event.numerator}/${event.denominator}\n`),
        data: (event) => process.stderr.write(`data ${render(event.data)}\n`),
        warning: (event) => process.stderr.write(`warning ${event.message}\n`),
      },
    });
    const result = await job;
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
