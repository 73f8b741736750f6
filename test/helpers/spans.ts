/** Reading the spans that jobs of test/fixtures/concurrency-functions.ts report. */
import type { Span } from '../fixtures/concurrency-functions.js';

/** The most spans that overlap at one moment. */
export function mostAtOnce(spans: readonly Span[]): number {
  const edges = spans.flatMap((span) => [
    [span.start, 1],
    [span.end, -1],
  ]);
  // Ends before starts at the same moment: touching spans do not overlap.
  edges.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
  let current = 0;
  let most = 0;
  for (const [, step] of edges) {
    current += step as number;
    most = Math.max(most, current);
  }
  return most;
}

/** The most spans of one thread that overlap at one moment, over every thread. */
export function mostAtOnceOnAThread(spans: readonly Span[]): number {
  const threads = new Set(spans.map((span) => span.thread));
  return Math.max(
    ...[...threads].map((thread) => mostAtOnce(spans.filter((span) => span.thread === thread))),
  );
}
