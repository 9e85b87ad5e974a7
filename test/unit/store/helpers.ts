import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '../../../agent/log';

export function tempDir(prefix = 'chase-store-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(process.env.TMPDIR || tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A logger that keeps what it was told, for assertions on user-facing messages. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    debug: (m) => lines.push(`debug ${m}`),
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m, cause) => lines.push(cause === undefined ? `error ${m}` : `error ${m} ${String(cause)}`),
  };
}

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
