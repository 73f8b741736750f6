/**
 * Traces (telemetry: true) with a real OpenTelemetry SDK in every process and thread involved
 * (test/fixtures/file-tracing.mjs, which appends each ended span to a file): one trace followed from the
 * caller's span through the submission, to the run in a worker thread, in a runner process, or on a
 * gearshift worker behind gearmand, down to a span the handler starts in its thread. Without the option,
 * nothing is traced and a job's unique is the caller's.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, metrics, trace } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Client, createClient, InvalidOptionError } from '../src/index.js';
import type functions from './fixtures/traced-functions.js';
import { gearmandInstalled, startGearmand, stopAllGearmands } from './helpers/gearmand.js';
import { startRunner, startWorkProcess, stopAllRunners } from './helpers/runner-process.js';

const directory = mkdtempSync(join(tmpdir(), 'gearshift-telemetry-'));
const spansFile = join(directory, 'spans.jsonl');
const module = new URL('./fixtures/traced-functions.ts', import.meta.url);
const sdk = new URL('./fixtures/file-tracing.mjs', import.meta.url).href;
/** A runner or worker process with the SDK loaded first, as an application would run it. */
const tracedEnv = {
  ...process.env,
  GEARSHIFT_SPANS_FILE: spansFile,
  NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import ${sdk}`,
};
const clients: Client<typeof functions>[] = [];

/** A metric reader the test collects from when it wants (the SDK's pull form). */
class CollectingReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
const reader = new CollectingReader();

beforeAll(async () => {
  process.env.GEARSHIFT_SPANS_FILE = spansFile;
  await import('./fixtures/file-tracing.mjs');
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

/** The data points of a metric, as collected now: each point's attributes and value. */
async function points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]> {
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .flatMap((scope) => scope.metrics)
    .filter((metric) => metric.descriptor.name === name)
    .flatMap((metric) => metric.dataPoints.map(({ attributes, value }) => ({ attributes, value })));
}
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.destroy()));
  await stopAllRunners();
  await stopAllGearmands();
  rmSync(spansFile, { force: true });
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

interface SpanLine {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly attributes: Record<string, unknown>;
  readonly status: { code: number; message?: string };
  readonly pid: number;
  readonly thread: number;
}

function spans(): SpanLine[] {
  if (!existsSync(spansFile)) return [];
  return readFileSync(spansFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SpanLine);
}

/** Waits until a span of this name has ended (in whatever process), and returns it. */
async function span(name: string): Promise<SpanLine> {
  let found: SpanLine | undefined;
  await expect
    .poll(
      () => {
        found = spans().find((line) => line.name === name);
        return found;
      },
      { timeout: 15_000 },
    )
    .toBeDefined();
  return found as SpanLine;
}

/** Runs `work` inside an active span of the test's own: the caller's request, say. */
async function inRequest<T>(work: () => PromiseLike<T>): Promise<{ result: T; request: string }> {
  const request = trace.getTracer('test').startSpan('request');
  try {
    const result = await context.with(trace.setSpan(context.active(), request), work);
    return { result, request: request.spanContext().spanId };
  } finally {
    request.end();
  }
}

/** Checks that the spans form one chain, each the child of the one before. */
function expectChain(chain: readonly SpanLine[]): void {
  for (let index = 1; index < chain.length; index++) {
    const [parent, child] = [chain[index - 1] as SpanLine, chain[index] as SpanLine];
    expect(child.traceId, `${child.name} in the trace of ${parent.name}`).toBe(parent.traceId);
    expect(child.parentSpanId, `${child.name} a child of ${parent.name}`).toBe(parent.spanId);
  }
}

describe('traces, with telemetry: true', () => {
  it('on the local pool: the caller, the call, the run, and a span the handler starts in its thread', async () => {
    const gs = createClient<typeof functions>({
      functions: module,
      threads: 1,
      queue: false,
      telemetry: true,
    });
    clients.push(gs);
    const { result, request } = await inRequest(() => gs.run('traced', { tag: 'local' }));
    const call = await span('call traced');
    const run = await span('process traced');
    const inside = await span('inside local');
    expect(call.parentSpanId).toBe(request);
    expectChain([call, run, inside]);
    // The run's span is made where the pool is; the handler's, in the thread that ran it.
    expect(run.thread).toBe(0);
    expect(inside.thread).not.toBe(0);
    expect(result.traceparent).toBe(`00-${run.traceId}-${run.spanId}-01`);
    expect(run.attributes).toMatchObject({
      'messaging.system': 'gearshift',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'traced',
    });
  });

  it('marks a failed job failed, in the call and in the run', async () => {
    const gs = createClient<typeof functions>({
      functions: module,
      threads: 1,
      queue: false,
      telemetry: true,
    });
    clients.push(gs);
    await expect(gs.run('failing', { tag: 'x' })).rejects.toThrow(/failing on purpose/);
    const call = await span('call failing');
    const run = await span('process failing');
    expectChain([call, run]);
    // SpanStatusCode.ERROR
    expect(call.status.code).toBe(2);
    expect(run.status.code).toBe(2);
    expect(run.status.message).toMatch(/failing on purpose/);
  });

  it('through a queue file, to a runner in another process: the trace travels in the row', async () => {
    const path = join(directory, 'queue.db');
    await startRunner(module.pathname, path, ['--threads', '1', '--telemetry'], tracedEnv);
    const gs = createClient<typeof functions>({ queue: { path }, telemetry: true });
    clients.push(gs);
    const { result: handle, request } = await inRequest(() => gs.background('traced', { tag: 'queued' }));
    const send = await span('send traced');
    const run = await span('process traced');
    const inside = await span('inside queued');
    expect(send.parentSpanId).toBe(request);
    expectChain([send, run, inside]);
    expect(send.attributes['messaging.message.id']).toBe(handle);
    expect(run.attributes['messaging.message.id']).toBe(handle);
    expect(run.pid).not.toBe(process.pid);
    expect((await gs.status(handle)).result).toMatchObject({ unique: null });
  });

  it("records OpenTelemetry's messaging metrics: jobs sent, runs consumed, and their durations, a failure by its type", async () => {
    /** The value of a metric's point for a function and operation (and error type), cumulative. */
    const value = async (name: string, fn: string, operation: string, errorType?: string) => {
      const found = (await points(name)).find(
        ({ attributes }) =>
          attributes['messaging.system'] === 'gearshift' &&
          attributes['messaging.destination.name'] === fn &&
          attributes['messaging.operation.name'] === operation &&
          attributes['error.type'] === errorType,
      )?.value;
      return typeof found === 'number' ? found : ((found as { count: number } | undefined)?.count ?? 0);
    };
    const measures = () =>
      Promise.all([
        value('messaging.client.sent.messages', 'metered', 'call'),
        value('messaging.client.operation.duration', 'metered', 'call'),
        value('messaging.client.consumed.messages', 'metered', 'process'),
        value('messaging.process.duration', 'metered', 'process'),
        value('messaging.process.duration', 'failing', 'process', 'ERR_JOB_FAILED'),
      ]);
    const before = await measures();
    const gs = createClient<typeof functions>({
      functions: module,
      threads: 1,
      queue: false,
      telemetry: true,
    });
    clients.push(gs);
    await gs.runAll([1, 2, 3].map((n) => gs.task('metered', { tag: `metric-${n}` })));
    await expect(gs.run('failing', { tag: 'metric' })).rejects.toThrow(/failing on purpose/);
    const after = await measures();
    // Three jobs sent, each timed as a call; three runs, timed; one failed run, by its error's code.
    expect(after.map((count, index) => count - (before[index] as number))).toEqual([3, 3, 3, 3, 1]);
  });

  it('refuses a telemetry option that is not a boolean', () => {
    expect(() => createClient({ functions: module, telemetry: 'yes' as unknown as boolean })).toThrow(
      InvalidOptionError,
    );
  });
});

describe.skipIf(!gearmandInstalled)('traces over Gearman, between gearshift ends', () => {
  it('from a gearshift client through gearmand to a gearshift worker, foreground and background', async () => {
    const server = await startGearmand();
    await startWorkProcess(
      module.pathname,
      ['--gearman', server.address, '--threads', '1', '--telemetry'],
      tracedEnv,
    );
    const gs = createClient<typeof functions>({ gearman: { servers: server.address }, telemetry: true });
    clients.push(gs);
    const { result } = await inRequest(() => gs.run('traced', { tag: 'gearman' }));
    const call = await span('call traced');
    const run = await span('process traced');
    expectChain([call, run, await span('inside gearman')]);
    // The trace rode in the job's unique; the handler sees no unique, as its caller gave none.
    expect(result).toEqual({ traceparent: `00-${run.traceId}-${run.spanId}-01`, unique: null });

    await gs.backgroundAll([
      gs.backgroundJob('traced', { tag: 'b1' }),
      gs.backgroundJob('traced', { tag: 'b2' }),
    ]);
    const send = await span('send traced');
    await span('inside b1');
    await span('inside b2');
    // Two jobs of one batch share its trace, yet gearmand ran both: each got a unique of its own.
    const runs = spans().filter(
      (line) => line.name === 'process traced' && line.parentSpanId === send.spanId,
    );
    expect(runs).toHaveLength(2);
  });

  it("keeps the caller's unique, and carries no trace, when the caller gave one", async () => {
    const server = await startGearmand();
    await startWorkProcess(
      module.pathname,
      ['--gearman', server.address, '--threads', '1', '--telemetry'],
      tracedEnv,
    );
    const gs = createClient<typeof functions>({ gearman: { servers: server.address }, telemetry: true });
    clients.push(gs);
    const result = await gs.run('traced', { tag: 'own' }, { unique: 'order-42' });
    expect(result.unique).toBe('order-42');
    const run = await span('process traced');
    expect(run.parentSpanId).toBeUndefined();
  });
});

describe('without telemetry', () => {
  it('makes no span, and a handler sees no traceparent', async () => {
    const gs = createClient<typeof functions>({ functions: module, threads: 1, queue: false });
    clients.push(gs);
    const result = await gs.run('traced', { tag: 'off' });
    expect(result.traceparent).toBeNull();
    await span('inside off');
    expect(spans().map((line) => line.name)).toEqual(['inside off']);
  });
});
