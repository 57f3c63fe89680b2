// platform/shims/zlib.ts: node:zlib in the browser bundle — the synchronous calls the library makes
// (inflateSync for PNG, inflateRawSync for zip entries, gunzipSync for openai/CLIP's BPE file), with Node's
// behaviour at its edges: maxOutputLength past which an ERR_BUFFER_TOO_LARGE RangeError is thrown, and
// finishFlush Z_SYNC_FLUSH returning what a stream cut short had inflated. The inflating is platform/inflate.ts.

import { inflate, InflateError, type InflateOptions } from '../inflate.js';

/** The one zlib constant the library uses. */
export const constants = { Z_SYNC_FLUSH: 2, Z_FINISH: 4 };

interface ZlibOptions { finishFlush?: number; maxOutputLength?: number }

function run(input: Uint8Array, format: InflateOptions['format'], options: ZlibOptions = {}): Uint8Array {
  try {
    return inflate(input, { format, maxOutput: options.maxOutputLength, partial: options.finishFlush === constants.Z_SYNC_FLUSH });
  } catch (e) {
    if (!(e instanceof InflateError)) throw e;
    const err = e.reason === 'too-large'
      ? Object.assign(new RangeError(`Cannot create a Buffer larger than ${options.maxOutputLength} bytes`), { code: 'ERR_BUFFER_TOO_LARGE' })
      : Object.assign(new Error(e.message), { code: e.reason === 'truncated' ? 'Z_BUF_ERROR' : 'Z_DATA_ERROR' });
    throw err;
  }
}

/** zlib-wrapped DEFLATE. */
export function inflateSync(input: Uint8Array, options?: ZlibOptions): Uint8Array {
  return run(input, 'zlib', options);
}

/** Raw DEFLATE. */
export function inflateRawSync(input: Uint8Array, options?: ZlibOptions): Uint8Array {
  return run(input, 'raw', options);
}

/** gzip. */
export function gunzipSync(input: Uint8Array, options?: ZlibOptions): Uint8Array {
  return run(input, 'gzip', options);
}
