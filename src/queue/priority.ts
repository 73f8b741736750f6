/** Priorities as the API names them, by their stored rank (0 high, 1 normal, 2 low). */
import type { Priority } from '../backend.js';

export const priorityNames: readonly Priority[] = ['high', 'normal', 'low'];

/** The stored rank of a priority: they sort high first. */
export const priorityRank: Readonly<Record<Priority, number>> = { high: 0, normal: 1, low: 2 };
