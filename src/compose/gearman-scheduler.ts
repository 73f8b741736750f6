/**
 * The scheduler of a queue file's Gearman schedules (`gearshift scheduler --queue <file> --gearman ...`):
 * it sleeps until the soonest slot of the schedules whose target is 'gearman', claims the due slots in
 * the file (the same transaction moves each schedule past now), submits each slot's job to the job
 * servers as a background job with the unique `<id>@<slot>`, and ends the claim once gearmand accepted
 * it. Several schedulers may share the file: a slot is claimed by one. A claim left by a scheduler that
 * died (or stalled past `staleMs`) is taken over and its job submitted again; gearmand coalesces it
 * with the first submission while that job is still queued or running (the same unique goes to the same
 * server), so a slot's job runs twice only if its scheduler died between gearmand's acceptance and the
 * end of the claim, and the job had already ended when the next scheduler submitted it again.
 */
import type { Priority } from '../backend.js';
import type { GearmanOptions } from '../gearman/gearman-options.js';
import { loadQueueCode } from '../queue/load-queue-code.js';
import { priorityNames } from '../queue/priority.js';
import type { ScheduleSend } from '../queue/sql/schedules.js';
import { fromStored } from '../queue/stored-payload.js';
import { randomId } from '../shared/random.js';
import { after, cancel, every, type Timer } from '../shared/timers.js';
import { checkMilliseconds } from '../shared/validate.js';
import { createClient } from './create-client.js';

/** How a scheduler is started. */
export interface GearmanSchedulerOptions {
  /** The queue file whose Gearman schedules it sends (it must exist). */
  readonly queue: string;
  /** The job servers it submits to. */
  readonly gearman: GearmanOptions;
  /** After how long a claim that was not renewed is taken over by another scheduler. @default 10000 */
  readonly staleMs?: number;
  /** Where it says what it must not keep silent (a submission that failed, and its retry). @default stderr */
  readonly log?: ((line: string) => void) | false;
}

/** A running scheduler. */
export interface GearmanScheduler {
  readonly id: string;
  /** Slots whose jobs gearmand accepted, since it started. */
  readonly sent: number;
  /** Stops: what it claimed and did not send is taken over by another scheduler after `staleMs`. */
  close(): Promise<void>;
}

/** After a failed submission, the next try. */
const retryMs = 1000;

/** Starts a scheduler; it runs until closed. */
export async function startGearmanScheduler(options: GearmanSchedulerOptions): Promise<GearmanScheduler> {
  const staleMs = checkMilliseconds('staleMs', options.staleMs ?? 10_000, 100);
  const log =
    options.log === false ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  // The queue file's code loads here, not with the package.
  const { QueueStore, ScheduleTicker, slotUnique } = await loadQueueCode();
  const store = new QueueStore(options.queue, { durability: 'process', pollMs: 1000, create: false });
  const client = createClient({ gearman: options.gearman });
  const id = randomId();
  const servers = describeServers(options.gearman);
  /** The slots it claimed and has not had accepted yet, by their unique. */
  const held = new Map<string, ScheduleSend>();
  let sent = 0;
  let closed = false;
  let retry: Timer | undefined;

  /** Submits each slot it holds; ends the claim of each one gearmand accepted. */
  const send = async () => {
    const sends = [...held.values()];
    if (sends.length === 0 || closed) return;
    const outcomes = await Promise.allSettled(
      sends.map((slot) =>
        client.background(slot.functionName, fromStored(slot.input), {
          unique: slotUnique(slot.scheduleId, slot.slot),
          priority: priorityNames[slot.priority] as Priority,
        }),
      ),
    );
    const accepted = sends.filter((_, index) => outcomes[index]?.status === 'fulfilled');
    if (accepted.length > 0) {
      await store.writes.write(() => {
        for (const slot of accepted) store.schedules.sent(slot.scheduleId, slot.slot);
      });
      for (const slot of accepted) held.delete(slotUnique(slot.scheduleId, slot.slot));
      sent += accepted.length;
    }
    const refused = sends.filter((_, index) => outcomes[index]?.status === 'rejected');
    if (refused.length === 0) return;
    const reason = (outcomes.find((outcome) => outcome.status === 'rejected') as PromiseRejectedResult)
      .reason;
    log(
      `gearshift scheduler ${id}: could not submit ${refused.length} scheduled job(s) (${refused
        .map((slot) => slotUnique(slot.scheduleId, slot.slot))
        .join(', ')}) to ${servers}: ${(reason as Error).message}; trying again in ${retryMs} ms`,
    );
    cancel(retry);
    retry = after(retryMs, () => void handleDue());
  };

  /** Claims what is due (and claims left stale by others), then sends what it holds. */
  const pass = async () => {
    const now = Date.now();
    const result = await store.writes.write(() => store.schedules.claimSends(now, id, now - staleMs));
    for (const slot of result?.claimed ?? []) held.set(slotUnique(slot.scheduleId, slot.slot), slot);
    for (const { id: schedule, reason } of result?.parked ?? [])
      log(
        `gearshift scheduler ${id}: schedule ${schedule} was parked (it sends nothing until kept again): ${reason}`,
      );
    await send();
  };

  // One pass at a time; a pass asked for meanwhile runs once after it, however many asked.
  let running: Promise<void> | undefined;
  let again = false;
  const handleDue = (): Promise<void> => {
    if (closed) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        try {
          await pass();
        } catch (error) {
          log(`gearshift scheduler ${id}: a pass over ${options.queue} failed: ${(error as Error).message}`);
        }
      } while (again && !closed);
      running = undefined;
    })();
    return running;
  };

  /** Keeps its claims fresh, and lets go of those another scheduler took over meanwhile. */
  const renew = async () => {
    if (held.size === 0) return;
    const still = await store.writes.write(() => store.schedules.renewSends(id, Date.now()));
    const kept = new Set((still ?? []).map((slot) => slotUnique(slot.scheduleId, slot.slot)));
    for (const key of [...held.keys()]) if (!kept.has(key)) held.delete(key);
  };

  const ticker = new ScheduleTicker(store, 'gearman', handleDue);
  const unsubscribe = store.changes.subscribe(() => ticker.arm());
  // Its claims are renewed, and others' stale ones looked for, three times a stale period.
  const upkeep = every(Math.floor(staleMs / 3), () => {
    renew().then(
      () => handleDue(),
      (error: unknown) =>
        log(`gearshift scheduler ${id}: could not renew its claims: ${(error as Error).message}`),
    );
  });
  const close = async () => {
    closed = true;
    await running;
    ticker.stop();
    unsubscribe();
    cancel(upkeep);
    cancel(retry);
    await client.close();
    store.close();
  };
  try {
    await handleDue();
    ticker.arm();
  } catch (error) {
    await close();
    throw error;
  }

  return {
    id,
    get sent() {
      return sent;
    },
    close,
  };
}

function describeServers(gearman: GearmanOptions): string {
  const { servers } = gearman;
  return Array.isArray(servers) ? servers.join(', ') : String(servers);
}
