/**
 * An operator's control of jobs on a Gearman cluster, as far as the protocol allows: gearmand keeps a
 * job only while it is queued or running, by handle, and no state of a function. So a job can be
 * cancelled by handle (`cancel job` drops it while queued; a running one is stopped by the gearshift
 * worker that runs it, through its control function), and gearshift workers can pause a function (they
 * stop registering it); retrying, removing or purging finished jobs, and cancelling by function and
 * state, are an UnsupportedError that says why.
 */
import type { JobControl, JobSelector, JobStatus } from '../../backend.js';
import { InvalidOptionError, UnsupportedError } from '../../errors.js';
import { GearmanAdmin } from '../admin-client.js';
import { type ControlMessage, cancelFunctionPrefix, encodeControl } from '../control.js';
import type { FilledGearmanOptions } from '../gearman-options.js';
import { PacketTypes } from '../protocol/packet-types.js';
import type { ServerLink, Waiting } from './server-link.js';

/** What the control needs of its backend. */
export interface GearmanControlHost {
  readonly options: FilledGearmanOptions;
  /** Every server's link. */
  links(): readonly ServerLink[];
  /** The server that made a handle, when this client knows it. */
  linkOf(handle: string): ServerLink | undefined;
  status(handle: string): Promise<JobStatus>;
}

/**
 * Sends a control message to every gearshift worker connected to a server (each has a control function
 * of its own, listed by `workers`), at high priority so that it passes the jobs queued for the worker
 * (at normal priority on a server without SUBMIT_JOB_HIGH_BG). Resolves, with how many were asked, once
 * the server has taken every message (a caller may then close its connection).
 */
export async function broadcastControl(
  link: ServerLink,
  options: FilledGearmanOptions,
  message: ControlMessage,
): Promise<number> {
  const workers = await new GearmanAdmin(link.server, options).workers();
  const controls = new Set(
    workers.flatMap((worker) => worker.functions).filter((name) => name.startsWith(cancelFunctionPrefix)),
  );
  const data = encodeControl(message);
  const taken = (functionName: string) =>
    new Promise<void>((resolve) => {
      // Whatever the answer: a worker that ended meanwhile, a server that went away, are as good as told.
      const done: Waiting = {
        answer: PacketTypes.JOB_CREATED,
        answered: () => resolve(),
        failed: () => resolve(),
      };
      link.request(PacketTypes.SUBMIT_JOB_HIGH_BG, { functionName, unique: '' }, data, {
        ...done,
        failed: (error) => {
          if (error instanceof UnsupportedError)
            link.request(PacketTypes.SUBMIT_JOB_BG, { functionName, unique: '' }, data, done);
          else resolve();
        },
      });
    });
  await Promise.all([...controls].map(taken));
  return controls.size;
}

const keepsNoFinishedJobs = (action: string) =>
  new UnsupportedError(
    `${action}() acts on finished jobs, and a Gearman cluster keeps none (gearmand forgets a job when it ends): use a queue file for jobs you want to ${action}`,
  );

/** Control of a Gearman cluster's jobs. */
export class GearmanControl implements JobControl {
  readonly #host: GearmanControlHost;

  constructor(host: GearmanControlHost) {
    this.#host = host;
  }

  /** Cancels jobs by handle; resolves with how many the servers still held (queued or running). */
  async cancel(selector: JobSelector): Promise<number> {
    if (typeof selector !== 'string' && !Array.isArray(selector)) {
      throw new UnsupportedError(
        'cancel() by function and state needs a queue file: gearmand lists no jobs of a function to cancel (cancel by handle)',
      );
    }
    const handles: readonly unknown[] = typeof selector === 'string' ? [selector] : selector;
    let cancelled = 0;
    for (const handle of handles) {
      if (typeof handle !== 'string' || handle.length === 0)
        throw new InvalidOptionError('handle', 'a job handle (a non-empty string)', handle);
      if (!(await this.#host.status(handle)).known) continue;
      cancelled++;
      const known = this.#host.linkOf(handle);
      const links = known ? [known] : this.#host.links().filter((link) => link.usable);
      await Promise.allSettled(links.map((link) => this.#cancelOn(link, handle)));
    }
    return cancelled;
  }

  /** Drops the job if it is still queued there, and asks every gearshift worker there to stop it. */
  async #cancelOn(link: ServerLink, handle: string): Promise<void> {
    const { options } = this.#host;
    await Promise.allSettled([
      new GearmanAdmin(link.server, options).cancelJob(handle),
      broadcastControl(link, options, { kind: 'cancel', handle, by: 'operator' }),
    ]);
  }

  async retry(): Promise<number> {
    throw keepsNoFinishedJobs('retry');
  }

  async remove(): Promise<number> {
    throw keepsNoFinishedJobs('remove');
  }

  async purge(): Promise<number> {
    throw keepsNoFinishedJobs('purge');
  }

  pause(functionName: string): Promise<void> {
    return this.#toWorkers({ kind: 'pause', functionName });
  }

  resume(functionName: string): Promise<void> {
    return this.#toWorkers({ kind: 'resume', functionName });
  }

  async paused(): Promise<string[]> {
    throw new UnsupportedError(
      'paused() reads what a queue file keeps; on a Gearman cluster each gearshift worker holds its own pause (gearmand keeps none)',
    );
  }

  /** Tells every gearshift worker of every server that answers. */
  async #toWorkers(message: ControlMessage & { readonly functionName: string }): Promise<void> {
    if (typeof message.functionName !== 'string' || message.functionName.length === 0)
      throw new InvalidOptionError('functionName', 'a non-empty string', message.functionName);
    const { options } = this.#host;
    const asked = await Promise.allSettled(
      this.#host.links().map((link) => broadcastControl(link, options, message)),
    );
    if (asked.every((outcome) => outcome.status === 'rejected'))
      throw (asked[0] as PromiseRejectedResult).reason;
  }
}
