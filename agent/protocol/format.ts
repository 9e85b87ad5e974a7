/**
 * How quantities read: power, energy, carbon, intensity, percentages and UTC times, in the agent's
 * messages and CLI, the extension's status bar, notifications and pickers, and the dashboard. One
 * function per quantity, so the same number reads the same everywhere. No Node, no DOM.
 *
 * Amounts that range over orders of magnitude (energy, grams) get about two significant digits
 * where small (`formatAmount`); settings-like values (a power limit, a slowdown) fixed decimals.
 * Unit conversions are accounting.ts's; this file only writes text.
 */
import { joulesToKwh, joulesToWh, milliwattsToWatts } from './accounting';

/**
 * A kWh or gram amount with about two significant digits where it is small: a short demo run uses
 * 0.0021 kWh and emits 0.52 g, a long one 2.00 kWh and 250 g; a fixed number of decimals would show
 * the first as "0.0" or the second as "250.0000".
 */
export function formatAmount(x: number): string {
  const a = Math.abs(x);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 0.01 || a === 0) return x.toFixed(2);
  // 0.0021 → 4 decimals; never exponent notation, at most 6 decimals (a µWh-scale run reads 0.000000).
  return x.toFixed(Math.min(6, 1 - Math.floor(Math.log10(a))));
}

/** "225 W" from mW (the wire's unit); one decimal where a GPU listing shows 72.5 W. */
export function formatWatts(powerMw: number, decimals = 0): string {
  return `${milliwattsToWatts(powerMw).toFixed(decimals)} W`;
}

/** "0.0021 kWh" from J. */
export function formatKwh(energyJ: number): string {
  return `${formatAmount(joulesToKwh(energyJ))} kWh`;
}

/** "0.12 Wh" from J: what a notebook cell or a short run uses. */
export function formatWh(energyJ: number): string {
  return `${formatAmount(joulesToWh(energyJ))} Wh`;
}

/** "0.52 gCO₂": emissions. */
export function formatCarbon(carbonG: number): string {
  return `${formatAmount(carbonG)} gCO₂`;
}

/** "0.09 g": grams where the sentence already says CO₂ (a saving next to the emissions). */
export function formatGrams(carbonG: number): string {
  return `${formatAmount(carbonG)} g`;
}

/** The unit the extension and the dashboard write intensities in. */
export const INTENSITY_UNIT = 'gCO₂/kWh';

/** An intensity's number: whole grams from 100 g/kWh up, one decimal below (a clean grid reads 35.2). */
export function formatIntensity(gPerKwh: number): string {
  return gPerKwh >= 100 ? gPerKwh.toFixed(0) : gPerKwh.toFixed(1);
}

/** "15.3 %". */
export function formatPct(pct: number, decimals = 1): string {
  return `${pct.toFixed(decimals)} %`;
}

/** "2026-11-27 09:30" (UTC; with `seconds`, "2026-11-27 09:30:15"), for tables whose header says UTC. */
export function formatUtcDateTime(ms: number, options: { seconds?: boolean } = {}): string {
  return new Date(ms).toISOString().slice(0, options.seconds ? 19 : 16).replace('T', ' ');
}

/** "2026-11-27 09:30 UTC". */
export function formatUtc(ms: number): string {
  return `${formatUtcDateTime(ms)} UTC`;
}

/** "09:30": a UTC time of day, where the sentence says UTC. */
export function formatUtcClock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 16);
}
