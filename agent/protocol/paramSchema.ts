/**
 * Building blocks of the wire schemas (valibot): every request's parameters are checked once, on
 * arrival, against the schema declared with its method in messages.ts, and a failure is answered
 * with JSON-RPC InvalidParams and one line a user can act on:
 *
 *   chase/startRun: budgetPct must be a number from 0 to 100 (the allowed slowdown, %) (got "2.5")
 *
 * Each builder takes what the value must be ("a number from 0 to 100 …"); {@link describeIssues}
 * adds where (the field's path) and what came instead. No Node or DOM types here (see messages.ts).
 */
import * as v from 'valibot';

/** A schema whose output is the parameter type `P` (what the handler receives). */
export type ParamsSchema<P> = v.GenericSchema<unknown, P>;

/** Longest string accepted in a field where the protocol sets no other bound (paths, commands, ids). */
export const MAX_TEXT_LENGTH = 4096;

/** A string without NUL (which no path, command or environment entry can hold), at most `maxLength` long. */
export function text(what: string, o: { minLength?: number; maxLength?: number } = {}) {
  return v.pipe(
    v.string(what),
    v.minLength(o.minLength ?? 0, what),
    v.maxLength(o.maxLength ?? MAX_TEXT_LENGTH, what),
    v.check((s) => !s.includes('\0'), what),
  );
}

/** A finite number in [min, max]. JSON has no NaN or Infinity; 1e308 is refused by the bound. */
export function numberIn(min: number, max: number, what: string) {
  return v.pipe(v.number(what), v.finite(what), v.minValue(min, what), v.maxValue(max, what));
}

/** A whole number in [min, max]. */
export function integerIn(min: number, max: number, what: string) {
  return v.pipe(v.number(what), v.integer(what), v.minValue(min, what), v.maxValue(max, what));
}

/** An absolute path (POSIX `/…` or Windows `C:\…` / `\\server\…`): the agent's own working directory means nothing to a client. */
export function absolutePath(what: string) {
  return v.pipe(text(what, { minLength: 1 }), v.regex(/^(\/|[A-Za-z]:[\\/]|\\\\)/, what));
}

/** No parameters: absent, null, `{}` or `[]` (an empty by-position list). */
export const noParams: ParamsSchema<void> = v.pipe(
  v.optional(v.union([v.null(), v.strictObject({}), v.tuple([])], 'absent (this method takes no parameters)')),
  v.transform((): void => undefined),
);

/** How a value is shown in a message: JSON, cut short (it may be huge or hostile). */
export function shown(value: unknown): string {
  if (value === undefined) return 'nothing';
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = String(value);
  }
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

/**
 * One line for a failed check: each problem (at most three) as "PATH must be WHAT (got VALUE)", or
 * "unknown field NAME" for a key the schema does not have. A raw check's message (the settings
 * check) is already a whole sentence and is kept as it is.
 */
export function describeIssues(issues: readonly v.BaseIssue<unknown>[]): string {
  const parts = issues.slice(0, 3).map((issue) => {
    if (issue.type === 'raw_transform' || issue.type === 'raw_check') return issue.message;
    const path = v.getDotPath(issue);
    if (issue.type === 'strict_object' && issue.expected === 'never' && path !== null) {
      return `unknown field "${path}" (check its spelling)`;
    }
    if ((issue.type === 'object' || issue.type === 'strict_object') && path !== null && issue.input === undefined) return `${path} is required`;
    // a check forwarded to a field (e.g. toMs > fromMs) sees the whole object: show the field's value
    const value = issue.path && issue.path.length > 0 ? issue.path[issue.path.length - 1].value : issue.input;
    return `${path ?? 'the parameters'} must be ${issue.message} (got ${shown(value)})`;
  });
  const more = issues.length > 3 ? `; and ${issues.length - 3} more` : '';
  return parts.join('; ') + more;
}

/** Checks `input` against `schema`: the typed value, or the one-line problem. */
export function checkParams<P>(schema: ParamsSchema<P>, input: unknown): { ok: true; value: P } | { ok: false; problem: string } {
  // one message per field: a pipe stops at its first failed check
  const r = v.safeParse(schema, input, { abortPipeEarly: true });
  return r.success ? { ok: true, value: r.output } : { ok: false, problem: describeIssues(r.issues) };
}
