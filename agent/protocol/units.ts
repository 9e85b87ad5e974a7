/** Units shared by the agent, the extension and the webview: one definition each. */
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Joules in a kilowatt-hour (the conversions that use it: accounting.ts). */
export const JOULES_PER_KWH = 3_600_000;
/** Joules in a watt-hour. */
export const JOULES_PER_WH = 3600;

/**
 * Plausibility bound for a grid's carbon intensity, gCO₂/kWh. Coal plants emit about 1000, lignite
 * up to about 1300, marginal (MOER) signals of coal-heavy grids stay below 2000; a value above 3000
 * is a unit mistake (g/MWh, lbs) or a corrupt file, and is refused with this bound named.
 */
export const MAX_INTENSITY_G_PER_KWH = 3000;
