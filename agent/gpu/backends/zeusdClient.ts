/**
 * HTTP client for zeusd (ml-energy/zeus, folder `zeusd/`), the Zeus project's privileged daemon.
 * Shapes are taken from zeusd's own source at its release tags; the test stand-ins
 * (test/unit/gpu/fixtures/zeusdStandIn.ts) cite the file per route.
 *
 * Two released API generations, told apart by `GET /discover` (zeusd/src/routes/server.rs):
 *
 *   zeusd 0.4.x  { gpu_ids: [0,1], cpu_ids, dram_available, enabled_api_groups, auth_required }
 *                GPU reads: /gpu/get_cumulative_energy, /gpu/get_power (no power-limit reads)
 *   zeusd 0.5.x  { gpus: [{ id, name }], cpus: [{ id, dram_available }], enabled_api_groups, auth_required }
 *                adds /gpu/get_power_limit, /gpu/get_power_limit_constraints, /gpu/get_persistence_mode;
 *                zeusd's main branch (after 0.5.0) adds `pci_address` and `cumulative_energy_available`
 *                to each GPU.
 *
 * Both: `POST /gpu/set_power_limit?gpu_ids=0,1&power_limit_mw=N&block=true` (query only, empty
 * body); JWT auth (`--signing-key-path`) on everything but /discover and /time, `GET /auth/whoami`
 * returns the token's `{ sub, scopes, exp? }`; errors are `{ "error": "..." }`,
 * `{ "errors": { "<gpu id>": "..." } }`, or actix-web's plain-text body for query-parsing and
 * `ZeusdError` results (e.g. "GPU index 5 does not exist.").
 *
 * Where to find zeusd, as Zeus's own client reads it (zeus/utils/zeusd.py `ZeusdConfig.from_env`,
 * zeus v0.16.0): `ZEUSD_SOCK_PATH` (Unix socket) first, then `ZEUSD_HOST_PORT` (`host:port`, TCP),
 * token `ZEUSD_TOKEN` sent as `Authorization: Bearer <token>`. Chase's own `CHASE_ZEUSD_SOCKET` and
 * `CHASE_ZEUSD_TOKEN` come first.
 */
import { request, type RequestOptions } from 'node:http';
import { spawnSync } from 'node:child_process';
import { GpuError } from '../errors';

export type ZeusdEndpoint = { kind: 'unix'; socketPath: string } | { kind: 'tcp'; host: string; port: number };

export interface ZeusdSettings {
  endpoint: ZeusdEndpoint;
  token?: string;
  /** The environment variable the endpoint came from (for messages). */
  source: string;
}

export type ZeusdErrorCode =
  | 'ZEUSD_UNREACHABLE'
  | 'ZEUSD_UNAUTHORIZED'
  | 'ZEUSD_FORBIDDEN'
  | 'ZEUSD_GROUP_DISABLED'
  | 'ZEUSD_ROUTE_MISSING'
  | 'ZEUSD_REJECTED'
  | 'ZEUSD_FAILED'
  | 'ZEUSD_BAD_RESPONSE'
  | 'ZEUSD_UNSUPPORTED';

export class ZeusdError extends GpuError {
  constructor(
    message: string,
    /** HTTP status; 0 when zeusd did not answer. */
    readonly status: number,
    code: ZeusdErrorCode,
    cause?: unknown,
  ) {
    super(message, code, { cause });
    this.name = 'ZeusdError';
  }
}

