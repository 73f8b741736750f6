/**
 * The backend seam is public: a transport written outside the package, with nothing but the exported
 * types, plugs into createClient({ backend }) and gets the whole client API on top of it.
 */
import { describe, expect, it } from 'vitest';
import {
  type Backend,
  createClient,
  type FunctionInfo,
  JobFailedError,
  type JobListener,
  type JobStatus,
  type JobTicket,
  type SubmitRequest,
  UnknownFunctionError,
} from '../src/index.js';

/** A toy transport: doubles numbers in the caller's thread, one status report on the way. */
class DoublingBackend implements Backend {
  submitted: SubmitRequest[] = [];
  closed = false;
  #next = 0;

  async manifest(): Promise<FunctionInfo[]> {
    return [
      { name: 'double', payload: 'json' },
      { name: 'broken', payload: 'json' },
    ];
  }

  submit(request: SubmitRequest, listener: JobListener): JobTicket {
    this.submitted.push(request);
    const handle = `toy:${++this.#next}`;
    setTimeout(() => {
      listener.created(handle);
      listener.started();
      listener.status(1, 1);
      if (request.functionName === 'broken')
        listener.fail(new JobFailedError('broken', handle, new Error('toy failure')));
      else listener.complete((request.input as number) * 2);
    });
    return { detach: () => {} };
  }

  async status(handle: string): Promise<JobStatus> {
    return { handle, known: false, running: false, numerator: 0, denominator: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async destroy(): Promise<void> {
    this.closed = true;
  }
}

describe('a backend plugged in from outside', () => {
  it('gets run, runAll, events, refusals and close from the client', async () => {
    const backend = new DoublingBackend();
    const gs = createClient({ backend });
    const statuses: number[] = [];
    expect(
      await gs.run('double', 21, { priority: 'high', on: { status: (e) => statuses.push(e.numerator) } }),
    ).toBe(42);
    expect(statuses).toEqual([1]);
    expect(backend.submitted[0]).toMatchObject({
      functionName: 'double',
      input: 21,
      priority: 'high',
      payload: 'json',
    });

    const results = await gs.runAll([gs.task('double', 1), gs.task('broken', 0), gs.task('double', 3)]);
    expect(results.map((result) => (result.ok ? result.result : result.error.code))).toEqual([
      2,
      'ERR_JOB_FAILED',
      6,
    ]);

    expect(await gs.run('missing', 1).catch((thrown: unknown) => thrown)).toBeInstanceOf(
      UnknownFunctionError,
    );
    await gs.close();
    expect(backend.closed).toBe(true);
  });
});
