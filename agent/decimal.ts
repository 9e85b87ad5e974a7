/**
 * Numbers as people write them in a CSV cell or on a command line: "2.5", "-1", "1e3", ".5".
 * `Number()` also reads "" and " " as 0, "0x10" as 16, "0b1" as 1 and "Infinity" as Infinity — all
 * of them mistakes here, so they are not numbers.
 */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The finite number `raw` spells in decimal, or undefined. */
export function parseDecimal(raw: string): number | undefined {
  const s = raw.trim();
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return Number.isFinite(n) ? n : undefined;
}