/** "/run/zeusd/zeusd.sock" or "node1:4938". */
export function describeEndpoint(e: ZeusdEndpoint): string {
  return e.kind === 'unix' ? e.socketPath : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/**
 * `host:port` as Zeus builds its URL (`http://{host_port}{path}`): a missing port is HTTP's 80,
 * IPv6 hosts are bracketed. Anything else (a scheme, a path) is a configuration error.
 */
export function parseHostPort(value: string, variable: string): { host: string; port: number } {
  let url: URL | undefined;
  try {
    url = new URL(`http://${value}`);
  } catch {
    url = undefined;
  }
  if (!url || url.pathname !== '/' || url.search || url.hash || url.username || url.password || !url.hostname) {
    throw new GpuError(`${variable} must be host:port (for example node1:4938 or [::1]:4938), got "${value}".`, 'BAD_CONFIG');
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port ? Number(url.port) : 80 };
}

/** Where zeusd is, from Chase's variables, then Zeus's own; undefined when none is set. */
export function zeusdSettingsFromEnv(env: NodeJS.ProcessEnv): ZeusdSettings | undefined {
  const token = env.CHASE_ZEUSD_TOKEN || env.ZEUSD_TOKEN || undefined;
  for (const variable of ['CHASE_ZEUSD_SOCKET', 'ZEUSD_SOCK_PATH'] as const) {
    const socketPath = env[variable];
    if (socketPath) return { endpoint: { kind: 'unix', socketPath }, token, source: variable };
  }
  const hostPort = env.ZEUSD_HOST_PORT;
  if (hostPort) return { endpoint: { kind: 'tcp', ...parseHostPort(hostPort, 'ZEUSD_HOST_PORT') }, token, source: 'ZEUSD_HOST_PORT' };
  return undefined;
}

/** The zeusd API generation, from the shape of /discover. */
export type ZeusdApi = '0.4' | '0.5';

export interface ZeusdGpu {
  id: number;
  name?: string;
  /** "0000:01:00.0" (zeusd after 0.5.0). */
  pciAddress?: string;
  /** Whether zeusd trusts the GPU's energy counter (zeusd after 0.5.0). */
  cumulativeEnergyAvailable?: boolean;
}

export interface ZeusdDiscovery {
  api: ZeusdApi;
  gpus: ZeusdGpu[];
  enabledApiGroups: string[];
  authRequired: boolean;
}

export interface ZeusdWhoami {
  sub: string;
  scopes: string[];
  exp?: number;
}

type Query = Record<string, string | number | boolean>;
type JsonObject = Record<string, unknown>;

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);
const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

function pathWithQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = Object.entries(query)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
    .join('&');
  return `${path}?${qs}`;
}

/** zeusd's error body: `{error}`, `{errors: {gpu: text}}`, or actix-web's plain text. */
function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (isObject(parsed) && typeof parsed.error === 'string') return parsed.error;
    if (isObject(parsed) && isObject(parsed.errors)) {
      return Object.entries(parsed.errors)
        .map(([gpu, text]) => `GPU ${gpu}: ${String(text)}`)
        .join('; ');
    }
  } catch {
    /* plain text */
  }
  return body.trim();
}

const TOKEN_HELP = 'Set CHASE_ZEUSD_TOKEN (or ZEUSD_TOKEN) to a token from `zeusd token issue --user $USER --scope gpu-read,gpu-control --expires 30d`.';

/** One line for a failed zeusd request: what happened, and what to do. */
export function zeusdFailure(where: string, method: string, path: string, status: number, body: string): ZeusdError {
  const detail = errorDetail(body);
  const at = `${where} answered ${status} to ${method} ${path}`;
  if (status === 401) return new ZeusdError(`${at}: ${detail || 'authentication required'}. ${TOKEN_HELP}`, status, 'ZEUSD_UNAUTHORIZED');
  if (status === 403) {
    if (/lacks required scope/.test(detail)) {
      return new ZeusdError(`${at}: ${detail}. Issue a token with the scope it names (\`zeusd token issue --scope gpu-read,gpu-control\`).`, status, 'ZEUSD_FORBIDDEN');
    }
    // NVML's NO_PERMISSION inside zeusd: zeusd itself lacks root / CAP_SYS_ADMIN (e.g. in a container).
    return new ZeusdError(`${at}: ${detail}. zeusd itself is not allowed to change this GPU: run zeusd as root (with CAP_SYS_ADMIN).`, status, 'ZEUSD_FORBIDDEN');
  }
  if (status === 404) {
    const group = /API group '([^']+)' is not enabled/.exec(detail)?.[1];
    if (group) return new ZeusdError(`${at}: ${detail} Start zeusd with \`--enable gpu-control,gpu-read\` (it now has ${group} off).`, status, 'ZEUSD_GROUP_DISABLED');
    return new ZeusdError(`${at}: zeusd does not serve this route (${detail || 'no such route'}); this zeusd release is older than the one Chase expected. Update zeusd (0.4 or later; 0.5 for limit reads without NVML).`, status, 'ZEUSD_ROUTE_MISSING');
  }
  if (status >= 400 && status < 500) return new ZeusdError(`${at}: ${detail || 'bad request'}`, status, 'ZEUSD_REJECTED');
  return new ZeusdError(`${at}: ${detail || 'internal error'}. Check zeusd's log (\`journalctl -u zeusd\`).`, status, 'ZEUSD_FAILED');
}

