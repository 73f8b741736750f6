/**
 * Every option of the gearshift command, once: what it takes and how its value is checked. A command
 * lists the options it takes; the same flag reads and fails the same way in every command.
 */
import type { JobState, Priority } from '../backend.js';
import { InvalidOptionError } from '../errors.js';
import { parseServerAddress } from '../gearman/server-address.js';
import { parseDuration } from '../shared/duration.js';
import { checkCount } from '../shared/validate.js';

/** One option: a flag without a value, or an option whose text `parse` turns into its value. */
interface ValueOption<T> {
  /** The placeholder of its value in the usage: `<file>`, `N`, `DURATION`. */
  readonly value: string;
  readonly parse: (text: string, flag: string) => T;
}
interface FlagOption {
  readonly flag: true;
}

/** A whole number from `min`; text that is not a number is shown as it was given. */
const count =
  (min: number) =>
  (text: string, flag: string): number =>
    checkCount(flag, /^\s*-?\d+\s*$/.test(text) ? Number(text) : text, min);

const duration =
  (min: number) =>
  (text: string, flag: string): number =>
    parseDuration(flag, text, min);

const oneOf =
  <T extends string>(...choices: readonly T[]) =>
  (text: string, flag: string): T => {
    if (!choices.includes(text as T)) {
      const listed = choices.map((choice) => `'${choice}'`);
      throw new InvalidOptionError(flag, `${listed.slice(0, -1).join(', ')} or ${listed.at(-1)}`, text);
    }
    return text as T;
  };

const text = (value: string, flag: string): string => {
  if (value.length === 0) throw new InvalidOptionError(flag, 'a non-empty value', value);
  return value;
};

/** `host:port[,host:port...]`, each address checked. */
const servers = (value: string, flag: string): string => {
  for (const server of value.split(',')) parseServerAddress(server, flag);
  return value;
};

const jobStates: readonly JobState[] = ['queued', 'running', 'completed', 'failed', 'dead', 'cancelled'];

/** The options, by flag (without the dashes). */
export const cliOptions = {
  queue: { value: '<file>', parse: text },
  gearman: { value: 'host:port[,...]', parse: servers },
  functions: { value: '<module>', parse: text },
  threads: { value: 'N', parse: count(0) },
  concurrency: {
    value: 'N|auto',
    parse: (value: string, flag: string): number | 'auto' =>
      value === 'auto' ? value : count(1)(value, flag),
  },
  'max-concurrency': { value: 'N', parse: count(1) },
  'lease-ms': { value: 'MS', parse: duration(100) },
  'grace-ms': { value: 'MS', parse: duration(0) },
  'client-id': { value: 'ID', parse: text },
  'prefetch-ms': { value: 'MS', parse: duration(0) },
  'fail-as': { value: 'fail|exception', parse: oneOf('fail', 'exception') },
  raw: { flag: true },
  background: { flag: true },
  priority: { value: 'high|normal|low', parse: oneOf<Priority>('high', 'normal', 'low') },
  unique: { value: 'KEY', parse: text },
  delay: { value: 'DURATION', parse: duration(0) },
  attempts: { value: 'N', parse: count(1) },
  state: { value: jobStates.join('|'), parse: oneOf(...jobStates) },
  function: { value: '<function>', parse: text },
  'older-than': { value: 'DURATION', parse: duration(0) },
  listen: { value: 'host:port', parse: text },
  'auth-token': { value: 'TOKEN', parse: text },
  'read-only': { flag: true },
  telemetry: { flag: true },
  limit: { value: 'N', parse: count(1) },
  verbose: { flag: true },
} as const satisfies Record<string, ValueOption<unknown> | FlagOption>;

/** A flag's name, without the dashes. */
export type OptionName = keyof typeof cliOptions;

/** The value an option gives once read: its parsed value, or true for a flag. */
export type OptionValue<K extends OptionName> =
  (typeof cliOptions)[K] extends ValueOption<infer T> ? T : true;

/** The options a command line gave, read. */
export type OptionValues = { readonly [K in OptionName]?: OptionValue<K> };

/** How an option is written in a usage line: `--threads N`, `--raw`. */
export function optionSynopsis(name: OptionName): string {
  const spec: ValueOption<unknown> | FlagOption = cliOptions[name];
  return 'value' in spec ? `--${name} ${spec.value}` : `--${name}`;
}
