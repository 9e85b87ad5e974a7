/**
 * Runs the agent (dist/agent.js) through vscode-languageclient over Node IPC and keeps it running.
 * The agent always runs as the user, started here: with `chase.agent.socket` set, it has the
 * privileged limits service on that socket set the GPUs' power limits (env CHASE_AGENT_SOCKET;
 * docs/gpu.md, "Trust model"); the editor never speaks to a root process itself.
 *
 * States (reported as ClientState): starting → running ⇄ agent-down. When the agent exits
 * unexpectedly the client does not use languageclient's own restart (it gives up after a few tries
 * and shows nothing in the status bar); it reports `agent-down` at once — so no stale number stays
 * on screen — and starts a fresh client after a backoff of 1, 2, 4 … 60 s, reset once an agent has
 * stayed up for a minute.
 */
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  State,
  TransportKind,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import { AgentErrorCodes, isAgentErrorCode, Methods, type AgentErrorCode, type AgentSettings, type GpusResult, type RequestMethod, type RunOutput, type RunSummary } from '../agent/protocol/messages';
import { onNotification, sendRequest, type ParamsArgs } from '../agent/protocol/typedRpc';
import type { ClientState } from './statusModel';

const BACKOFF_START_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
const HEALTHY_AFTER_MS = 60_000;

export class AgentClient implements vscode.Disposable {
  private client: LanguageClient | undefined;
  private state: ClientState = { kind: 'starting' };
  private readonly stateEmitter = new vscode.EventEmitter<ClientState>();
  readonly onDidChangeState = this.stateEmitter.event;
  private readonly runOutputEmitter = new vscode.EventEmitter<RunOutput>();
  readonly onRunOutput = this.runOutputEmitter.event;
  private readonly runUpdatedEmitter = new vscode.EventEmitter<RunSummary>();
  readonly onRunUpdated = this.runUpdatedEmitter.event;
  private backoffMs = BACKOFF_START_MS;
  private restartTimer: NodeJS.Timeout | undefined;
  private startedAtMs = 0;
  private disposed = false;
  private settings: AgentSettings | undefined;
  private gpus: GpusResult | undefined;
  private readonly live = new Map<string, RunSummary>();

  constructor(
    private readonly agentModule: string,
    private readonly log: vscode.LogOutputChannel,
    /** The limits service's socket (chase.agent.socket), read at each (re)start and handed to the agent. */
    private readonly socketPath: () => string | undefined = () => undefined,
  ) {}

  get currentState(): ClientState {
    return this.state;
  }

  /** Runs the agent reported and that have not finished or failed yet (kept before onRunUpdated fires). */
  get reportedLiveRuns(): RunSummary[] {
    return [...this.live.values()];
  }

