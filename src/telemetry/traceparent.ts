/**
 * The W3C Trace Context `traceparent` (version 00): how a job carries its trace to where it runs. And
 * its form inside a Gearman unique, for a job that has no unique of its own: `t:`, the three fields
 * without dashes, and 8 random hex digits (jobs of one batch share a trace, and gearmand merges jobs of
 * one unique): 61 characters, within gearmand's 64.
 */
import type { SpanContext } from '@opentelemetry/api';
import { randomHex } from '../shared/random.js';

const traceparentPattern = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const uniquePattern = /^t:([0-9a-f]{32})([0-9a-f]{16})([0-9a-f]{2}):[0-9a-f]{8}$/;
const zeros = /^0+$/;

/** A span context as a traceparent. */
export function toTraceparent(context: SpanContext): string {
  return `00-${context.traceId}-${context.spanId}-${context.traceFlags.toString(16).padStart(2, '0')}`;
}

/** The remote span context a traceparent names, or undefined for one that is malformed or all zeros. */
export function parseTraceparent(traceparent: string): SpanContext | undefined {
  const match = traceparentPattern.exec(traceparent);
  if (!match) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (zeros.test(traceId) || zeros.test(spanId)) return undefined;
  return { traceId, spanId, traceFlags: Number.parseInt(flags, 16), isRemote: true };
}

/** A Gearman unique that carries a traceparent, different for every job. */
export function traceUnique(traceparent: string): string {
  return `t:${traceparent.slice(3).replaceAll('-', '')}:${randomHex(4)}`;
}

/**
 * What a Gearman job's unique says: the traceparent it carries, when gearshift put one there (and then no
 * unique of the caller's), or the caller's unique.
 */
export function readUnique(unique: string | undefined): {
  unique: string | undefined;
  traceparent: string | undefined;
} {
  const match = unique === undefined ? null : uniquePattern.exec(unique);
  if (!match) return { unique, traceparent: undefined };
  return { unique: undefined, traceparent: `00-${match[1]}-${match[2]}-${match[3]}` };
}
