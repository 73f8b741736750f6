/**
 * The console's guard: a token on every request (when one is set), the same origin on every action,
 * and headers that keep a page's data from ever running as code. The token arrives as
 * `Authorization: Bearer <token>`, or as the cookie a browser gets by opening the console once with
 * `?token=<token>` (HttpOnly, SameSite=Strict).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';

const cookieName = 'gearshift_token';

/**
 * The page's policy: its script and style come from the console itself, nothing inline; its data is
 * fetched from the same origin; no frame may hold it.
 */
export const securityHeaders: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
};

/** Whether two secrets are equal, in time that does not depend on where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const { timingSafeEqual } = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The token a request carries, if any: its Authorization header, or the console's cookie. */
function tokenOf(request: IncomingMessage): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length);
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === cookieName) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/**
 * Whether the request may go on. Without a token set, yes. With one, a request that carries it goes on;
 * a page opened with `?token=` gets the cookie and is sent on without it in its address; anything else
 * is answered 401 here.
 */
export function authorized(
  request: IncomingMessage,
  response: ServerResponse,
  url: URL,
  token: string | undefined,
): boolean {
  if (token === undefined) return true;
  const given = url.searchParams.get('token');
  if (given !== null && request.method === 'GET' && sameSecret(given, token)) {
    url.searchParams.delete('token');
    response.writeHead(303, {
      ...securityHeaders,
      location: `${url.pathname}${url.search}`,
      'set-cookie': `${cookieName}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`,
    });
    response.end();
    return false;
  }
  const carried = tokenOf(request);
  if (carried !== undefined && sameSecret(carried, token)) return true;
  response.writeHead(401, {
    ...securityHeaders,
    'content-type': 'application/json',
    'www-authenticate': 'Bearer',
  });
  response.end(
    JSON.stringify({
      error:
        'this console needs its token: open it with ?token=<token>, or send Authorization: Bearer <token>',
    }),
  );
  return false;
}

/**
 * Whether an action comes from the console's own page: its Origin (or, failing that, its Referer) is
 * this host, and it sends JSON (which a cross-site form cannot). Answers 403 when not.
 */
export function sameOrigin(request: IncomingMessage, response: ServerResponse): boolean {
  const host = request.headers.host;
  const from = request.headers.origin ?? request.headers.referer;
  let fromHost: string | undefined;
  try {
    fromHost = from === undefined ? undefined : new URL(from).host;
  } catch {
    fromHost = undefined;
  }
  const json = (request.headers['content-type'] ?? '').startsWith('application/json');
  if (host !== undefined && fromHost === host && json) return true;
  response.writeHead(403, { ...securityHeaders, 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: 'an action must come from the console itself (same origin, JSON)' }));
  return false;
}
