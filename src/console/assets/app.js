// The gearshift console's page: a client of the console's JSON API (docs/console.md), with the overview
// pushed by the server as the queue file changes (server-sent events, no polling loop here). Every value
// from the file is shown as text (textContent), never as markup: a job's input cannot run in this page.

const states = ['queued', 'running', 'completed', 'failed', 'dead', 'cancelled'];
const actionStates = {
  cancel: ['queued', 'running'],
  retry: ['failed', 'dead', 'cancelled'],
  remove: ['completed', 'failed', 'dead', 'cancelled'],
};
const view = { state: 'queued', functionName: '', cursor: undefined, query: '', readOnly: true };
/** The jobs ticked in the list: kept while the list is drawn again under the reader's eyes. */
const selected = new Set();
const $ = (selector) => document.querySelector(selector);

/** An element with text, attributes and children; text is always text. */
function el(tag, { text, className, attrs } = {}, children = []) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  for (const child of children) node.append(child);
  return node;
}

async function api(path, body) {
  const response = await fetch(
    `api/${path}`,
    body === undefined
      ? { credentials: 'same-origin' }
      : {
          method: 'POST',
          credentials: 'same-origin',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        },
  );
  const answer = await response.json();
  if (!response.ok) throw new Error(answer.error ?? `${response.status}`);
  return answer;
}

const time = (value) => (value ? new Date(value).toLocaleString() : '');
const duration = (ms) =>
  ms === null || ms === undefined ? '' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;

/** A schedule's period in the largest unit that divides it: 15m, 2h, 1d, 250ms. */
function period(ms) {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ])
    if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function confirmAction(text) {
  const dialog = $('#confirm');
  $('#confirm-text').textContent = text;
  dialog.showModal();
  return new Promise((resolve) =>
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true }),
  );
}

async function act(text, run) {
  if (!(await confirmAction(text))) return;
  try {
    await run();
    selected.clear();
  } catch (error) {
    alert(error.message);
  }
  await Promise.all([loadOverview(), loadJobs()]);
}

function renderOverview(overview) {
  view.readOnly = overview.readOnly;
  $('#mode').hidden = !overview.readOnly;
  for (const node of document.querySelectorAll('#job-actions, #select-all')) node.hidden = overview.readOnly;
  $('#file').textContent = overview.file ?? '';
  const body = $('#functions tbody');
  body.replaceChildren();
  const functions = overview.functions ?? [];
  $('#no-functions').hidden = functions.length > 0;
  for (const fn of functions) {
    const name = el('td', {}, [el('span', { text: fn.functionName })]);
    if (fn.paused) name.append(' ', el('span', { text: 'paused', className: 'badge paused' }));
    const actions = el('td');
    if (!overview.readOnly) {
      const button = el('button', { text: fn.paused ? 'Resume' : 'Pause', attrs: { type: 'button' } });
      button.addEventListener('click', () =>
        act(`${fn.paused ? 'Resume' : 'Pause'} ${fn.functionName}?`, () =>
          api(`functions/${encodeURIComponent(fn.functionName)}/${fn.paused ? 'resume' : 'pause'}`, {}),
        ),
      );
      actions.append(button);
    }
    body.append(
      el('tr', { attrs: { 'data-function': fn.functionName } }, [
        name,
        ...states.map((state) => el('td', { text: fn.states[state], className: 'number' })),
        el('td', { text: fn.workers, className: 'number' }),
        actions,
      ]),
    );
  }
  const filter = $('#function-filter');
  const chosen = filter.value;
  filter.replaceChildren(el('option', { text: 'every function', attrs: { value: '' } }));
  for (const fn of functions)
    filter.append(el('option', { text: fn.functionName, attrs: { value: fn.functionName } }));
  filter.value = chosen;
  const runners = $('#runners tbody');
  runners.replaceChildren();
  for (const runner of overview.runners ?? []) {
    runners.append(
      el('tr', {}, [
        el('td', { text: runner.host }),
        el('td', { text: runner.pid, className: 'number' }),
        el('td', { text: runner.functions.join(', ') }),
        el('td', { text: runner.threads, className: 'number' }),
        el('td', { text: runner.running ?? '', className: 'number' }),
        el('td', { text: time(runner.heartbeatAt) }),
      ]),
    );
  }
  renderSchedules(overview.schedules ?? []);
  if (overview.gearman) renderGearman(overview.gearman);
}

