/** Where the history database lives: `--db FILE`, else `$CHASE_STATE_DIR/history.sqlite`, else the XDG state dir. */
import { homedir } from 'node:os';
import { join } from 'node:path';

export const HISTORY_FILE = 'history.sqlite';

export function defaultHistoryPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (env.CHASE_STATE_DIR) return join(env.CHASE_STATE_DIR, HISTORY_FILE);
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'chase', HISTORY_FILE);
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'chase', HISTORY_FILE);
  return join(home, '.local', 'state', 'chase', HISTORY_FILE);
}
