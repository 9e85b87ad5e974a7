/**
 * Runs `chase-agent ARGS` in this process (agent/main.ts's main: the same parsing and messages as
 * the binary, without a Node start-up per case), capturing stdout and stderr; `env` is set for the
 * call only. For tests of the CLI's answers; spawn dist/agent.js where a hang or an exit matters.
 */
import { main } from '../../agent/main';

export async function cliInProcess(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { code: 0, stdout: '', stderr: '' };
  const saved = { stdout: process.stdout.write.bind(process.stdout), stderr: process.stderr.write.bind(process.stderr), env: { ...process.env } };
  process.stdout.write = ((chunk: string | Uint8Array) => ((out.stdout += chunk.toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => ((out.stderr += chunk.toString()), true)) as typeof process.stderr.write;
  Object.assign(process.env, env);
  try {
    out.code = await main(args);
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    for (const k of Object.keys(process.env)) if (!(k in saved.env)) delete process.env[k];
    Object.assign(process.env, saved.env);
  }
  return out;
}
