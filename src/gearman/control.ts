/**
 * The control functions gearshift workers register besides their own: `gearshift:cancel:<worker id>`.
 * A job submitted to one carries the handle of a job that its worker should abort (its caller left).
 * The Gearman protocol has no cancel for a running job; this is gearshift's, between its own clients and
 * workers, and invisible to others (a PHP worker simply does not register it).
 */
export const cancelFunctionPrefix = 'gearshift:cancel:';

/** The control function of one worker. */
export function cancelFunctionOf(workerId: string): string {
  return `${cancelFunctionPrefix}${workerId}`;
}

/** Whether a function name is one of gearshift's control functions (not a job type of anyone's). */
export function isControlFunction(name: string): boolean {
  return name.startsWith(cancelFunctionPrefix);
}
