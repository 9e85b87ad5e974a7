/** Units shared by the agent, the extension and the webview: one definition each. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Joules in a kilowatt-hour (agent/store/accounting.ts re-exports it for the agent's accounting). */
export const JOULES_PER_KWH = 3_600_000;
