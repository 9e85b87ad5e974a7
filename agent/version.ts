/** The agent's version: injected by esbuild from package.json; "0.0.0-dev" when run from tsc output. */
declare const CHASE_VERSION: string | undefined;
export const agentVersion: string = typeof CHASE_VERSION === 'string' ? CHASE_VERSION : '0.0.0-dev';
