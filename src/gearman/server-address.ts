/** Job server addresses: `host:port`, `host` (port 4730), `[::1]:4730`. */
import { InvalidOptionError } from '../errors.js';

/** Gearman's IANA port. */
export const defaultGearmanPort = 4730;

/** Where a job server listens. */
export interface ServerAddress {
  readonly host: string;
  readonly port: number;
  /** As written in messages: `host:port`. */
  readonly label: string;
}

/** Reads a server address, refusing what cannot be one with an error that names it. */
export function parseServerAddress(spec: unknown, option = 'gearman.servers'): ServerAddress {
  if (typeof spec !== 'string' || spec.trim().length === 0) {
    throw new InvalidOptionError(option, 'a server address such as "10.0.0.5:4730" or "gearman.local"', spec);
  }
  const text = spec.trim();
  const match = /^\[([^\]]+)\](?::(\d+))?$/.exec(text) ?? /^([^:\s]+)(?::(\d+))?$/.exec(text);
  const port = match?.[2] === undefined ? defaultGearmanPort : Number(match[2]);
  if (!match || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new InvalidOptionError(
      option,
      'a server address as host, host:port or [ipv6]:port, with a port from 1 to 65535',
      spec,
    );
  }
  const host = match[1] as string;
  return { host, port, label: host.includes(':') ? `[${host}]:${port}` : `${host}:${port}` };
}
