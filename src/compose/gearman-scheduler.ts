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
import { priorityNames } from '../queue/priority.js';
import { QueueStore } from '../queue/queue-store.js';
import { ScheduleTicker } from '../queue/schedule-ticker.js';
import { type ScheduleSend, slotUnique } from '../queue/sql/schedules.js';
import { fromStored } from '../queue/stored-payload.js';
import { randomId } from '../shared/random.js';
import { after, cancel, every, type Timer } from '../shared/timers.js';
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
  const staleMs = options.staleMs ?? 10_000;
  const log =
    options.log === false ? () => {} : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const store = new QueueStore(options.queue, { durability: 'process', pollMs: 1000, create: false });
  const client = createClient({ gearman: options.gearman });
  const id = randomId();
  const held = new Map<string, ScheduleSend>();
  let sent = 0;
  let closed = false;
  let retry: Timer | undefined;

  /** Submits what it holds; ends the claims gearmand accepted. */
  const send = async () => {
    const sends = [...held.values()];
    if (sends.length === 0 || closed) return;
    try {
      await client.backgroundAll(
        sends.map((slot) =>
          client.backgroundJob(slot.functionName, fromStored(slot.input), {
            unique: slotUnique(slot.scheduleId, slot.slot),
            priority: priorityNames[slot.priority] as Priority,
          }),
        ),
      );
    } catch (error) {
      log(
        `gearshift scheduler ${id}: could not submit ${sends.length} scheduled job(s) (${sends
          .map((slot) => slotUnique(slot.scheduleId, slot.slot))
          .join(
            ', ',
          )}) to ${describeServers(options.gearman)}: ${(error as Error).message}; trying again in ${retryMs} ms`,
      );
      cancel(retry);
      retry = after(retryMs, () => void handleDue());
      return;
    }
    await store.writes.write(() => {
      for (const slot of sends) store.schedules.sent(slot.scheduleId, slot.slot);
    });
    for (const slot of sends) held.delete(slotUnique(slot.scheduleId, slot.slot));
    sent += sends.length;
  };

  /** Claims what is due (and claims left stale by others), then sends it; one pass at a time. */
  let pass: Promise<void> = Promise.resolve();
  const handleDue = () => {
    pass = pass.then(async () => {
      if (closed) return;
      const now = Date.now();
      const claimed = await store.writes.write(() => store.schedules.claimSends(now, id, now - staleMs));
      for (const slot of claimed) held.set(slotUnique(slot.scheduleId, slot.slot), slot);
      await send();
    });
    return pass;
  };

  const ticker = new ScheduleTicker(store, 'gearman', handleDue);
  const unsubscribe = store.changes.subscribe(() => ticker.arm());
  // Its claims stay fresh while it holds them; others' stale claims are looked for as often.
  const upkeep = every(Math.max(50, Math.floor(staleMs / 3)), () => {
    if (held.size > 0) void store.writes.write(() => store.schedules.renewSends(id, Date.now()));
    void handleDue();
  });
  await handleDue();
  ticker.arm();

  return {
    id,
    get sent() {
      return sent;
    },
    async close() {
      closed = true;
      await pass;
      ticker.stop();
      unsubscribe();
      cancel(upkeep);
      cancel(retry);
      await client.close();
      store.close();
    },
  };
}

function describeServers(gearman: GearmanOptions): string {
  const { servers } = gearman;
  return Array.isArray(servers) ? servers.join(', ') : String(servers);
}
