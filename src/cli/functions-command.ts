/** `gearshift functions <module>`: what a functions module defines. */
import type { FunctionLimit } from '../functions/limit.js';
import { loadFunctionsModule } from '../functions/load-module.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

export const functionsCommand: Command = {
  name: 'functions',
  usage: `gearshift functions <module>
    Lists the functions a module defines, with their payloads, timeouts and limits.`,
  options: [],
  run: listFunctions,
};

async function listFunctions({ positionals }: CommandLine): Promise<number> {
  const [module, ...extra] = positionals;
  if (!module || extra.length > 0) throw new UsageError('functions takes exactly one argument: the module');
  const functions = await loadFunctionsModule(module);
  for (const { name, payload, timeout, limit } of functions.describe()) {
    const details = [
      payload === 'bytes' ? 'bytes' : 'json',
      timeout === undefined ? '' : `timeout ${timeout} ms`,
      limit === undefined ? '' : `limit ${describeLimit(limit)}`,
    ];
    process.stdout.write(`${name}\t${details.filter(Boolean).join(', ')}\n`);
  }
  return 0;
}

/** A limit as one phrase: `2 at once, 100 per 1000 ms, per tenant`. */
function describeLimit({ concurrency, rate, key }: FunctionLimit): string {
  return [
    concurrency === undefined ? '' : `${concurrency} at once`,
    rate === undefined ? '' : `${rate.max} per ${rate.perMs} ms`,
    key === undefined ? '' : `per ${key}`,
  ]
    .filter(Boolean)
    .join(', ');
}