  /** Starts (or restarts) the agent with these settings. Never throws: failures become state. */
  async start(settings: AgentSettings): Promise<void> {
    this.settings = settings;
    this.clearRestartTimer();
    await this.stopClient();
    if (this.disposed) return;
    this.setState({ kind: 'starting' });
    this.gpus = undefined; // the previous agent's GPUs (and notes) are not this one's
    const client = this.createClient(settings);
    this.client = client;
    this.startedAtMs = Date.now();
    try {
      await client.start();
      if (this.client !== client) return;
      const [status, gpus] = await Promise.all([sendRequest(client, Methods.carbonStatus), sendRequest(client, Methods.gpus)]);
      this.gpus = gpus;
      if (gpus.gpus.some((g) => g.control === 'advise')) this.log.warn(`GPU control: advise mode. ${gpus.gpus.find((g) => g.control === 'advise')?.reason ?? ''}`);
      if (this.client !== client) return;
      // a carbonStatusChanged from the new agent may have made the state 'running' already, without GPUs
      if (this.state.kind === 'starting') this.setState({ kind: 'running', carbon: status, gpus });
      else if (this.state.kind === 'running') this.setState({ ...this.state, gpus });
    } catch (e) {
      if (this.client !== client) return;
      this.log.error(`Chase agent failed to start: ${String(e)}`);
      this.agentDown(`The agent failed to start: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Sends new settings to the running agent; starts it if it is down. */
  async configure(settings: AgentSettings): Promise<void> {
    const client = this.client;
    // A change that leaves the agent's settings as they are (a display-only setting such as
    // chase.statusBar.*, a secret set to the same value) must not restart the carbon source.
    const unchanged = this.currentState.kind === 'running' && JSON.stringify(settings) === JSON.stringify(this.settings);
    this.settings = settings;
    if (!client || client.state !== State.Running) return this.start(settings);
    if (unchanged) return;
    try {
      const result = await sendRequest(client, Methods.configure, settings);
      this.setState({ kind: 'running', carbon: result.status, ...(this.gpus ? { gpus: this.gpus } : {}) });
    } catch (e) {
      this.log.error(`configure failed: ${String(e)}`);
      this.setState({ kind: 'running', carbon: { state: 'error', code: configureErrorCode(e), message: e instanceof Error ? e.message : String(e) } });
    }
  }

  /** Shows settings problems instead of a reading; the agent keeps running with its last settings. */
  reportInvalidSettings(problems: string[]): void {
    this.setState({ kind: 'invalid-settings', problems });
  }

  async restart(): Promise<void> {
    this.backoffMs = BACKOFF_START_MS;
    if (this.settings) await this.start(this.settings);
  }

  /**
   * Sends a request to the running agent: `request(Methods.intensitySeries, { pastHours, futureHours })`.
   * The method object fixes its parameters and its result (agent/protocol/messages.ts).
   */
  async request<P, R>(method: RequestMethod<P, R>, ...params: ParamsArgs<P>): Promise<R> {
    const client = this.client;
    if (!client || client.state !== State.Running) throw new Error('The Chase agent is not running.');
    return sendRequest(client, method, ...params);
  }

  private createClient(settings: AgentSettings): LanguageClient {
    const socket = this.socketPath();
    // the agent reads CHASE_AGENT_SOCKET (and only that) to delegate limits; unset, it sets them itself or advises
    const env = { ...process.env, CHASE_AGENT_SOCKET: socket ?? '' };
    const serverOptions: ServerOptions = {
      run: { module: this.agentModule, transport: TransportKind.ipc, args: ['serve'], options: { env } },
      debug: { module: this.agentModule, transport: TransportKind.ipc, args: ['serve'], options: { env, execArgv: ['--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      documentSelector: [],
      outputChannel: this.log,
      initializationOptions: { settings },
      connectionOptions: { maxRestartCount: 0 },
      errorHandler: {
        error: (error) => {
          this.log.error(`agent connection error: ${error.message}`);
          return { action: ErrorAction.Continue };
        },
        closed: () => {
          if (!this.disposed && this.client === client) this.agentDown('The agent process exited unexpectedly.');
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
    };
    const client = new LanguageClient('chase', 'Chase agent', serverOptions, clientOptions);
    onNotification(client, Methods.runOutput, (o) => this.runOutputEmitter.fire(o));
    onNotification(client, Methods.runUpdated, (r) => {
      if (r.state === 'finished' || r.state === 'failed') this.live.delete(r.id);
      else this.live.set(r.id, r);
      this.runUpdatedEmitter.fire(r);
    });
    onNotification(client, Methods.carbonStatusChanged, (status) => {
      if (this.client === client && this.state.kind !== 'invalid-settings') this.setState({ kind: 'running', carbon: status, ...(this.gpus ? { gpus: this.gpus } : {}) });
    });
    return client;
  }

  private agentDown(message: string): void {
    if (Date.now() - this.startedAtMs > HEALTHY_AFTER_MS) this.backoffMs = BACKOFF_START_MS;
    const delayMs = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
    this.log.warn(`${message} Restarting in ${delayMs} ms.`);
    this.setState({ kind: 'agent-down', message, retryInMs: delayMs });
    this.clearRestartTimer();
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.settings && !this.disposed) void this.start(this.settings);
    }, delayMs);
  }

  private clearRestartTimer(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    try {
      if (client.state === State.Running) await client.stop(2000);
      else await client.dispose(2000);
    } catch (e) {
      this.log.warn(`stopping the previous agent: ${String(e)}`);
    }
  }

  private setState(state: ClientState): void {
    this.state = state;
    this.stateEmitter.fire(state);
  }

  /** For deactivate(): stop the agent cleanly so it restores anything it changed. */
  async stop(): Promise<void> {
    this.disposed = true;
    this.clearRestartTimer();
    await this.stopClient();
  }

  dispose(): void {
    void this.stop();
    this.stateEmitter.dispose();
    this.runOutputEmitter.dispose();
    this.runUpdatedEmitter.dispose();
  }
}

/** The code of a failed `configure`: the agent's own, or invalid settings (the agent answers bad settings with InvalidParams). */
function configureErrorCode(e: unknown): AgentErrorCode {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && isAgentErrorCode(code) ? code : AgentErrorCodes.invalidSettings;
}
