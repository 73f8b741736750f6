/**
 * What an open console page asks of its server, run by bench:console in a process of its own (as a
 * browser would be) until SIGTERM: the live stream, the list of queued jobs reloaded on each push (as
 * the page does), the charts every 10 s, and a Prometheus scrape every 15 s.
 */
const base = process.argv[2] as string;
const controller = new AbortController();
const { signal } = controller;
const pause = (wait: number) => new Promise((resolve) => setTimeout(resolve, wait));

async function get(path: string): Promise<void> {
  const response = await fetch(`${base}${path}`, { signal });
  await response.arrayBuffer();
}

async function every(wait: number, path: string): Promise<void> {
  while (!signal.aborted) {
    await get(path).catch(() => {});
    await pause(wait);
  }
}

async function follow(): Promise<void> {
  const response = await fetch(`${base}api/events`, { signal });
  const decoder = new TextDecoder();
  let pushes = 0;
  for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
    if (!decoder.decode(chunk).includes('event: overview')) continue;
    // The first push says the page is live: the bench starts its drain then.
    if (++pushes === 1) process.send?.('live');
    await get('api/jobs?state=queued');
  }
}

process.once('SIGTERM', () => controller.abort());
await Promise.all([follow().catch(() => {}), every(10_000, 'api/throughput'), every(15_000, 'metrics')]);
