/**
 * The environment a training job starts with: the agent's own, minus the credentials the agent holds
 * for itself. A job is user code (often a third-party training script or a notebook kernel), and
 * `env`, a crash dump or a logging callback would otherwise print or upload the carbon API keys and
 * the zeusd token. The run's own reporter token (CHASE_RUN_TOKEN) is added after this (runJobEnv).
 */
import { SECRET_ENV_VARS } from '../carbon/secrets';

/** Variables that hold a credential of the agent: the carbon API keys, zeusd's token, any CHASE_*_TOKEN / _PASSWORD. */
export function isAgentSecretVar(name: string): boolean {
  const upper = name.toUpperCase();
  return (Object.values(SECRET_ENV_VARS) as string[]).includes(upper) || upper === 'ZEUSD_TOKEN' || /^CHASE_(\w+_)?(TOKEN|PASSWORD)$/.test(upper);
}

/** `env` without the agent's credentials (a new object; `env` is not changed). */
export function jobEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !isAgentSecretVar(name)));
}

/**
 * The whole environment of a run's job: the agent's own with what the run's request adds (a task's
 * `env`), both less the agent's secrets; then what the run itself adds (the reporter's address and
 * token, the GPUs it may use, a simulated GPU's throughput file); and unbuffered Python output, so
 * that progress bars arrive as they are drawn.
 */
export function runJobEnv(parts: { inherited: NodeJS.ProcessEnv; requested?: Readonly<Record<string, string>>; added?: Readonly<Record<string, string>> }): NodeJS.ProcessEnv {
  return { ...jobEnv({ ...parts.inherited, ...parts.requested }), ...parts.added, PYTHONUNBUFFERED: '1' };
}
