/** A job row of a queue file as `status()` answers it: Gearman's four fields and what the file knows besides. */
import type { JobStatus } from '../backend.js';
import { parseJobErrorData } from '../payload/job-error.js';
import type { JobRow } from './sql/read-jobs.js';
import { State, stateNames } from './stored-codes.js';
import { fromStored } from './stored-payload.js';

/** A job row as status() answers it. */
export function toStatus(handle: string, row: JobRow): JobStatus {
  const date = (at: number | null) => (at === null ? undefined : new Date(at));
  const error = row.error ? parseJobErrorData(row.error) : undefined;
  return {
    handle,
    known: true,
    running: row.state === State.running && row.startedAt !== null,
    numerator: row.numerator,
    denominator: row.denominator,
    state: stateNames[row.state] ?? 'queued',
    functionName: row.functionName,
    attempts: row.attempts,
    maxAttempts: row.maxAttempts,
    ...(error ? { lastError: { code: error.code, message: error.message } } : {}),
    ...(row.state === State.completed && row.result !== null ? { result: fromStored(row.result) } : {}),
    ...(row.checkpoint === null ? {} : { checkpoint: JSON.parse(row.checkpoint) }),
    createdAt: new Date(row.createdAt),
    runAt: new Date(row.runAt),
    ...(row.startedAt === null ? {} : { startedAt: date(row.startedAt) }),
    ...(row.finishedAt === null ? {} : { finishedAt: date(row.finishedAt) }),
  };
}