function renderSchedules(schedules) {
  $('#schedules').hidden = schedules.length === 0;
  const body = $('#schedule-list tbody');
  body.replaceChildren();
  for (const schedule of schedules) {
    const when =
      schedule.cron === undefined
        ? `every ${period(schedule.everyMs)}`
        : `${schedule.cron}${schedule.tz ? ` (${schedule.tz})` : ''}`;
    body.append(
      el('tr', { attrs: { 'data-schedule': schedule.id } }, [
        el('td', { text: schedule.id }),
        el('td', { text: schedule.functionName }),
        el('td', { text: schedule.target === 'gearman' ? `${when}, to Gearman` : when }),
        el('td', { text: time(schedule.nextAt) }),
        el('td', { text: time(schedule.lastSlot) }),
      ]),
    );
  }
}

function renderGearman(servers) {
  $('#gearman').hidden = false;
  const holder = $('#servers');
  holder.replaceChildren();
  for (const server of servers) {
    const block = el('div', { className: 'server' }, [el('h3', { text: server.server })]);
    if (server.error) block.append(el('p', { text: server.error, className: 'muted' }));
    const rows = server.functions.map((fn) =>
      el('tr', {}, [
        el('td', { text: fn.functionName }),
        el('td', { text: fn.queued, className: 'number' }),
        el('td', { text: fn.running, className: 'number' }),
        el('td', { text: fn.workers, className: 'number' }),
      ]),
    );
    block.append(
      el('table', {}, [
        el('thead', {}, [
          el(
            'tr',
            {},
            ['function', 'queued', 'running', 'workers'].map((text) => el('th', { text })),
          ),
        ]),
        el('tbody', {}, rows),
      ]),
      el('p', {
        text: `workers: ${server.workers.map((worker) => `${worker.clientId} (${worker.address})`).join(', ') || 'none'}`,
        className: 'muted',
      }),
    );
    holder.append(block);
  }
}

async function loadOverview() {
  renderOverview(await api('overview'));
}

function selectedHandles() {
  const shown = new Set([...document.querySelectorAll('#jobs tbody input')].map((box) => box.value));
  return [...selected].filter((handle) => shown.has(handle));
}

/** A job's cells after the tick box: the text each shows, and its class. */
function jobCells(job) {
  return [
    [job.handle],
    [job.functionName],
    [job.state],
    [`${job.attempts} of ${job.maxAttempts}`, 'number'],
    [job.denominator ? `${job.numerator}/${job.denominator}` : '', 'number'],
    [time(job.createdAt)],
    [time(job.finishedAt)],
    [job.lastError ? `${job.lastError.code}: ${job.lastError.message}` : '', 'error'],
  ];
}

function jobRow(job) {
  const box = el('input', {
    attrs: { type: 'checkbox', value: job.handle, 'aria-label': `select ${job.handle}` },
  });
  box.hidden = view.readOnly;
  box.checked = selected.has(job.handle);
  box.addEventListener('click', (event) => event.stopPropagation());
  box.addEventListener('change', () =>
    box.checked ? selected.add(job.handle) : selected.delete(job.handle),
  );
  const row = el('tr', { className: 'clickable', attrs: { 'data-handle': job.handle } }, [
    el('td', {}, [box]),
    ...jobCells(job).map(([text, className]) => el('td', { text, className })),
  ]);
  row.addEventListener('click', () => showJob(job.handle));
  return row;
}

/**
 * The list's rows for `jobs`, reusing the row already drawn for a handle (its cells updated in place):
 * the list is drawn again each time the file changes, and a click or a tick aimed at a row must land on
 * that row, not on one drawn in its place between the aim and the click.
 */
function jobRows(jobs, drawn) {
  const byHandle = new Map([...drawn].map((row) => [row.dataset.handle, row]));
  return jobs.map((job) => {
    const row = byHandle.get(job.handle);
    if (!row) return jobRow(job);
    const cells = jobCells(job);
    for (const [index, cell] of [...row.cells].slice(1).entries())
      if (cell.textContent !== cells[index][0]) cell.textContent = cells[index][0];
    const box = row.cells[0].firstChild;
    box.hidden = view.readOnly;
    box.checked = selected.has(job.handle);
    return row;
  });
}

/** Counts the requests for a list from its start: only the latest one's answer is drawn. */
let listRequests = 0;

