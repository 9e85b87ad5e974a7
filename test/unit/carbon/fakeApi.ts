/**
 * A local stand-in for the carbon web APIs: node:http on 127.0.0.1 with an ephemeral port. Tests
 * register a handler per path, read `requests` to count calls, and use the fault helpers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { CarbonSourceError } from '../../../agent/carbon/provider';

export interface SeenRequest {
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
}

export type Handler = (req: SeenRequest, res: ServerResponse) => void;

export class FakeApi {
  readonly requests: SeenRequest[] = [];
  private readonly routes = new Map<string, Handler>();
  /** Routes with path parameters, tried in order when no exact path matches. */
  private readonly patterns: Array<{ pattern: RegExp; handler: Handler }> = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<FakeApi> {
    const holder: { api?: FakeApi } = {};
    const server = createServer((req, res) => {
      const api = holder.api!;
      const u = new URL(req.url ?? '/', 'http://127.0.0.1');
      const seen: SeenRequest = { path: u.pathname, query: u.searchParams, headers: req.headers };
      api.requests.push(seen);
      const handler = api.routes.get(u.pathname) ?? api.patterns.find((p) => p.pattern.test(u.pathname))?.handler;
      if (handler) handler(seen, res);
      else json(res, 404, { error: `no route ${u.pathname}` });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    holder.api = new FakeApi(server, `http://127.0.0.1:${port}`);
    return holder.api;
  }

  on(path: string, handler: Handler): this {
    this.routes.set(path, handler);
    return this;
  }

  /** A route with path parameters (the handler parses `req.path`). */
  onMatch(pattern: RegExp, handler: Handler): this {
    this.patterns.push({ pattern, handler });
    return this;
  }

  /** Answers the queued handlers in turn, then repeats the last one. */
  sequence(path: string, handlers: Handler[]): this {
    let i = 0;
    return this.on(path, (req, res) => handlers[Math.min(i++, handlers.length - 1)](req, res));
  }

  count(path: string): number {
    return this.requests.filter((r) => r.path === path).length;
  }

  reset(): void {
    this.requests.length = 0;
    this.routes.clear();
    this.patterns.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

export const ok =
  (body: unknown): Handler =>
  (_req, res) =>
    json(res, 200, body);
export const status =
  (code: number, body: unknown = { error: `status ${code}` }, headers: Record<string, string> = {}): Handler =>
  (_req, res) =>
    json(res, code, body, headers);
/** Never answers (a timeout). */
export const hang: Handler = () => {
  /* keep the socket open */
};
export const malformed: Handler = (_req, res) => json(res, 200, '{"carbonIntensity": 12,');
/** A body of `bytes` bytes. */
export const huge =
  (bytes: number): Handler =>
  (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('[' + '1,'.repeat(Math.floor(bytes / 2)) + '1]');
  };

/** Options for the providers' HTTP layer that keep tests fast: short timeout, no real backoff waits. */
export function fastHttp(sleeps: number[] = []) {
  return {
    timeoutMs: 300,
    backoffBaseMs: 1,
    backoffMaxMs: 5,
    sleep: async (ms: number) => {
      sleeps.push(ms);
    },
    random: () => 0.5,
  };
}

export const HOUR = 3_600_000;
export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Asserts that `p` rejects with a CarbonSourceError of `kind` whose message matches `pattern` and
 * shows none of `secrets` (API keys, passwords, tokens must never reach a message).
 */
export async function expectCarbonError(p: Promise<unknown>, kind: CarbonSourceError['kind'], pattern: RegExp, secrets: RegExp[]): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CarbonSourceError, String(e));
    assert.equal(e.kind, kind, e.message);
    assert.match(e.message, pattern);
    for (const secret of secrets) assert.doesNotMatch(e.message, secret);
    return true;
  });
}
