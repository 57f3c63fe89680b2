// image/decode.ts: an image file → 8-bit RGB, as PIL's `Image.open(f).convert('RGB')` gives it. The format
// comes from the magic bytes, never the file name: PNG (image/png.ts, exact) or JPEG (image/jpeg.ts, within
// ±3 levels of libjpeg-turbo, mostly equal). Bad input — empty, unknown format, corrupt, truncated, too large — is a
// DecomcamError (code 'usage') that names the file and the problem. RgbImage.data is (H, W, 3) uint8.

import { readFileSync, statSync } from 'node:fs';
import { DecomcamError, fail } from '../errors.js';
import { decodeJpeg } from './jpeg.js';
import { decodePng } from './png.js';

export { encodePng } from './png.js';

/** An 8-bit RGB image: data is (H, W, 3), row-major, width·height·3 bytes. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array; // (H, W, 3) RGB, row-major
}

/**
 * The boundary check for functions that take an RgbImage from a caller.
 */
export function checkRgbImage(img: RgbImage, what: string): void {
  const { width, height, data } = img;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail(`${what}: image size ${width}×${height} is not a positive integer size`);
  }
  if (!(data instanceof Uint8Array) || data.length !== width * height * 3) {
    fail(`${what}: image data must be a Uint8Array of ${width}×${height}×3 = ${width * height * 3} bytes (RGB), ` +
      `got ${data?.length} values`);
  }
}

/**
 * Larger images are refused before anything is allocated (PIL warns at 89 MP and refuses at 179 MP). Each
 * decoder also bounds the bytes it allocates: PNG_MAX_DECODE_BYTES (png.ts), JPEG_MAX_DECODE_BYTES (jpeg.ts).
 */
export const MAX_MEGAPIXELS = 100;

const PNG_SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const JPEG_SOI = Uint8Array.of(0xff, 0xd8, 0xff); // start-of-image, then the first marker's FF

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

/**
 * `source` names the image in error messages, e.g. 'image "cat.jpg"'.
 */
export function decodeImage(bytes: Uint8Array, source = 'image'): RgbImage {
  if (bytes.length === 0) fail(`${source}: file is empty (expected a PNG or JPEG image)`, 'usage');
  if (startsWith(bytes, PNG_SIGNATURE)) return decodePng(bytes, source, MAX_MEGAPIXELS);
  if (startsWith(bytes, JPEG_SOI)) return decodeJpeg(bytes, source, MAX_MEGAPIXELS);
  if (bytes.length < PNG_SIGNATURE.length && (startsWith(PNG_SIGNATURE, bytes) || startsWith(JPEG_SOI, bytes))) {
    fail(`${source}: truncated file (only ${bytes.length} bytes, the start of a PNG or JPEG signature)`, 'usage');
  }
  const start = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  fail(`${source}: not a PNG or JPEG file (it starts with bytes ${start}; GIF, WebP, BMP and others are not ` +
    'supported: convert the image to PNG)', 'usage');
}

/**
 * The largest image file read (a 100 MP PNG stored uncompressed is 300 MB; real files are far smaller).
 */
export const MAX_IMAGE_FILE_BYTES = 512 * 2 ** 20;

/**
 * Reads and decodes a PNG or JPEG file into an RgbImage; throws DecomcamError for a missing, non-regular, too
 * large (over MAX_IMAGE_FILE_BYTES) or undecodable file.
 */
export function loadImage(path: string): RgbImage {
  let bytes: Uint8Array;
  try {
    // regular files only, sized before reading: /dev/zero would read until memory runs out, a FIFO block forever
    const st = statSync(path);
    if (!st.isFile()) {
      fail(`image "${path}": ${st.isDirectory() ? 'is a directory, not an image file' : 'is not a regular file (a device, FIFO or socket)'}`, 'usage');
    }
    if (st.size > MAX_IMAGE_FILE_BYTES) {
      fail(`image "${path}": the file is ${st.size} bytes, more than the ${MAX_IMAGE_FILE_BYTES} this library reads`, 'usage');
    }
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an image file'
      : `cannot be read (${(e as Error).message})`;
    fail(`image "${path}": ${why}`, 'usage');
  }
  return decodeImage(bytes, `image "${path}"`);
}
