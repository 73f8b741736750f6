/** The option that turns traces on, shared by clients and workers. */

/** Traces through OpenTelemetry. */
export interface TelemetryOptions {
  /**
   * Makes an OpenTelemetry span for each job submitted (`call <function>` for a foreground job,
   * `send <function>` for background ones) and for each run (`process <function>`, a child of the span
   * that submitted it, in whatever thread, process or host it runs), through `@opentelemetry/api` (an
   * optional peer: install it) and the tracer provider your OpenTelemetry SDK registers. Off, nothing
   * of OpenTelemetry is loaded and jobs carry no trace.
   * @default false
   */
  readonly telemetry?: boolean;
}
