/**
 * Whether a process of this host is still alive: how a queue runner knows, without waiting out a lease,
 * that another runner of the same host died (`kill -9`, out of memory, a crash).
 *
 * "The same host" is told by a key, not by the host name alone: on Linux the boot id and the PID
 * namespace join it, so that two containers that share a queue file and a host name, or a host that
 * rebooted, never take each other's live processes for dead ones. A process is "the same" by its PID
 * and, on Linux, its start time, so that a PID the system gave again to a newer process is not taken
 * for the old one. Where neither can be read, only the PID is checked.
 */
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/** Who a process is, as a runner records itself. */
export interface ProcessIdentity {
  /** The host, its boot and its PID namespace (Linux), or the host name (elsewhere). */
  readonly hostKey: string;
  readonly pid: number;
  /** When the process started, in clock ticks since boot (Linux), or '' where that cannot be read. */
  readonly startTime: string;
}

let own: ProcessIdentity | undefined;

/** This process's identity. */
export function thisProcess(): ProcessIdentity {
  own ??= { hostKey: hostKey(), pid: process.pid, startTime: startTimeOf(process.pid) ?? '' };
  return own;
}

/**
 * Whether a process of this host (same `hostKey`) is gone: its PID is not alive, or belongs to a process
 * that started at another time. False for a process of another host, which cannot be seen from here.
 */
export function isGone(identity: ProcessIdentity): boolean {
  const self = thisProcess();
  if (identity.hostKey !== self.hostKey) return false;
  if (identity.pid === self.pid) return identity.startTime !== self.startTime;
  if (identity.startTime !== '') {
    const startTime = startTimeOf(identity.pid);
    if (startTime !== undefined) return startTime !== identity.startTime;
    // No /proc entry: on Linux that means no such process; elsewhere there is no /proc to ask.
    if (process.platform === 'linux') return true;
  }
  try {
    process.kill(identity.pid, 0);
    return false;
  } catch (error) {
    // EPERM: it exists, it is another user's.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function hostKey(): string {
  const parts = [hostname()];
  try {
    parts.push(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    parts.push(readlinkSync('/proc/self/ns/pid'));
  } catch {
    // Not Linux (or no /proc): the host name alone.
  }
  return parts.join(' ');
}

/** Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. */
function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19];
}
