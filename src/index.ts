/**
 * gearshift: the Gearman job model for Node.js. One client/worker API over a worker-thread pool (the
 * default, no server), and the backend seam that other transports plug into.
 */

export type {
  Backend,
  BackgroundRequest,
  FlowHandles,
  FunctionInfo,
  JobControl,
  JobFilter,
  JobFlows,
  JobListener,
  JobSchedules,
  JobSelector,
  JobState,
  JobStatus,
  JobTicket,
  PayloadMode,
  Priority,
  PurgeRequest,
  ScheduleInfo,
  ScheduleRequest,
  SubmitRequest,
} from './backend.js';
export {
  type AnyTask,
  type BackgroundArguments,
  type BackgroundJob,
  Client,
  type RunArguments,
  type ScheduleArguments,
  type Task,
  type TaskResults,
  type TaskResultType,
} from './client/client.js';
export type { JobEvent, JobEventHandlers, JobEventType, TaskEvent } from './client/events.js';
export { JobRun } from './client/job-run.js';
export type {
  BackgroundOptions,
  RunAllOptions,
  RunOptions,
  ScheduleOptions,
  ScheduleWhen,
} from './client/options.js';
export { type TaskResult, TaskSet } from './client/task-set.js';
export {
  type ClientOptions,
  type CustomBackendOptions,
  createClient,
  type GearmanClientOptions,
  type LocalClientOptions,
} from './compose/create-client.js';
export { createWorker, type WorkerOptions } from './compose/create-worker.js';
export {
  type GearmanScheduler,
  type GearmanSchedulerOptions,
  startGearmanScheduler,
} from './compose/gearman-scheduler.js';
export { createDashboard, type Dashboard, type DashboardOptions } from './console/dashboard.js';
export {
  ClientClosedError,
  FunctionsModuleError,
  GearmanConnectionError,
  GearmanProtocolError,
  GearmanServerError,
  GearshiftError,
  type GearshiftErrorCode,
  InvalidOptionError,
  JobAbortedError,
  JobCancelledError,
  JobFailedError,
  JobTimeoutError,
  PayloadError,
  QueueFileError,
  UnknownFunctionError,
  UnsupportedError,
  WorkerCrashedError,
} from './errors.js';
export {
  type BytesFunctionSpec,
  type BytesHandler,
  defineFunctions,
  type FunctionEntry,
  type FunctionMap,
  FunctionSet,
  type JobContext,
  type JsonFunctionSpec,
  type JsonHandler,
} from './functions/define.js';
export type { ChildCompleted, ChildFailed, FlowOutcome } from './functions/flow-outcome.js';
export type { FunctionLimit, RateLimit } from './functions/limit.js';
export type { AnyFunctionSet, BytesInput, FunctionName, InputOf, ResultOf } from './functions/types.js';
export { GearmanAdmin } from './gearman/admin-client.js';
export type { GearmanOptions } from './gearman/gearman-options.js';
export type { JobLine, PriorityStatusLine, StatusLine, WorkerLine } from './gearman/protocol/admin-text.js';
export { parseServerAddress, type ServerAddress } from './gearman/server-address.js';
export type { Jsonified, JsonResult, JsonValue } from './payload/jsonified.js';
export {
  type FunctionStatus,
  type OpenQueueOptions,
  openQueue,
  Queue,
  type RunnerStatus,
} from './queue/queue-admin.js';
export type { QueueOptions } from './queue/queue-options.js';
export { type Durability, defaultQueuePath } from './queue/queue-options.js';
export type { Retention } from './queue/sql/retention.js';
export type { TelemetryOptions } from './telemetry/telemetry-options.js';
export { Worker } from './worker/worker.js';
export type { WorkerEventMap } from './worker/worker-events.js';
export type { WorkerLog } from './worker/worker-log.js';
