/** How a flow's child ended, as its continuation sees it in `job.children`. */
import type { JobState } from '../backend.js';

/** A child that completed, with its result. */
export interface ChildCompleted {
  readonly handle: string;
  readonly functionName: string;
  readonly ok: true;
  readonly state: 'completed';
  readonly result: unknown;
}

/** A child that ended without a result: dead after its last attempt, failed, or cancelled. */
export interface ChildFailed {
  readonly handle: string;
  readonly functionName: string;
  readonly ok: false;
  readonly state: Exclude<JobState, 'queued' | 'running' | 'completed'>;
  /** Its last error: the code of its condition (`ERR_JOB_FAILED` for a handler's throw) and the message. */
  readonly error: { readonly code: string; readonly message: string };
}

/** How one child of a flow ended. */
export type FlowOutcome = ChildCompleted | ChildFailed;
