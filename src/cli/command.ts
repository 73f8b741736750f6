/**
 * A command of the gearshift command line: its usage, the options it takes, and what it runs. Reading a
 * command line is the same for every command: an unknown or misspelt option, a missing value, an option
 * the command does not take, or a value that does not check out is a UsageError (exit code 2, one line
 * and that command's usage).
 */
import { parseArgs } from 'node:util';
import { cliOptions, type OptionName, type OptionValue, type OptionValues } from './cli-options.js';
import { UsageError } from './usage-error.js';

/** A command line, read: its checked option values and its arguments. */
export interface CommandLine {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
}

/** One command. */
export interface Command {
  readonly name: string;
  /** Its synopsis and what it does, as the help prints them. */
  readonly usage: string;
  /** The options it takes (`--verbose` goes with every command). */
  readonly options: readonly OptionName[];
  /** Options of other commands that it does not take, with why, said instead of a plain refusal. */
  readonly refuses?: Partial<Record<OptionName, string>>;
  run(line: CommandLine): Promise<number>;
}

const parseOptions = Object.fromEntries(
  Object.entries(cliOptions).map(([name, spec]) => [name, { type: 'value' in spec ? 'string' : 'boolean' }]),
) as Record<OptionName, { type: 'string' | 'boolean' }>;

/** Reads `args` for `command`, or throws a UsageError naming the first mistake. */
export function readCommandLine(command: Command, args: readonly string[]): CommandLine {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof parseOptions; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options: parseOptions, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(command, error as NodeJS.ErrnoException));
  }
  const values: Record<string, unknown> = {};
  for (const [name, given] of Object.entries(parsed.values) as [OptionName, string | boolean][]) {
    if (name !== 'verbose' && !command.options.includes(name)) {
      throw new UsageError(command.refuses?.[name] ?? `${command.name} does not take --${name}`);
    }
    const spec = cliOptions[name];
    values[name] = 'parse' in spec ? spec.parse(given as string, `--${name}`) : true;
  }
  return { values: values as OptionValues, positionals: parsed.positionals };
}

/** An option's value, or the fallback. */
export function valueOr<K extends OptionName>(
  line: CommandLine,
  name: K,
  fallback: OptionValue<K>,
): OptionValue<K> {
  return (line.values[name] as OptionValue<K> | undefined) ?? fallback;
}

function describeParseError(command: Command, error: NodeJS.ErrnoException): string {
  const flag = /'(-[^']*)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const near = nearest(flag.replace(/^-+/, '').split('=')[0] ?? '', command.options);
      return `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = flag.replace(/^-+/, '').split(/[ =]/)[0] as OptionName;
      const spec = cliOptions[name];
      return spec && 'value' in spec ? `--${name} needs a value (${spec.value})` : `--${name} takes no value`;
    }
    default:
      return error.message;
  }
}

/** The option closest to a misspelt one (at most two edits away), if any. */
function nearest(written: string, options: readonly OptionName[]): OptionName | undefined {
  let best: OptionName | undefined;
  let bestDistance = 3;
  for (const option of options) {
    const distance = editDistance(written, option);
    if (distance < bestDistance) {
      best = option;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance, with a swap of two neighbours as one edit (`backgorund`). */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = rows[i] as number[];
      const above = rows[i - 1] as number[];
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (above[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (above[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}
