/** Where the history database lives: `--db FILE`, else `history.sqlite` in the agent's state directory. */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defaultStateDir } from '../paths';

export const HISTORY_FILE = 'history.sqlite';

export function defaultHistoryPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  return join(defaultStateDir(env, process.platform, home), HISTORY_FILE);
}
