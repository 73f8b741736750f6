/**
 * Several hosts on one machine, for tests of what crosses a network: each host is a network namespace
 * with one interface (eth0) on a shared bridge, which lives in a namespace of its own (the "switch"), so
 * that nothing touches the machine's own network. Needs root and iproute2 (and nftables for packet loss),
 * as CI has; elsewhere the tests that use it skip loudly, and under CI a missing piece is a failure.
 *
 * Links are cut at the switch (its side of the host's cable set down): the host sees no close and no
 * reset, its packets simply go nowhere, as when a cable or a switch port dies.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';

const missing = (() => {
  if (process.getuid?.() !== 0) return 'root (network namespaces)';
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (apt-get install iproute2)';
  if (spawnSync('nft', ['--version']).status !== 0) return 'nftables (apt-get install nftables)';
  return undefined;
})();
if (missing) {
  const message = `the multi-host tests need ${missing}`;
  if (process.env.CI) throw new Error(`${message}; under CI that is a failure, not a skip`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}

/** Whether network namespaces can be made here. */
export const netnsAvailable = missing === undefined;

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** One host: its namespace, its address, and the processes started in it. */
export class Host {
  readonly name: string;
  readonly namespace: string;
  readonly address: string;
  readonly #network: Network;
  /** The switch's end of this host's cable. */
  readonly switchPort: string;
  readonly processes = new Set<ChildProcess>();

  constructor(network: Network, name: string, index: number) {
    this.#network = network;
    this.name = name;
    this.namespace = `${network.prefix}-${name}`;
    this.address = `10.${network.subnet}.0.${index}`;
    this.switchPort = `${network.prefix}p${index}`;
  }

  /** Starts a program in this host's namespace; it is killed at teardown if still running. */
  spawn(command: string, args: readonly string[], options: { stdio?: 'ignore' | 'pipe' } = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.namespace, command, ...args], {
      stdio: options.stdio === 'pipe' ? ['ignore', 'pipe', 'pipe'] : 'ignore',
    });
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
    return child;
  }

  /** Cuts this host's cable at the switch: no close, no reset; packets go nowhere. */
  cutLink(): void {
    ip('-n', this.#network.switchNamespace, 'link', 'set', this.switchPort, 'down');
  }

  restoreLink(): void {
    ip('-n', this.#network.switchNamespace, 'link', 'set', this.switchPort, 'up');
  }

  /** Drops this share of the packets this host sends and receives, at random (nftables), 0 to stop. */
  losePackets(percent: number): void {
    const nft = (...args: string[]) => execFileSync('ip', ['netns', 'exec', this.namespace, 'nft', ...args]);
    spawnSync('ip', ['netns', 'exec', this.namespace, 'nft', 'delete', 'table', 'inet', 'chaos']);
    if (percent <= 0) return;
    nft('add', 'table', 'inet', 'chaos');
    for (const [chain, hook] of [
      ['in', 'input'],
      ['out', 'output'],
    ] as const) {
      nft('add', 'chain', 'inet', 'chaos', chain, `{ type filter hook ${hook} priority 0; }`);
      nft('add', 'rule', 'inet', 'chaos', chain, 'iifname', 'lo', 'accept');
      nft('add', 'rule', 'inet', 'chaos', chain, 'oifname', 'lo', 'accept');
      nft(
        'add',
        'rule',
        'inet',
        'chaos',
        chain,
        'numgen',
        'random',
        'mod',
        '100',
        '<',
        String(percent),
        'counter',
        'drop',
      );
    }
  }

  /** Packets dropped so far by {@link losePackets}, both ways. */
  droppedPackets(): number {
    const listed = spawnSync(
      'ip',
      ['netns', 'exec', this.namespace, 'nft', 'list', 'table', 'inet', 'chaos'],
      {
        encoding: 'utf8',
      },
    );
    return [...listed.stdout.matchAll(/counter packets (\d+)/g)].reduce(
      (sum, match) => sum + Number(match[1]),
      0,
    );
  }

  /** Kills what still runs here (SIGKILL) and waits until it is gone. */
  async killAll(): Promise<void> {
    await Promise.all(
      [...this.processes].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
  }
}

/** A switch and the hosts on it. */
export class Network {
  readonly prefix: string;
  /** The second byte of every address here (10.<subnet>.0.<host>), unique per process. */
  readonly subnet: number;
  readonly switchNamespace: string;
  readonly hosts: Host[] = [];

  constructor() {
    this.subnet = 100 + (process.pid % 150);
    this.prefix = `gs${process.pid}`;
    this.switchNamespace = `${this.prefix}-switch`;
    ip('netns', 'add', this.switchNamespace);
    ip('-n', this.switchNamespace, 'link', 'add', 'br0', 'type', 'bridge');
    ip('-n', this.switchNamespace, 'link', 'set', 'br0', 'up');
    live.add(this);
  }

  /** Adds a host on the switch, with its address and its loopback up. */
  addHost(name: string): Host {
    const host = new Host(this, name, this.hosts.length + 1);
    ip('netns', 'add', host.namespace);
    ip('link', 'add', host.switchPort, 'type', 'veth', 'peer', 'name', `${host.switchPort}h`);
    ip('link', 'set', host.switchPort, 'netns', this.switchNamespace);
    ip('link', 'set', `${host.switchPort}h`, 'netns', host.namespace);
    ip('-n', host.namespace, 'link', 'set', `${host.switchPort}h`, 'name', 'eth0');
    ip('-n', host.namespace, 'addr', 'add', `${host.address}/24`, 'dev', 'eth0');
    ip('-n', host.namespace, 'link', 'set', 'eth0', 'up');
    ip('-n', host.namespace, 'link', 'set', 'lo', 'up');
    ip('-n', this.switchNamespace, 'link', 'set', host.switchPort, 'master', 'br0');
    ip('-n', this.switchNamespace, 'link', 'set', host.switchPort, 'up');
    this.hosts.push(host);
    return host;
  }

  /** Kills every process on every host and deletes every namespace (the cables go with them). */
  async teardown(): Promise<void> {
    live.delete(this);
    await Promise.all(this.hosts.map((host) => host.killAll()));
    for (const namespace of [...this.hosts.map((host) => host.namespace), this.switchNamespace])
      spawnSync('ip', ['netns', 'delete', namespace]);
  }
}

const live = new Set<Network>();
// A test process that dies without its afterAll still leaves no namespace behind.
process.once('exit', () => {
  for (const network of live) {
    for (const host of network.hosts) for (const child of host.processes) child.kill('SIGKILL');
    for (const namespace of [...network.hosts.map((host) => host.namespace), network.switchNamespace])
      spawnSync('ip', ['netns', 'delete', namespace]);
  }
});