/** Reads `/discover` (both generations); throws ZEUSD_UNSUPPORTED on a shape neither has. */
export function parseDiscovery(body: unknown, where: string): ZeusdDiscovery {
  const unsupported = (why: string): ZeusdError =>
    new ZeusdError(
      `${where} answered GET /discover with a shape this Chase does not know (${why}). Chase supports zeusd 0.4.x and 0.5.x; update zeusd (or Chase).`,
      200,
      'ZEUSD_UNSUPPORTED',
    );
  if (!isObject(body)) throw unsupported('not a JSON object');
  const groups = body.enabled_api_groups;
  if (!Array.isArray(groups) || !groups.every((g) => typeof g === 'string')) {
    throw unsupported(`no enabled_api_groups; keys: ${Object.keys(body).join(', ') || 'none'} — zeusd before 0.4 has no API groups or auth`);
  }
  const authRequired = body.auth_required === true;
  if (Array.isArray(body.gpus)) {
    const gpus = body.gpus.map((g: unknown): ZeusdGpu => {
      if (!isObject(g) || !isIndex(g.id)) throw unsupported('a GPU entry without an integer id');
      const gpu: ZeusdGpu = { id: g.id };
      if (typeof g.name === 'string') gpu.name = g.name;
      if (typeof g.pci_address === 'string') gpu.pciAddress = g.pci_address;
      if (typeof g.cumulative_energy_available === 'boolean') gpu.cumulativeEnergyAvailable = g.cumulative_energy_available;
      return gpu;
    });
    return { api: '0.5', gpus, enabledApiGroups: groups as string[], authRequired };
  }
  if (Array.isArray(body.gpu_ids)) {
    if (!body.gpu_ids.every(isIndex)) throw unsupported('gpu_ids holds something other than GPU indices');
    return { api: '0.4', gpus: (body.gpu_ids as number[]).map((id) => ({ id })), enabledApiGroups: groups as string[], authRequired };
  }
  throw unsupported(`neither gpus nor gpu_ids; keys: ${Object.keys(body).join(', ')}`);
}

/** A field of one GPU in zeusd's per-GPU map (`{"0": {"power_limit_mw": n}}`), checked. */
function perGpuNumber(body: unknown, id: number, field: string, where: string, path: string): number {
  const entry = isObject(body) ? body[String(id)] : undefined;
  const value = isObject(entry) ? entry[field] : undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ZeusdError(`${where} answered ${path} without ${field} for GPU ${id}.`, 200, 'ZEUSD_BAD_RESPONSE');
  }
  return value;
}

function connectOptions(endpoint: ZeusdEndpoint): RequestOptions {
  return endpoint.kind === 'unix' ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port };
}

/** Minimal HTTP/1.1 client for zeusd, over its Unix socket or TCP. */
export class ZeusdClient {
  /** "zeusd at /run/zeusd/zeusd.sock". */
  readonly where: string;

  constructor(
    readonly settings: Omit<ZeusdSettings, 'source'> & { source?: string },
    private readonly timeoutMs = 5000,
  ) {
    this.where = `zeusd at ${describeEndpoint(settings.endpoint)}`;
  }

  get hasToken(): boolean {
    return Boolean(this.settings.token);
  }

  private headers(): Record<string, string> {
    // zeusd reads no body; content-length 0 keeps the POST well-formed.
    return { 'content-length': '0', ...(this.settings.token ? { authorization: `Bearer ${this.settings.token}` } : {}) };
  }

