// errors.ts: the library's one error class. Its message names the thing, the value, what was
// expected and, where one exists, a hint — e.g.
//   layer "vision.blocks.12" not found: this model has blocks 0-11 (try --layer vision.blocks.11)
// `code` lets the command-line tools choose an exit status: 'usage' (exit 2) or 'runtime' (exit 1).

/** Why a DecomcamError was raised: 'usage' (a caller's mistake, exit 2) or 'runtime' (exit 1). */
export type ErrorCode = 'usage' | 'runtime';

/** The library's one error class; code picks the command-line exit status. */
export class DecomcamError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'runtime') {
    super(message);
    this.name = 'DecomcamError';
    this.code = code;
  }
}

/**
 * fail(...) reads better than `throw new DecomcamError(...)` at validation sites.
 */
export function fail(message: string, code: ErrorCode = 'runtime'): never {
  throw new DecomcamError(message, code);
}

/**
 * A short, bounded description of a value read from a file (safetensors header, config.json) for an error
 * message: a hostile file may hold a value nested 10,000 deep (JSON.stringify would overflow the stack) or
 * megabytes long. Missing values say so; numbers JSON cannot hold (1e400 parses to Infinity) say what they became.
 */
export function describeJson(v: unknown, depth = 0): string {
  if (v === undefined) return 'missing';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : `${v} (a number too large for a double)`;
  if (typeof v !== 'object' || v === null) return String(v);
  if (Array.isArray(v)) {
    if (depth >= 2) return v.length === 0 ? '[]' : '[...]';
    const items = v.slice(0, 6).map((x) => describeJson(x, depth + 1));
    return `[${items.join(', ')}${v.length > 6 ? `, ... (${v.length} items)` : ''}]`;
  }
  const keys = Object.keys(v);
  if (depth >= 2) return keys.length === 0 ? '{}' : '{...}';
  const items = keys.slice(0, 4).map((k) => `${describeJson(k)}: ${describeJson((v as Record<string, unknown>)[k], depth + 1)}`);
  return `{${items.join(', ')}${keys.length > 4 ? `, ... (${keys.length} keys)` : ''}}`;
}