async function loadJobs(more = false) {
  const body = $('#jobs tbody');
  // A list from its start forgets the last one's place at once, and "More" is hidden until an answer
  // is drawn: it must not page the list the reader left, nor ask twice for one page. "More" counts no
  // request of its own: a list asked for from its start after it makes its answer stale.
  const request = more ? listRequests : ++listRequests;
  const cursor = more ? view.cursor : undefined;
  if (!more) view.cursor = undefined;
  $('#more').hidden = true;
  let page;
  if (view.query)
    page = { jobs: (await api(`search?q=${encodeURIComponent(view.query)}`)).jobs, next: undefined };
  else {
    const params = new URLSearchParams({ state: view.state, limit: '50' });
    if (view.functionName) params.set('function', view.functionName);
    if (cursor) params.set('cursor', cursor);
    page = await api(`jobs?${params}`);
  }
  // A list asked for since (another state, a search, the file's next change): its answer is the one to
  // show, and this one, arriving after it, would draw (or add to) the list the reader has left.
  if (request !== listRequests) return;
  if (more) body.append(...page.jobs.map(jobRow));
  else body.replaceChildren(...jobRows(page.jobs, body.children));
  view.cursor = page.next;
  $('#more').hidden = !page.next;
  $('#no-jobs').hidden = body.children.length > 0;
  for (const button of document.querySelectorAll('#job-actions [data-action]'))
    button.disabled = view.query === '' && !actionStates[button.dataset.action].includes(view.state);
  $('#act-on-all').textContent = view.functionName
    ? `…every ${view.state} ${view.functionName}`
    : '…every one in this list (choose a function)';
  $('#act-on-all').disabled = !view.functionName || view.query !== '';
}

async function showJob(handle) {
  const job = await api(`jobs/${encodeURIComponent(handle)}`);
  const { status } = job;
  $('#job-title').textContent = `${status.functionName} ${handle}`;
  const fields = $('#job-fields');
  fields.replaceChildren();
  const field = (name, value) => {
    if (value === undefined || value === null || value === '') return;
    fields.append(
      el('dt', { text: name }),
      el('dd', { text: typeof value === 'string' ? value : JSON.stringify(value) }),
    );
  };
  field('state', status.state);
  field('attempts', `${status.attempts} of ${status.maxAttempts}`);
  field('progress', status.denominator ? `${status.numerator}/${status.denominator}` : '');
  field('created', time(status.createdAt));
  field('run at', time(status.runAt));
  field('started', time(status.startedAt));
  field('ended', time(status.finishedAt));
  if (status.startedAt && status.createdAt)
    field('waited', duration(Date.parse(status.startedAt) - Date.parse(status.createdAt)));
  if (status.finishedAt && status.startedAt)
    field('ran', duration(Date.parse(status.finishedAt) - Date.parse(status.startedAt)));
  field('last error', status.lastError ? `${status.lastError.code}: ${status.lastError.message}` : '');
  field('checkpoint', status.checkpoint);
  field('result', status.result);
  $('#job-input').textContent =
    job.inputEncoding === 'none'
      ? '(none)'
      : job.inputEncoding === 'base64'
        ? `bytes, base64: ${job.input}`
        : JSON.stringify(job.input, null, 2);
  const events = $('#job-events');
  events.replaceChildren();
  for (const event of job.events) {
    const detail =
      event.detail === undefined
        ? ''
        : ` ${typeof event.detail === 'string' ? event.detail : JSON.stringify(event.detail)}`;
    events.append(el('li', { text: `${event.at ? `${time(event.at)} ` : ''}${event.event}${detail}` }));
  }
  $('#job').showModal();
}

function drawBars(svg, values, failed) {
  svg.replaceChildren();
  const most = Math.max(1, ...values.map((value, index) => value + (failed?.[index] ?? 0)));
  const width = 300 / Math.max(values.length, 1);
  values.forEach((value, index) => {
    const failures = failed?.[index] ?? 0;
    for (const [amount, base, className] of [
      [value, 0, 'bar'],
      [failures, value, 'bar failed'],
    ]) {
      if (amount === 0) continue;
      const height = (amount / most) * 76;
      const rect = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      rect.setAttribute('x', String(index * width));
      rect.setAttribute('y', String(78 - height - (base / most) * 76));
      rect.setAttribute('width', String(Math.max(width - 1, 1)));
      rect.setAttribute('height', String(height));
      rect.setAttribute('class', className);
      svg.append(rect);
    }
  });
}

function drawLine(svg, values) {
  svg.replaceChildren();
  const known = values.map((value, index) => [index, value]).filter(([, value]) => value !== null);
  if (known.length === 0) return;
  const most = Math.max(1, ...known.map(([, value]) => value));
  const step = 300 / Math.max(values.length - 1, 1);
  const at = ([index, value]) => [index * step, 78 - (value / most) * 76];
  const path = document.createElementNS('http://www.w3.org/2000/svg', 'polyline');
  path.setAttribute('points', known.map((point) => at(point).join(',')).join(' '));
  path.setAttribute('class', 'line');
  svg.append(path);
  for (const point of known) {
    const [x, y] = at(point);
    const dot = document.createElementNS('http://www.w3.org/2000/svg', 'circle');
    dot.setAttribute('cx', String(x));
    dot.setAttribute('cy', String(y));
    dot.setAttribute('r', '2');
    dot.setAttribute('class', 'dot');
    svg.append(dot);
  }
}

