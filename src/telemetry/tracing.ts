/**
 * Traces, through OpenTelemetry's API (`@opentelemetry/api`, an optional peer: loaded only when a client
 * or worker is made with `telemetry: true`, and then required). The spans go to whatever tracer provider
 * the application registered (its OpenTelemetry SDK); gearshift only makes them:
 *
 * - `call <function>` (kind CLIENT): a foreground job, from submission to its result;
 * - `send <function>` (kind PRODUCER): background jobs kept, from submission to their commit (one span for
 *   a `backgroundAll`);
 * - `process <function>` (kind CONSUMER): one run of a job, from when a thread takes it to its end; a
 *   child of the span that submitted it, wherever that was: another thread, another process, another host.
 *
 * And metrics, through the meter provider the application registered, named by OpenTelemetry's messaging
 * conventions (attributes `messaging.system`, `messaging.operation.name`, `messaging.destination.name`,
 * and `error.type` for a failure):
 *
 * - `messaging.client.sent.messages` (counter): jobs submitted, foreground and background;
 * - `messaging.client.operation.duration` (histogram, seconds): a `call` or a `send`, as its span;
 * - `messaging.client.consumed.messages` (counter): runs started;
 * - `messaging.process.duration` (histogram, seconds): runs, as their `process` spans.
 *
 * The context travels as a W3C `traceparent` string: in thread messages, in a queue row, and over Gearman
 * in the unique of a job that has none of its own (so that payloads stay plain JSON for PHP and C).
 */
import { createRequire } from 'node:module';
import type { Attributes, Context, Counter, Histogram, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { GearshiftError, InvalidOptionError } from '../errors.js';
import { parseTraceparent, toTraceparent } from './traceparent.js';

type OpenTelemetryApi = typeof import('@opentelemetry/api');

/** One span gearshift made, and the context it hands on. */
export interface JobSpan {
  /**
   * The span's context as a W3C traceparent: what a job carries to where it runs (a sampled-out span's
   * too, so that its runs are left out as well). Undefined when no SDK is registered: no trace to continue.
   */
  readonly traceparent: string | undefined;
  /** Names the job (its handle), once known. */
  handle(handle: string): void;
  /** Ends the span: an error marks it failed. */
  end(error?: unknown): void;
}

/** Where traces go: the application's tracer provider, through OpenTelemetry's API. */
export class Tracing {
  readonly #api: OpenTelemetryApi;
  readonly #tracer: Tracer;
  readonly #sent: Counter;
  readonly #consumed: Counter;
  readonly #operationDuration: Histogram;
  readonly #processDuration: Histogram;

  private constructor(api: OpenTelemetryApi) {
    this.#api = api;
    this.#tracer = api.trace.getTracer('gearshift');
    const meter = api.metrics.getMeter('gearshift');
    this.#sent = meter.createCounter('messaging.client.sent.messages', {
      unit: '{message}',
      description: 'Jobs submitted',
    });
    this.#consumed = meter.createCounter('messaging.client.consumed.messages', {
      unit: '{message}',
      description: 'Runs of jobs started',
    });
    this.#operationDuration = meter.createHistogram('messaging.client.operation.duration', {
      unit: 's',
      description: 'A foreground job from submission to its result, or background jobs to their commit',
    });
    this.#processDuration = meter.createHistogram('messaging.process.duration', {
      unit: 's',
      description: 'One run of a job',
    });
  }

  /** Loads OpenTelemetry's API, which `telemetry: true` needs installed. */
  static load(): Tracing {
    return new Tracing(requireApi());
  }

  /** A span for a foreground job the caller waits on, a child of the caller's active span. */
  call(functionName: string): JobSpan {
    const measured = { 'messaging.operation.name': 'call', 'messaging.destination.name': functionName };
    this.#sent.add(1, { 'messaging.system': 'gearshift', ...measured });
    return this.#start(
      `call ${functionName}`,
      this.#api.SpanKind.CLIENT,
      this.#api.context.active(),
      { 'messaging.operation.type': 'send', 'messaging.destination.name': functionName },
      this.#operationDuration,
      measured,
    );
  }

  /** A span for background jobs kept in one go, a child of the caller's active span. */
  send(functionNames: readonly string[]): JobSpan {
    const distinct = [...new Set(functionNames)];
    const name = distinct.length === 1 ? `send ${distinct[0]}` : 'send';
    const destination = distinct.length === 1 ? { 'messaging.destination.name': distinct[0] as string } : {};
    for (const functionName of distinct) {
      const count = functionNames.filter((each) => each === functionName).length;
      this.#sent.add(count, {
        'messaging.system': 'gearshift',
        'messaging.operation.name': 'send',
        'messaging.destination.name': functionName,
      });
    }
    return this.#start(
      name,
      this.#api.SpanKind.PRODUCER,
      this.#api.context.active(),
      {
        'messaging.operation.type': 'send',
        ...destination,
        ...(functionNames.length > 1 ? { 'messaging.batch.message_count': functionNames.length } : {}),
      },
      this.#operationDuration,
      { 'messaging.operation.name': 'send', ...destination },
    );
  }

  /** A span for one run of a job, a child of the span that submitted it (`parent`, a traceparent). */
  process(functionName: string, handle: string, parent: string | undefined): JobSpan {
    const { context, trace, SpanKind } = this.#api;
    const remote = parent === undefined ? undefined : parseTraceparent(parent);
    const parentContext = remote ? trace.setSpanContext(context.active(), remote) : context.active();
    const measured = { 'messaging.operation.name': 'process', 'messaging.destination.name': functionName };
    this.#consumed.add(1, { 'messaging.system': 'gearshift', ...measured });
    return this.#start(
      `process ${functionName}`,
      SpanKind.CONSUMER,
      parentContext,
      {
        'messaging.operation.type': 'process',
        'messaging.destination.name': functionName,
        'messaging.message.id': handle,
      },
      this.#processDuration,
      measured,
    );
  }

  /** Starts a span, and has its end recorded in `duration` with the `measured` attributes. */
  #start(
    name: string,
    kind: number,
    parent: Context,
    attributes: Attributes,
    duration: Histogram,
    measured: Attributes,
  ): JobSpan {
    const span = this.#tracer.startSpan(
      name,
      { kind, attributes: { 'messaging.system': 'gearshift', ...attributes } },
      parent,
    );
    return new StartedSpan(span, this.#api, (seconds, errorType) =>
      duration.record(seconds, {
        'messaging.system': 'gearshift',
        ...measured,
        ...(errorType === undefined ? {} : { 'error.type': errorType }),
      }),
    );
  }
}

