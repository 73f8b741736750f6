/**
 * What a flow's continuation is given: how each of its children ended, read when a runner claims it
 * (the children stay in the file until it has ended: see retention.ts).
 */
import type { FlowOutcome } from '../../functions/flow-outcome.js';
import { parseJobErrorData } from '../../payload/job-error.js';
import { State, stateNames } from '../schema.js';
import type { SqliteConnection } from '../sqlite/sqlite-connection.js';
import { fromStored } from '../stored-payload.js';

export function prepareFlows(db: SqliteConnection, handle: (id: number) => string) {
  const children = db.prepare(
    'SELECT id, function AS functionName, state, result, error FROM jobs WHERE parent_id = ? ORDER BY id',
  );
  return {
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
