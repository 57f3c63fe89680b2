// errors.ts: the library's one error class. Its message names the thing, the value, what was
// expected and, where one exists, a hint — e.g.
//   layer "vision.blocks.12" not found: this model has blocks 0-11 (try --layer vision.blocks.11)
// `code` lets the command-line tools choose an exit status: 'usage' (exit 2) or 'runtime' (exit 1).

export type ErrorCode = 'usage' | 'runtime';

export class DecomcamError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, code: ErrorCode = 'runtime') {
    super(message);
    this.name = 'DecomcamError';
    this.code = code;
  }
}

// fail(...) reads better than `throw new DecomcamError(...)` at validation sites.
export function fail(message: string, code: ErrorCode = 'runtime'): never {
  throw new DecomcamError(message, code);
}
