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
 * The context travels as a W3C `traceparent` string: in thread messages, in a queue row, and over Gearman
 * in the unique of a job that has none of its own (so that payloads stay plain JSON for PHP and C).
 */
import { createRequire } from 'node:module';
import type { Attributes, Context, Span, SpanContext, Tracer } from '@opentelemetry/api';
import { InvalidOptionError } from '../errors.js';
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

  private constructor(api: OpenTelemetryApi) {
    this.#api = api;
    this.#tracer = api.trace.getTracer('gearshift');
  }

  /** Loads OpenTelemetry's API, which `telemetry: true` needs installed. */
  static load(): Tracing {
    return new Tracing(requireApi());
  }

  /** A span for a foreground job the caller waits on, a child of the caller's active span. */
  call(functionName: string): JobSpan {
    return this.#start(`call ${functionName}`, this.#api.SpanKind.CLIENT, this.#api.context.active(), {
      'messaging.operation.type': 'send',
      'messaging.destination.name': functionName,
    });
  }

  /** A span for background jobs kept in one go, a child of the caller's active span. */
  send(functionNames: readonly string[]): JobSpan {
    const distinct = [...new Set(functionNames)];
    const name = distinct.length === 1 ? `send ${distinct[0]}` : 'send';
    return this.#start(name, this.#api.SpanKind.PRODUCER, this.#api.context.active(), {
      'messaging.operation.type': 'send',
      ...(distinct.length === 1 ? { 'messaging.destination.name': distinct[0] } : {}),
      ...(functionNames.length > 1 ? { 'messaging.batch.message_count': functionNames.length } : {}),
    });
  }

  /** A span for one run of a job, a child of the span that submitted it (`parent`, a traceparent). */
  process(functionName: string, handle: string, parent: string | undefined): JobSpan {
    const { context, trace, SpanKind } = this.#api;
    const remote = parent === undefined ? undefined : parseTraceparent(parent);
    const parentContext = remote ? trace.setSpanContext(context.active(), remote) : context.active();
    return this.#start(`process ${functionName}`, SpanKind.CONSUMER, parentContext, {
      'messaging.operation.type': 'process',
      'messaging.destination.name': functionName,
      'messaging.message.id': handle,
    });
  }

  #start(name: string, kind: number, parent: Context, attributes: Attributes): JobSpan {
    const span = this.#tracer.startSpan(
      name,
      { kind, attributes: { 'messaging.system': 'gearshift', ...attributes } },
      parent,
    );
    return new StartedSpan(span, this.#api);
  }
}

class StartedSpan implements JobSpan {
  readonly traceparent: string | undefined;
  readonly #span: Span;
  readonly #api: OpenTelemetryApi;

  constructor(span: Span, api: OpenTelemetryApi) {
    this.#span = span;
    this.#api = api;
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
  }
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
