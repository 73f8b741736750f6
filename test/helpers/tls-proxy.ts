/**
 * TLS in front of a test gearmand, the way such clusters are run: stunnel terminates TLS on a free
 * loopback port and passes the plain Gearman protocol on to gearmand.
 *
 * gearmand 1.1.20 as Debian builds it accepts `--ssl` but has no TLS library behind it: it reads a TLS
 * ClientHello as a packet with a bad magic and hangs up (seen in its log as INVALID_MAGIC). So the TLS
 * tests go through stunnel (OpenSSL) instead; the client's side of them is the same either way.
 *
 * The certificates (a test CA, a server certificate for 127.0.0.1 and localhost, a client certificate)
 * are made with the openssl tool in a temporary directory, removed by `stop()`.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './gearmand.js';

const installed =
  spawnSync('stunnel', ['-version']).error === undefined && spawnSync('openssl', ['version']).status === 0;
if (!installed) {
  const message = 'stunnel and openssl are needed for the TLS tests (apt-get install stunnel4 openssl)';
  if (process.env.CI) throw new Error(`${message}; under CI that is a failure, not a skip`);
  console.warn(`\n*** SKIPPED: ${message} ***\n`);
}

/** Whether the TLS tests can run here. */
export const tlsProxyInstalled = installed;

/** PEM files a TLS client needs. */
export interface TestCertificates {
  /** The test CA, to trust. */
  readonly ca: Buffer;
  /** A client certificate signed by the CA, and its key. */
  readonly cert: Buffer;
  readonly key: Buffer;
  /** A CA that signed nothing here: trusting only it must fail. */
  readonly strangerCa: Buffer;
}

/** A running stunnel in front of a gearmand. */
export interface TlsProxy {
  /** `127.0.0.1:<port>`, speaking TLS. */
  readonly address: string;
  readonly certificates: TestCertificates;
  /** What stunnel logged so far (its errors: a refused handshake says why). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts stunnel on a free port, forwarding to `target` (host:port). With `requireClientCertificate`, a
 * client must show a certificate signed by the test CA (stunnel's `verify = 2`).
 */
export async function startTlsProxy(
  target: string,
  { requireClientCertificate = false } = {},
): Promise<TlsProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'gearshift-tls-'));
  const file = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'ignore' });
  const authority = (name: string) =>
    openssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.pem`),
    );
  const signed = (name: string, extensions?: string) => {
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${name}`,
      '-keyout',
      file(`${name}.key`),
      '-out',
      file(`${name}.csr`),
    );
    openssl(
      'x509',
      '-req',
      '-days',
      '1',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('test-ca.pem'),
      '-CAkey',
      file('test-ca.key'),
      '-CAcreateserial',
      '-out',
      file(`${name}.pem`),
      ...(extensions ? ['-extfile', extensions] : []),
    );
  };
  authority('test-ca');
  authority('stranger-ca');
  writeFileSync(file('server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  signed('server', file('server.ext'));
  signed('client');

  const port = await freePort();
  const [targetHost, targetPort] = target.split(':');
  writeFileSync(
    file('stunnel.conf'),
    [
      'foreground = yes',
      `pid =`,
      'debug = 3',
      `output = ${file('stunnel.log')}`,
      '[gearman]',
      `accept = 127.0.0.1:${port}`,
      `connect = ${targetHost}:${targetPort}`,
      `cert = ${file('server.pem')}`,
      `key = ${file('server.key')}`,
      `CAfile = ${file('test-ca.pem')}`,
      `verify = ${requireClientCertificate ? 2 : 0}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('stunnel', [file('stunnel.conf')], { stdio: 'ignore' });
  try {
    await waitForPort(port, child, 'stunnel');
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    address: `127.0.0.1:${port}`,
    certificates: {
      ca: readFileSync(file('test-ca.pem')),
      cert: readFileSync(file('client.pem')),
      key: readFileSync(file('client.key')),
      strangerCa: readFileSync(file('stranger-ca.pem')),
    },
    log: () => (existsSync(file('stunnel.log')) ? readFileSync(file('stunnel.log'), 'utf8') : ''),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
