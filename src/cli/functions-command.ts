/** `gearshift functions <module>`: what a functions module defines. */
import { loadFunctionsModule } from '../functions/load-module.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

export const functionsCommand: Command = {
  name: 'functions',
  usage: `gearshift functions <module>
    Lists the functions a module defines, with their payloads and timeouts.`,
  options: [],
  run: listFunctions,
};

async function listFunctions({ positionals }: CommandLine): Promise<number> {
  const [module, ...extra] = positionals;
  if (!module || extra.length > 0) throw new UsageError('functions takes exactly one argument: the module');
  const functions = await loadFunctionsModule(module);
  for (const { name, payload, timeout } of functions.describe()) {
    const details = [
      payload === 'bytes' ? 'bytes' : 'json',
      timeout === undefined ? '' : `timeout ${timeout} ms`,
    ];
    process.stdout.write(`${name}\t${details.filter(Boolean).join(', ')}\n`);
  }
  return 0;
}