  request<T>(method: 'GET' | 'POST', path: string, query?: Query): Promise<T> {
    const full = pathWithQuery(path, query);
    return new Promise<T>((resolve, reject) => {
      const req = request({ ...connectOptions(this.settings.endpoint), method, path: full, headers: this.headers(), timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            reject(zeusdFailure(this.where, method, path, status, body));
            return;
          }
          try {
            resolve((body ? JSON.parse(body) : undefined) as T);
          } catch (e) {
            reject(new ZeusdError(`${this.where} sent a body that is not JSON for ${path}.`, status, 'ZEUSD_BAD_RESPONSE', e));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (e) => reject(this.unreachable(e.message, e)));
      req.end();
    });
  }

  private unreachable(reason: string, cause?: unknown): ZeusdError {
    const how = this.settings.endpoint.kind === 'unix' ? 'and may this user open its socket' : 'and listening on that address (`zeusd serve --mode tcp`)';
    return new ZeusdError(`Cannot reach ${this.where} (${reason}). Is zeusd running (\`systemctl status zeusd\`), ${how}?`, 0, 'ZEUSD_UNREACHABLE', cause);
  }

  /**
   * The same request, but blocking: a child Node process does the HTTP exchange while this thread
   * waits. Only for `process.on('exit')` and signal handlers (restoring limits), where the event
   * loop will not run again.
   */
  requestSync(method: 'GET' | 'POST', path: string, query?: Query): void {
    const script = `
      const http = require('node:http');
      const a = JSON.parse(process.argv[1]);
      const req = http.request({ ...a.connect, method: a.method, path: a.path, headers: a.headers, timeout: a.timeoutMs }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => { process.stdout.write(JSON.stringify({ status: res.statusCode, body })); });
      });
      req.on('timeout', () => req.destroy(new Error('no answer within ' + a.timeoutMs + ' ms')));
      req.on('error', (e) => { process.stdout.write(JSON.stringify({ status: 0, body: e.message })); });
      req.end();`;
    const args = JSON.stringify({ connect: connectOptions(this.settings.endpoint), method, path: pathWithQuery(path, query), headers: this.headers(), timeoutMs: this.timeoutMs });
    // ELECTRON_RUN_AS_NODE: under VS Code's Electron, process.execPath is Electron itself.
    const r = spawnSync(process.execPath, ['-e', script, args], { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, timeout: this.timeoutMs + 2000, encoding: 'utf8' });
    let answer: { status: number; body: string } | undefined;
    try {
      answer = JSON.parse(r.stdout) as { status: number; body: string };
    } catch {
      answer = undefined;
    }
    if (!answer) throw this.unreachable(r.error?.message ?? (r.stderr.trim() || `helper process ended with ${r.status ?? r.signal}`), r.error);
    if (answer.status === 0) throw this.unreachable(answer.body);
    if (answer.status < 200 || answer.status >= 300) throw zeusdFailure(this.where, method, path, answer.status, answer.body);
  }

  async discover(): Promise<ZeusdDiscovery> {
    return parseDiscovery(await this.request<unknown>('GET', '/discover'), this.where);
  }

  /** The token's identity and scopes (zeusd/src/routes/server.rs `whoami_handler`; needs auth on). */
  async whoami(): Promise<ZeusdWhoami> {
    const body = await this.request<unknown>('GET', '/auth/whoami');
    if (!isObject(body) || typeof body.sub !== 'string' || !Array.isArray(body.scopes)) {
      throw new ZeusdError(`${this.where} answered /auth/whoami without sub and scopes.`, 200, 'ZEUSD_BAD_RESPONSE');
    }
    return { sub: body.sub, scopes: body.scopes.map(String), exp: typeof body.exp === 'number' ? body.exp : undefined };
  }

  /** zeusd 0.5+. */
  async getPowerLimitMw(id: number): Promise<number> {
    const path = '/gpu/get_power_limit';
    return perGpuNumber(await this.request<unknown>('GET', path, { gpu_ids: id }), id, 'power_limit_mw', this.where, path);
  }

  /** zeusd 0.5+. */
  async getConstraintsMw(ids: number[]): Promise<Map<number, { minMw: number; maxMw: number }>> {
    const path = '/gpu/get_power_limit_constraints';
    const body = await this.request<unknown>('GET', path, { gpu_ids: ids.join(',') });
    return new Map(ids.map((id) => [id, { minMw: perGpuNumber(body, id, 'min_power_limit_mw', this.where, path), maxMw: perGpuNumber(body, id, 'max_power_limit_mw', this.where, path) }]));
  }

  async getCumulativeEnergyMj(id: number): Promise<number> {
    const path = '/gpu/get_cumulative_energy';
    return perGpuNumber(await this.request<unknown>('GET', path, { gpu_ids: id }), id, 'energy_mj', this.where, path);
  }

  async getPowerMw(id: number): Promise<number> {
    const path = '/gpu/get_power';
    const body = await this.request<unknown>('GET', path, { gpu_ids: id });
    // { timestamp_ms, power_mw: { "0": n } } (zeusd/src/devices/gpu/power.rs GpuPowerSnapshot)
    const powerMw = isObject(body) && isObject(body.power_mw) ? body.power_mw[String(id)] : undefined;
    if (typeof powerMw !== 'number' || !Number.isFinite(powerMw)) throw new ZeusdError(`${this.where} answered ${path} without power_mw for GPU ${id}.`, 200, 'ZEUSD_BAD_RESPONSE');
    return powerMw;
  }

  setPowerLimit(ids: number[], limitMw: number): Promise<void> {
    return this.request('POST', '/gpu/set_power_limit', { gpu_ids: ids.join(','), power_limit_mw: Math.round(limitMw), block: true });
  }

  setPowerLimitSync(ids: number[], limitMw: number): void {
    this.requestSync('POST', '/gpu/set_power_limit', { gpu_ids: ids.join(','), power_limit_mw: Math.round(limitMw), block: true });
  }
}
