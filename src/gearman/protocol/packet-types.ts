/**
 * The packet types of the Gearman binary protocol, 1 to 42, with the layout of each: the arguments
 * that end in a NUL byte, then (for some) an opaque data part that may hold any bytes.
 *
 * The layouts follow libgearman's command table (libgearman/command.cc), which is what gearmand and
 * every libgearman client speak, where it differs from the PROTOCOL document:
 * - SUBMIT_REDUCE_JOB(_BACKGROUND) carries four arguments before the data: function, unique, reducer and
 *   an aggregate that libgearman always sends empty (the document lists three).
 * - STATUS_RES_UNIQUE echoes the unique that was asked about in its first argument (the document says a
 *   job handle), and its sixth argument, the count of waiting clients, runs to the end of the packet.
 * - GRAB_JOB_ALL is answered with JOB_ASSIGN_ALL only for a job with a reducer; gearmand answers it with
 *   JOB_ASSIGN_UNIQ otherwise.
 * Without a data part, the last argument runs to the end of the packet instead of ending in NUL; gearmand
 * sometimes ends it with a NUL anyway (STATUS_RES's fields), which decoding drops.
 */

/** Which way a packet goes: to a job server, or from one. */
export type Magic = 'REQ' | 'RES';

/** One packet type's layout. */
export interface PacketLayout {
  readonly name: string;
  /** The directions it may travel. */
  readonly magic: readonly Magic[];
  /** The names of its arguments, in order. */
  readonly args: readonly string[];
  /** Whether an opaque data part follows the arguments. */
  readonly data: boolean;
}

const req: readonly Magic[] = ['REQ'];
const res: readonly Magic[] = ['RES'];
const both: readonly Magic[] = ['REQ', 'RES'];
const submit = ['functionName', 'unique'];

/** Every packet type, by number. */
export const packetLayouts = {
  1: { name: 'CAN_DO', magic: req, args: ['functionName'], data: false },
  2: { name: 'CANT_DO', magic: req, args: ['functionName'], data: false },
  3: { name: 'RESET_ABILITIES', magic: req, args: [], data: false },
  4: { name: 'PRE_SLEEP', magic: req, args: [], data: false },
  5: { name: 'UNUSED', magic: req, args: [], data: false },
  6: { name: 'NOOP', magic: res, args: [], data: false },
  7: { name: 'SUBMIT_JOB', magic: req, args: submit, data: true },
  8: { name: 'JOB_CREATED', magic: res, args: ['handle'], data: false },
  9: { name: 'GRAB_JOB', magic: req, args: [], data: false },
  10: { name: 'NO_JOB', magic: res, args: [], data: false },
  11: { name: 'JOB_ASSIGN', magic: res, args: ['handle', 'functionName'], data: true },
  12: { name: 'WORK_STATUS', magic: both, args: ['handle', 'numerator', 'denominator'], data: false },
  13: { name: 'WORK_COMPLETE', magic: both, args: ['handle'], data: true },
  14: { name: 'WORK_FAIL', magic: both, args: ['handle'], data: false },
  15: { name: 'GET_STATUS', magic: req, args: ['handle'], data: false },
  16: { name: 'ECHO_REQ', magic: req, args: [], data: true },
  17: { name: 'ECHO_RES', magic: res, args: [], data: true },
  18: { name: 'SUBMIT_JOB_BG', magic: req, args: submit, data: true },
  19: { name: 'ERROR', magic: res, args: ['code', 'text'], data: false },
  20: {
    name: 'STATUS_RES',
    magic: res,
    args: ['handle', 'known', 'running', 'numerator', 'denominator'],
    data: false,
  },
  21: { name: 'SUBMIT_JOB_HIGH', magic: req, args: submit, data: true },
  22: { name: 'SET_CLIENT_ID', magic: req, args: ['clientId'], data: false },
  23: { name: 'CAN_DO_TIMEOUT', magic: req, args: ['functionName', 'timeout'], data: false },
  24: { name: 'ALL_YOURS', magic: req, args: [], data: false },
  25: { name: 'WORK_EXCEPTION', magic: both, args: ['handle'], data: true },
  26: { name: 'OPTION_REQ', magic: req, args: ['option'], data: false },
  27: { name: 'OPTION_RES', magic: res, args: ['option'], data: false },
  28: { name: 'WORK_DATA', magic: both, args: ['handle'], data: true },
  29: { name: 'WORK_WARNING', magic: both, args: ['handle'], data: true },
  30: { name: 'GRAB_JOB_UNIQ', magic: req, args: [], data: false },
  31: { name: 'JOB_ASSIGN_UNIQ', magic: res, args: ['handle', 'functionName', 'unique'], data: true },
  32: { name: 'SUBMIT_JOB_HIGH_BG', magic: req, args: submit, data: true },
  33: { name: 'SUBMIT_JOB_LOW', magic: req, args: submit, data: true },
  34: { name: 'SUBMIT_JOB_LOW_BG', magic: req, args: submit, data: true },
  35: {
    name: 'SUBMIT_JOB_SCHED',
    magic: req,
    args: [...submit, 'minute', 'hour', 'dayOfMonth', 'month', 'dayOfWeek'],
    data: true,
  },
  36: { name: 'SUBMIT_JOB_EPOCH', magic: req, args: [...submit, 'epoch'], data: true },
  37: { name: 'SUBMIT_REDUCE_JOB', magic: req, args: [...submit, 'reducer', 'aggregate'], data: true },
  38: {
    name: 'SUBMIT_REDUCE_JOB_BACKGROUND',
    magic: req,
    args: [...submit, 'reducer', 'aggregate'],
    data: true,
  },
  39: { name: 'GRAB_JOB_ALL', magic: req, args: [], data: false },
  40: {
    name: 'JOB_ASSIGN_ALL',
    magic: res,
    args: ['handle', 'functionName', 'unique', 'reducer'],
    data: true,
  },
  41: { name: 'GET_STATUS_UNIQUE', magic: req, args: ['unique'], data: false },
  42: {
    name: 'STATUS_RES_UNIQUE',
    magic: res,
    args: ['unique', 'known', 'running', 'numerator', 'denominator', 'clientCount'],
    data: false,
  },
} as const satisfies Record<number, PacketLayout>;

/** A packet type number. */
export type PacketType = keyof typeof packetLayouts;

/** A packet type by name. */
export type PacketName = (typeof packetLayouts)[PacketType]['name'];

/** The packet type numbers, by name. */
export const PacketTypes = Object.fromEntries(
  Object.entries(packetLayouts).map(([type, layout]) => [layout.name, Number(type)]),
) as {
  readonly [N in PacketName]: Extract<
    PacketType,
    { [T in PacketType]: (typeof packetLayouts)[T]['name'] extends N ? T : never }[PacketType]
  >;
};

/** The layout of a type number, or undefined for a number that is not a packet type. */
export function layoutOf(type: number): PacketLayout | undefined {
  return (packetLayouts as Record<number, PacketLayout>)[type];
}