let lastCharts = 0;
async function loadCharts() {
  lastCharts = Date.now();
  const { points } = await api('throughput');
  drawBars(
    $('#chart-ended'),
    points.map((point) => point.completed),
    points.map((point) => point.failed),
  );
  drawLine(
    $('#chart-wait'),
    points.map((point) => point.waitMs),
  );
  drawLine(
    $('#chart-run'),
    points.map((point) => point.runMs),
  );
  const sum = (pick) => points.reduce((total, point) => total + pick(point), 0);
  $('#legend-ended').textContent =
    `(${sum((point) => point.completed)} completed, ${sum((point) => point.failed)} not)`;
  const latest = (pick) => [...points].reverse().find((point) => pick(point) !== null);
  $('#legend-wait').textContent = latest((point) => point.waitMs)
    ? `(${duration(latest((point) => point.waitMs).waitMs)} lately)`
    : '';
  $('#legend-run').textContent = latest((point) => point.runMs)
    ? `(${duration(latest((point) => point.runMs).runMs)} lately)`
    : '';
}

function setUp() {
  const nav = $('#states');
  for (const state of states) {
    const button = el('button', { text: state, attrs: { type: 'button', 'data-state': state } });
    button.addEventListener('click', () => {
      view.state = state;
      view.query = '';
      $('#search input').value = '';
      for (const other of nav.children) other.classList.toggle('active', other === button);
      loadJobs();
    });
    nav.append(button);
  }
  nav.firstChild.classList.add('active');
  $('#function-filter').addEventListener('change', (event) => {
    view.functionName = event.target.value;
    loadJobs();
  });
  $('#search').addEventListener('submit', (event) => {
    event.preventDefault();
    view.query = $('#search input').value.trim();
    loadJobs();
  });
  $('#more').addEventListener('click', () => loadJobs(true));
  $('#select-all').addEventListener('change', (event) => {
    for (const box of document.querySelectorAll('#jobs tbody input')) {
      box.checked = event.target.checked;
      if (box.checked) selected.add(box.value);
      else selected.delete(box.value);
    }
  });
  for (const button of document.querySelectorAll('#job-actions [data-action]')) {
    const action = button.dataset.action;
    button.addEventListener('click', () => {
      const handles = selectedHandles();
      if (handles.length === 0) return alert('Select jobs first.');
      act(
        `${action[0].toUpperCase()}${action.slice(1)} ${handles.length} job${handles.length === 1 ? '' : 's'}?`,
        () => api(`jobs/${action}`, { handles }),
      );
    });
  }
  $('#act-on-all').addEventListener('click', () => {
    const action =
      Object.keys(actionStates).find(
        (name) => actionStates[name].includes(view.state) && name !== 'remove',
      ) ?? 'remove';
    act(
      `${action[0].toUpperCase()}${action.slice(1)} every ${view.state} ${view.functionName}, in one transaction?`,
      () => api(`jobs/${action}`, { functionName: view.functionName, state: view.state }),
    );
  });
  $('#purge').addEventListener('submit', (event) => {
    event.preventDefault();
    const olderThan = event.target.olderThan.value;
    act(`Delete every finished job that ended more than ${olderThan} ago?`, () =>
      api('purge', { olderThan }),
    );
  });
}

function live() {
  const events = new EventSource('api/events');
  let jobsTimer;
  events.addEventListener('open', () => {
    $('#live').textContent = 'live';
    $('#live').classList.add('on');
  });
  events.addEventListener('error', () => {
    $('#live').textContent = 'reconnecting';
    $('#live').classList.remove('on');
  });
  events.addEventListener('overview', (event) => {
    renderOverview(JSON.parse(event.data));
    // The list follows, unless the reader is paging through it.
    if (!view.cursor || $('#jobs tbody').children.length <= 50) {
      clearTimeout(jobsTimer);
      jobsTimer = setTimeout(() => loadJobs(), 100);
    }
    if (Date.now() - lastCharts > 10_000) loadCharts();
  });
}

setUp();
await loadOverview();
await Promise.all([loadJobs(), loadCharts()]);
live();
