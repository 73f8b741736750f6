/**
 * The operator's view of Gearman job servers, from their admin protocol: per server, its functions
 * (jobs queued and running, workers) and its connected workers, without gearshift's own control
 * functions; a server that cannot be asked says why.
 */
import { GearmanAdmin } from '../gearman/admin-client.js';
import { isControlFunction } from '../gearman/control.js';
import type { FilledGearmanOptions } from '../gearman/gearman-options.js';

/** One server as the console shows it. */
export interface ServerView {
  readonly server: string;
  readonly functions: readonly { functionName: string; queued: number; running: number; workers: number }[];
  readonly workers: readonly { clientId: string; address: string; functions: readonly string[] }[];
  /** Why it could not be asked, when it could not. */
  readonly error?: string;
}

/** Asks every server of the options, at once. */
export async function gearmanView(options: FilledGearmanOptions): Promise<ServerView[]> {
  return Promise.all(
    options.servers.map(async (server): Promise<ServerView> => {
      const admin = new GearmanAdmin(server, options);
      try {
        const [status, workers] = await Promise.all([admin.status(), admin.workers()]);
        return {
          server: server.label,
          functions: status
            .filter((line) => !isControlFunction(line.functionName))
            .map((line) => ({
              functionName: line.functionName,
              queued: line.total - line.running,
              running: line.running,
              workers: line.workers,
            })),
          workers: workers
            .map((worker) => ({
              clientId: worker.clientId,
              address: worker.address,
              functions: worker.functions.filter((name) => !isControlFunction(name)),
            }))
            .filter((worker) => worker.functions.length > 0),
        };
      } catch (error) {
        return { server: server.label, functions: [], workers: [], error: (error as Error).message };
      }
    }),
  );
}
