/**
 * The numbers a queue file stores for job states and event kinds, apart from the schema's SQL: the
 * code that only reads or names states (options, control, statuses) loads these, not the migrations.
 */

/**
 * Job states as stored (small integers keep the indexes small). From `completed` on, a job has ended:
 * the finished states share one index (`state >= completed`).
 */
export const State = { queued: 0, running: 1, completed: 2, failed: 3, dead: 4, cancelled: 5 } as const;

/** The state names of the API, by stored number. */
export const stateNames = ['queued', 'running', 'completed', 'failed', 'dead', 'cancelled'] as const;

/** The states in which a job has ended, as stored. */
export const finishedStates = [State.completed, State.failed, State.dead, State.cancelled] as const;

/**
 * The run_at of a flow's continuation while its children run: beyond any time a job may be set to run
 * (10 years ahead at most), so that no claim takes it, and a runner's wait for it never ends early.
 */
export const flowWaitingAt = 8_000_000_000_000_000;

/** Kinds of event row, kept for callers who wait on a job. */
export const EventKind = { status: 0, data: 1, warning: 2 } as const;
