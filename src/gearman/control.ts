/**
 * The control functions gearshift workers register besides their own: `gearshift:cancel:<worker id>`.
 * A job submitted to one carries a message for its worker: the handle of a job to abort (its caller
 * left), or, as JSON, an operator's cancel of a job or pause or resume of a function. The Gearman
 * protocol has no cancel for a running job and no pause; these are gearshift's, between its own clients
 * and workers, and invisible to others (a PHP worker simply does not register the function).
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

/** A message to a gearshift worker's control function. */
export type ControlMessage =
  | { readonly kind: 'cancel'; readonly handle: string; readonly by: 'caller' | 'operator' }
  | { readonly kind: 'pause' | 'resume'; readonly functionName: string };

/** A control message as a job's payload: a caller's cancel is the bare handle (a handle never starts with `{`). */
export function encodeControl(message: ControlMessage): Buffer {
  if (message.kind === 'cancel') {
    return Buffer.from(
      message.by === 'caller' ? message.handle : JSON.stringify({ cancel: message.handle }),
      'utf8',
    );
  }
  return Buffer.from(JSON.stringify({ [message.kind]: message.functionName }), 'utf8');
}

/** Reads a control job's payload; undefined for one that is none of the messages. */
export function decodeControl(data: Buffer): ControlMessage | undefined {
  const text = data.toString('utf8');
  if (!text.startsWith('{'))
    return text.length > 0 ? { kind: 'cancel', handle: text, by: 'caller' } : undefined;
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    if (typeof parsed.cancel === 'string') return { kind: 'cancel', handle: parsed.cancel, by: 'operator' };
    if (typeof parsed.pause === 'string') return { kind: 'pause', functionName: parsed.pause };
    if (typeof parsed.resume === 'string') return { kind: 'resume', functionName: parsed.resume };
  } catch {}
  return undefined;
}
