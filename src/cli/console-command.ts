/**
 * `gearshift dashboard` (the console, in a browser) and `gearshift metrics` (Prometheus text): each
 * serves until SIGTERM or SIGINT. The token may come from $GEARSHIFT_AUTH_TOKEN instead of the command
 * line, where other users of the host would see it.
 */
import { serveDashboard, serveMetrics } from '../console/serve.js';
import type { Command, CommandLine } from './command.js';
import { UsageError } from './usage-error.js';

/** Runs until a signal, then closes what it served. */
async function untilSignal(close: () => Promise<void>): Promise<number> {
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => resolve());
  });
  await close();
  return 0;
}

function sources(name: string, line: CommandLine) {
  const { values, positionals } = line;
  if (positionals.length > 0) throw new UsageError(`${name} takes no arguments, only options`);
  if (values.queue === undefined && values.gearman === undefined) {
    throw new UsageError(`${name} needs --queue <file>, --gearman host:port, or both`);
  }
  const authToken = values['auth-token'] ?? process.env.GEARSHIFT_AUTH_TOKEN;
  return {
    ...(values.queue === undefined ? {} : { queue: values.queue }),
    ...(values.gearman === undefined ? {} : { gearman: { servers: values.gearman } }),
    ...(authToken === undefined || authToken === '' ? {} : { authToken }),
  };
}

export const dashboardCommand: Command = {
  name: 'dashboard',
  usage: `gearshift dashboard (--queue <file> | --gearman host:port[,...])... [--listen 127.0.0.1:8080]
                    [--auth-token TOKEN] [--read-only]
    Serves the console: functions, jobs, runners and workers, live, with cancel, retry, remove, pause,
    resume and purge (none with --read-only), and Prometheus text at /metrics. It will not listen
    beyond loopback without a token (--auth-token, or $GEARSHIFT_AUTH_TOKEN).`,
  options: ['queue', 'gearman', 'listen', 'auth-token', 'read-only'],
  run: async (line) => {
    const served = await serveDashboard({
      ...sources('dashboard', line),
      listen: line.values.listen ?? '127.0.0.1:8080',
      readOnly: line.values['read-only'] === true,
    });
    process.stderr.write(
      `gearshift dashboard: ${served.url}${line.values['read-only'] ? ' (read-only)' : ''}\n`,
    );
    return untilSignal(() => served.close());
  },
};

export const metricsCommand: Command = {
  name: 'metrics',
  usage: `gearshift metrics (--queue <file> | --gearman host:port[,...])... [--listen 127.0.0.1:9464] [--auth-token TOKEN]
    Serves Prometheus text at /metrics: jobs by state, workers, totals and wait and run times.`,
  options: ['queue', 'gearman', 'listen', 'auth-token'],
  run: async (line) => {
    const served = await serveMetrics({
      ...sources('metrics', line),
      listen: line.values.listen ?? '127.0.0.1:9464',
    });
    process.stderr.write(`gearshift metrics: ${served.url}\n`);
    return untilSignal(() => served.close());
  },
};