class StartedSpan implements JobSpan {
  readonly traceparent: string | undefined;
  readonly #span: Span;
  readonly #api: OpenTelemetryApi;
  readonly #started = performance.now();
  readonly #measure: (seconds: number, errorType: string | undefined) => void;

  constructor(
    span: Span,
    api: OpenTelemetryApi,
    measure: (seconds: number, errorType: string | undefined) => void,
  ) {
    this.#span = span;
    this.#api = api;
    this.#measure = measure;
    const spanContext = span.spanContext();
    this.traceparent = api.isSpanContextValid(spanContext) ? toTraceparent(spanContext) : undefined;
  }

  handle(handle: string): void {
    this.#span.setAttribute('messaging.message.id', handle);
  }

  end(error?: unknown): void {
    if (error !== undefined) {
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof Error) this.#span.recordException(error);
      this.#span.setStatus({ code: this.#api.SpanStatusCode.ERROR, message });
    }
    this.#span.end();
    this.#measure(
      (performance.now() - this.#started) / 1000,
      error === undefined ? undefined : errorTypeOf(error),
    );
  }
}

/** A failure's `error.type`: a gearshift error's code, else the error's class name. */
function errorTypeOf(error: unknown): string {
  if (error instanceof GearshiftError) return error.code;
  return error instanceof Error ? error.name : '_OTHER';
}

/** The `telemetry` option, checked: the tracing it asks for, or undefined for none. */
export function loadTracing(telemetry: unknown): Tracing | undefined {
  if (telemetry === undefined || telemetry === false) return undefined;
  if (telemetry !== true) throw new InvalidOptionError('telemetry', 'true or false', telemetry);
  return Tracing.load();
}

/**
 * Runs `work` with the span of a traceparent as the active context, where OpenTelemetry's API is
 * installed (in a worker thread, say, whose code may start spans of its own); else just runs it.
 */
export function withTraceparent<T>(traceparent: string | undefined, work: () => T): T {
  const api = traceparent === undefined ? undefined : optionalApi();
  const remote: SpanContext | undefined = api && parseTraceparent(traceparent as string);
  if (!api || !remote) return work();
  return api.context.with(api.trace.setSpanContext(api.context.active(), remote), work);
}

let loaded: OpenTelemetryApi | null | undefined;

/** OpenTelemetry's API if installed (once looked for), else undefined. */
function optionalApi(): OpenTelemetryApi | undefined {
  if (loaded === undefined) {
    try {
      loaded = requireApi();
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}

function requireApi(): OpenTelemetryApi {
  try {
    return createRequire(import.meta.url)('@opentelemetry/api') as OpenTelemetryApi;
  } catch (error) {
    throw new InvalidOptionError(
      'telemetry',
      `false here: traces need the @opentelemetry/api package installed beside gearshift (npm install @opentelemetry/api), and an OpenTelemetry SDK registered to send them (${String(error).split('\n')[0]})`,
      true,
    );
  }
}
