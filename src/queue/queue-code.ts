/**
 * The queue file's code (SQLite's, the SQL, the runner), loaded on first use in one piece: a process
 * that never opens a queue file does not compile it, and neither do the worker threads whose functions
 * module imports this package. One module, not one import per class: the bundle then keeps it in few
 * files, and each file a process loads costs it more than its size does.
 */

export { QueueBackend } from './queue-backend.js';
export { QueueSource } from './queue-source.js';
export { QueueStore } from './queue-store.js';
export { ScheduleTicker } from './schedule-ticker.js';
export { slotUnique } from './sql/schedules.js';
