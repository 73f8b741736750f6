/**
 * What a flow's continuation is given: how each of its children ended, read when a runner claims it
 * (the children stay in the file until it has ended: see retention.ts).
 */
import type { FlowOutcome } from '../../functions/flow-outcome.js';
import { parseJobErrorData } from '../../payload/job-error.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { State, stateNames } from '../stored-codes.js';
import { fromStored } from '../stored-payload.js';

/**
 * A job no waiting continuation needs: not a flow's child, or one whose continuation has ended. What
 * retention and an operator's removal may delete (`jobs` being the table of the statement).
 */
export const notNeededByAFlow = `(jobs.parent_id IS NULL
  OR NOT EXISTS (SELECT 1 FROM jobs parent WHERE parent.id = jobs.parent_id AND parent.state < ${State.completed}))`;

export function prepareFlows(db: SqliteConnection, handle: (id: number) => string) {
  const children = db.prepare(
    'SELECT id, function AS functionName, state, result, error FROM jobs WHERE parent_id = ? ORDER BY id',
  );
  const byName = db.prepare(
    `SELECT id FROM jobs WHERE function = ? AND unique_key = ? AND flow_left IS NOT NULL ORDER BY id DESC LIMIT 1`,
  );
  const childIds = db.prepare('SELECT id FROM jobs WHERE parent_id = ? ORDER BY id');
  const setName = db.prepare('UPDATE jobs SET unique_key = ? WHERE id = ?');
  return {
    /** The ids of the flow kept under a continuation's unique (its own first, then its children's), if any. */
    named(functionName: string, unique: string): number[] | undefined {
      const id = byName.value(functionName, unique) as number | undefined;
      return id === undefined ? undefined : [id, ...(childIds.values(id) as number[])];
    },
    /** Gives a continuation its unique, after it was inserted without one. */
    name(id: number, unique: string | null): void {
      if (unique !== null) setName.run(unique, id);
    },
    /** How each child of a continuation ended, in the order they were given. */
    outcomes(parentId: number): FlowOutcome[] {
      const rows = children.all(parentId) as {
        id: number;
        functionName: string;
        state: number;
        result: string | Uint8Array | null;
        error: string | null;
      }[];
      return rows.map(({ id, functionName, state, result, error }): FlowOutcome => {
        if (state === State.completed)
          return {
            handle: handle(id),
            functionName,
            ok: true,
            state: 'completed',
            result: fromStored(result),
          };
        const data = error === null ? undefined : parseJobErrorData(error);
        return {
          handle: handle(id),
          functionName,
          ok: false,
          state: stateNames[state] as 'failed' | 'dead' | 'cancelled',
          error: { code: data?.code ?? 'ERR_JOB_CANCELLED', message: data?.message ?? 'cancelled' },
        };
      });
    },
  };
}
