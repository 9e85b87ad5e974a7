/**
 * The one HTTP layer of the carbon providers (axios underneath): a GET that returns parsed JSON, with
 *  - a timeout (per request, covering the whole response, not only socket idleness);
 *  - retries with jittered exponential backoff on 429 / 5xx / timeouts / dropped connections,
 *    honouring `Retry-After` (seconds or an HTTP date). A Retry-After longer than `maxRetryAfterMs`
 *    is not waited for: the call fails at once with a 'rate-limited' error saying when to retry, and
 *    later calls fail fast (no request) until then;
 *  - a maximum response size;
 *  - JSON parsing with a clear error, and {@link JsonReader} for checking shapes by hand;
 *  - error messages a user can act on, with every secret redacted.
 *
 * Non-retryable HTTP statuses throw {@link HttpStatusError} (a CarbonSourceError) carrying the status
 * and the API's own message, which each provider maps to its own words.
 *
 * Caching and the offline fallback live one level up (apiProvider.ts), where periods are known.
 */
import axios from 'axios';
import { CarbonSourceError } from './provider';
import { HOUR_MS } from '../protocol/units';
import { formatUtc } from '../protocol/format';

export interface HttpClientOptions {
  /** e.g. "https://api.electricitymaps.com/v3"; request paths are appended to it. */
  baseUrl: string;
  /** The service's name for messages, e.g. "Electricity Maps". */
  service: string;
  /** Whole-request timeout. Default 10 s. */
  timeoutMs?: number;
  /** Retries after the first attempt for transient failures. Default 2. */
  retries?: number;
  /** First backoff (doubled each retry, jittered to 50–100 %). Default 500 ms. */
  backoffBaseMs?: number;
  /** Cap of one backoff wait. Default 8 s. */
  backoffMaxMs?: number;
  /** Longest Retry-After that is waited for in place; a longer one fails the call at once. Default 10 s. */
  maxRetryAfterMs?: number;
  /** No retry is started once this much time has passed since the call began. Default 25 s. */
  maxTotalMs?: number;
  /** Largest accepted body. Default 5 MiB. */
  maxResponseBytes?: number;
  /** Values to redact from every message (API keys, passwords, tokens). Read at each use. */
  secrets?: () => Array<string | undefined>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface GetOptions {
  params?: Record<string, string | number | boolean | undefined>;
  headers?: Record<string, string>;
  /** HTTP Basic credentials (WattTime /login). */
  auth?: { username: string; password: string };
}

/** A non-2xx answer that retrying will not fix (401, 403, 404, 400, …). */
export class HttpStatusError extends CarbonSourceError {
  constructor(
    message: string,
    kind: CarbonSourceError['kind'],
    readonly status: number,
    /** The API's own explanation (its `error` / `message` field), redacted and shortened. */
    readonly apiMessage: string,
    readonly path: string,
  ) {
    super(message, kind);
    this.name = 'HttpStatusError';
  }
}

const DEFAULTS = { timeoutMs: 10_000, retries: 2, maxTotalMs: 25_000, backoffBaseMs: 500, backoffMaxMs: 8_000, maxRetryAfterMs: 10_000, maxResponseBytes: 5 * 1024 * 1024 };

/** Milliseconds to wait from a Retry-After header (delta-seconds or an HTTP date), or undefined if absent/unreadable. */
export function parseRetryAfter(value: unknown, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (typeof raw !== 'string' && typeof raw !== 'number') return undefined;
  const text = String(raw).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isFinite(date) ? Math.max(0, date - nowMs) : undefined;
}

/** Exponential backoff with jitter: base·2^attempt, capped, times a random 50–100 %. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  return Math.round(Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + 0.5 * random()));
}

/** Replaces every occurrence of a secret (4+ characters) with "***". */
export function redact(text: string, secrets: Array<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

function formatWait(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 90_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 90 * 60_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / HOUR_MS).toFixed(1)} h`;
}

/** This machine only: localhost, 127.0.0.0/8 or ::1 (a URL's `hostname`, brackets allowed). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** A base URL, or the error that names chase.carbon.apiBaseUrl. */
export function parseBaseUrl(service: string, baseUrl: string): URL {
  try {
    return new URL(baseUrl);
  } catch {
    throw new CarbonSourceError(`The ${service} base URL "${baseUrl}" is not a valid URL. Fix or clear chase.carbon.apiBaseUrl.`, 'invalid-settings');
  }
}

export class HttpClient {
  /** Requests actually sent (diagnostics and tests). */
  requestCount = 0;
  private rateLimitedUntilMs = 0;
  private readonly o: Required<Omit<HttpClientOptions, 'secrets'>> & Pick<HttpClientOptions, 'secrets'>;
  readonly host: string;
  /** The API is on this machine: reached directly, never through a proxy from the environment. */
  private readonly loopback: boolean;

  constructor(options: HttpClientOptions) {
    this.o = {
      ...DEFAULTS,
      now: Date.now,
      sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      random: Math.random,
      ...stripUndefined(options),
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
    };
    const url = parseBaseUrl(options.service, options.baseUrl);
    this.host = url.host;
    this.loopback = isLoopbackHost(url.hostname);
  }

  get service(): string {
    return this.o.service;
  }

  redact(text: string): string {
    return redact(text, this.o.secrets?.() ?? []);
  }

  /** GET `path` (relative to the base URL) and parse the JSON body. Throws CarbonSourceError only. */
  async getJson(path: string, options: GetOptions = {}): Promise<unknown> {
    const { service } = this.o;
    const url = `${this.o.baseUrl}/${path.replace(/^\/+/, '')}`;
    const startedMs = this.o.now();
    for (let attempt = 0; ; attempt++) {
      const attemptStartMs = this.o.now();
      if (attemptStartMs < this.rateLimitedUntilMs) throw this.rateLimited(this.rateLimitedUntilMs - attemptStartMs);
      const result = await this.once(url, options);
      if (result.kind === 'ok') return this.parse(result.body, path);
      // Another attempt only if the retries allow and it would end within maxTotalMs, assuming it
      // takes as long as this one did.
      const lastMs = this.o.now() - attemptStartMs;
      const canRetry = (waitMs: number) => attempt < this.o.retries && this.o.now() - startedMs + waitMs + lastMs <= this.o.maxTotalMs;
      if (result.kind === 'failed') {
        const waitMs = backoffMs(attempt, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.random);
        if (result.retryable && canRetry(waitMs)) {
          await this.o.sleep(waitMs);
          continue;
        }
        throw result.error;
      }
      // An HTTP status.
      const { status, body, retryAfter } = result;
      const retryable = status === 429 || status >= 500;
      if (!retryable) throw this.statusError(status, body, path);
      const afterMs = parseRetryAfter(retryAfter, this.o.now());
      if (status === 429 && afterMs !== undefined && afterMs > this.o.maxRetryAfterMs) {
        this.rateLimitedUntilMs = this.o.now() + afterMs;
        throw this.rateLimited(afterMs);
      }
      const waitMs = afterMs ?? backoffMs(attempt, this.o.backoffBaseMs, this.o.backoffMaxMs, this.o.random);
      if (!canRetry(waitMs)) {
        if (status === 429) {
          const untilMs = afterMs ?? 60_000;
          this.rateLimitedUntilMs = this.o.now() + untilMs;
          throw this.rateLimited(untilMs);
        }
        throw new CarbonSourceError(
          `${service} is having problems (HTTP ${status} from ${this.host}, ${attempt + 1} attempts). Chase keeps the last reading, marked stale, and tries again next period.`,
          'unavailable',
        );
      }
      await this.o.sleep(waitMs);
    }
  }

  private async once(
    url: string,
    options: GetOptions,
  ): Promise<
    | { kind: 'ok'; body: string }
    | { kind: 'status'; status: number; body: string; retryAfter: unknown }
    | { kind: 'failed'; retryable: boolean; error: CarbonSourceError }
  > {
    const { service, timeoutMs, maxResponseBytes } = this.o;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    this.requestCount++;
    try {
      const res = await axios.request<string>({
        url,
        method: 'GET',
        params: options.params ? stripUndefined(options.params) : undefined,
        headers: { Accept: 'application/json', ...options.headers },
        auth: options.auth,
        timeout: timeoutMs,
        signal: controller.signal,
        responseType: 'text',
        transformResponse: [(d: unknown) => d],
        validateStatus: () => true,
        maxContentLength: maxResponseBytes,
        // No redirects: a redirect to another host would carry the auth-token header with it.
        maxRedirects: 0,
        ...(this.loopback ? { proxy: false as const } : {}),
      });
      const body = typeof res.data === 'string' ? res.data : String(res.data ?? '');
      if (Buffer.byteLength(body) > maxResponseBytes) return { kind: 'failed', retryable: false, error: this.tooLarge() };
      if (res.status >= 200 && res.status < 300) return { kind: 'ok', body };
      return { kind: 'status', status: res.status, body, retryAfter: res.headers['retry-after'] };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      const msg = String(err.message ?? '');
      if (/maxContentLength/i.test(msg)) return { kind: 'failed', retryable: false, error: this.tooLarge() };
      if (timedOut || err.code === 'ECONNABORTED' || err.code === 'ETIMEDOUT') {
        return {
          kind: 'failed',
          retryable: true,
          error: new CarbonSourceError(
            `${service} at ${this.host} did not answer within ${formatWait(timeoutMs)}. Check the network connection or proxy; Chase keeps the last reading, marked stale, and tries again next period.`,
            'unavailable',
          ),
        };
      }
      const code = err.code ?? 'network error';
      return {
        kind: 'failed',
        retryable: true,
        error: new CarbonSourceError(
          `Cannot reach ${service} at ${this.host} (${code}). Check the network connection, proxy or firewall, and chase.carbon.apiBaseUrl if you set it; Chase keeps the last reading, marked stale.`,
          'unavailable',
        ),
      };
    } finally {
      clearTimeout(timer);
    }
  }

  private parse(body: string, path: string): unknown {
    try {
      return JSON.parse(body);
    } catch {
      throw new CarbonSourceError(
        `${this.o.service} sent a response that is not valid JSON (${this.host}/${path.replace(/^\/+/, '')}). This is usually temporary; Chase keeps the last reading, marked stale.`,
        'malformed',
      );
    }
  }

  private tooLarge(): CarbonSourceError {
    return new CarbonSourceError(
      `${this.o.service} at ${this.host} sent a response larger than ${Math.round(this.o.maxResponseBytes / 1024)} KiB; Chase refused it. Check that chase.carbon.apiBaseUrl points at the real API.`,
      'malformed',
    );
  }

  private rateLimited(waitMs: number): CarbonSourceError {
    return new CarbonSourceError(
      `${this.o.service} is rate-limiting requests (HTTP 429). Chase will try again after ${formatUtc(this.o.now() + waitMs)} (in ${formatWait(waitMs)}); if this keeps happening, check what else uses the same account.`,
      'rate-limited',
    );
  }

  private statusError(status: number, body: string, path: string): HttpStatusError {
    const apiMessage = this.redact(extractApiMessage(body)).slice(0, 300);
    const kind: CarbonSourceError['kind'] = status === 401 ? 'auth' : status === 403 ? 'not-in-plan' : status === 404 || status === 400 ? 'unknown-zone' : 'unavailable';
    return new HttpStatusError(
      `${this.o.service} answered HTTP ${status} for ${path.replace(/^\/+/, '').split('?')[0]}${apiMessage ? `: ${apiMessage}` : ''}.`,
      kind,
      status,
      apiMessage,
      path,
    );
  }
}

/** The human part of an API error body: `{"error": "…"}`, `{"error": {"message": "…"}}`, `{"message": "…"}`, or short text. */
export function extractApiMessage(body: string): string {
  try {
    const j = JSON.parse(body) as unknown;
    if (j && typeof j === 'object') {
      const o = j as Record<string, unknown>;
      for (const k of ['error', 'message', 'detail', 'msg']) {
        const v = o[k];
        if (typeof v === 'string') return v;
        if (v && typeof v === 'object' && typeof (v as Record<string, unknown>).message === 'string') return (v as Record<string, string>).message;
      }
    }
  } catch {
    /* not JSON: fall through */
  }
  const text = body.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length <= 200 ? text : '';
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Reads an untrusted JSON value by hand: each accessor checks the type and throws a 'malformed'
 * CarbonSourceError naming the path ("history[3].carbonIntensity") and what was found.
 */
export class JsonReader {
  constructor(
    readonly service: string,
    readonly value: unknown,
    readonly path = 'response',
  ) {}

  private fail(expected: string): never {
    const v = this.value;
    const got = v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'string' ? `"${v.slice(0, 40)}"` : typeof v === 'object' ? 'an object' : typeof v === 'undefined' ? 'missing' : String(v);
    throw new CarbonSourceError(
      `${this.service} sent a response Chase cannot read: ${this.path} should be ${expected} but is ${got}. This is usually temporary; if it persists, the API may have changed — please report it.`,
      'malformed',
    );
  }

  get(key: string): JsonReader {
    if (!this.value || typeof this.value !== 'object' || Array.isArray(this.value)) this.fail('an object');
    return new JsonReader(this.service, (this.value as Record<string, unknown>)[key], `${this.path}.${key}`);
  }

  has(key: string): boolean {
    return !!this.value && typeof this.value === 'object' && !Array.isArray(this.value) && (this.value as Record<string, unknown>)[key] !== undefined;
  }

  isNull(): boolean {
    return this.value === null || this.value === undefined;
  }

  items(): JsonReader[] {
    if (!Array.isArray(this.value)) this.fail('an array');
    return (this.value as unknown[]).map((v, i) => new JsonReader(this.service, v, `${this.path}[${i}]`));
  }

  number(): number {
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) this.fail('a number');
    return this.value as number;
  }

  /** A non-negative, plausible intensity (below 100 000 in g/kWh or lbs/MWh). */
  intensity(): number {
    const n = this.number();
    if (n < 0 || n >= 100_000) this.fail('a plausible intensity (0 to 100 000)');
    return n;
  }

  numberOrNull(): number | null {
    return this.isNull() ? null : this.number();
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail('a string');
    return this.value as string;
  }

  /** An ISO-8601 time → epoch ms. */
  time(): number {
    const s = this.string();
    const t = Date.parse(s);
    if (!Number.isFinite(t)) this.fail('an ISO-8601 time');
    return t;
  }
}
