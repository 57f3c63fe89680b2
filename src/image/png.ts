// image/png.ts: PNG ↔ 8-bit RGB. Decoding matches PIL's `Image.open(f).convert('RGB')` (Pillow 9.4) exactly:
// alpha is dropped, never composited; a tRNS chunk is ignored; 1/2/4-bit grey scales to 0..255 (×255, ×85,
// ×17); 16-bit RGB/RGBA/grey+alpha keep the high byte; 16-bit grey opens as PIL mode "I" and convert('RGB')
// clips it, so values above 255 saturate to 255 (PIL's quirk, kept). pngjs inflates, unfilters and
// de-interlaces. Encoding writes 8-bit grey or RGB. Pixel data is (H, W, 3) or (H, W) row-major uint8.

import { PNG, type PNGWithMetadata } from 'pngjs';
import { fail } from '../errors.js';

function bad(source: string, problem: string): never {
  fail(`${source}: ${problem}`, 'usage');
}

// CRC-32 (ISO 3309, as PNG uses it), table-driven.
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Walks the chunks (length, type, data, CRC) up to IEND, checking that each fits in the file and that its
// CRC matches, so that a truncated or damaged file gets a message that says so. Returns the length of the
// PNG up to the end of IEND: bytes after it are ignored, as PIL ignores them.
function checkChunks(bytes: Uint8Array, view: DataView, source: string): number {
  let at = 8;
  for (;;) {
    if (at + 12 > bytes.length) bad(source, `truncated PNG (the file ends at byte ${bytes.length}, before its IEND chunk)`);
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (length > 0x7fffffff || at + 12 + length > bytes.length) {
      bad(source, `truncated PNG (the file ends inside its "${type}" chunk at byte ${at})`);
    }
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length)) {
      bad(source, `corrupt PNG (checksum mismatch in its "${type}" chunk at byte ${at})`);
    }
    at += 12 + length;
    if (type === 'IEND') return at;
  }
}

// The caller has checked the 8-byte signature. Checks IHDR and the chunk structure by hand before pngjs allocates width × height × 4 (a
// hostile header can claim 4 billion pixels), then lets pngjs decode.
export function decodePng(bytes: Uint8Array, source: string, maxMegapixels: number):
  { width: number; height: number; data: Uint8Array } {
  if (bytes.length < 33) bad(source, `truncated PNG (${bytes.length} bytes, shorter than its header)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ihdrType = String.fromCharCode(...bytes.subarray(12, 16));
  if (view.getUint32(8) !== 13 || ihdrType !== 'IHDR') bad(source, 'corrupt PNG (it does not start with an IHDR chunk)');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const depth = bytes[24];
  const colorType = bytes[25];
  if (width < 1 || height < 1) bad(source, `PNG is ${width}×${height} pixels: it has no pixels to explain`);
  if (width * height > maxMegapixels * 1e6) {
    bad(source, `image is ${width}×${height} pixels, more than the ${maxMegapixels} MP this library decodes (downscale it first)`);
  }
  const depths: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };
  if (!(colorType in depths) || !depths[colorType].includes(depth)) {
    bad(source, `corrupt PNG (colour type ${colorType} with bit depth ${depth} is not a valid combination)`);
  }

  const end = checkChunks(bytes, view, source);

  let png: PNGWithMetadata & { transColor?: number[] }; // pngjs sets transColor; its typings omit it
  try {
    // skipRescale: 16-bit and low-bit samples are brought to 8 bits below, the way PIL does it.
    png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, end), { skipRescale: true });
  } catch (e) {
    bad(source, `corrupt PNG (${(e as Error).message})`);
  }
  // (H, W, 4) samples: a Uint16Array at 16 bits, bytes otherwise; palette images arrive as 8-bit RGBA.
  const px: ArrayLike<number> = png.data;
  if (png.width !== width || png.height !== height || px.length !== width * height * 4) {
    bad(source, 'corrupt PNG (decoded size does not match its header)');
  }
  // pngjs paints pixels that match a grey/RGB tRNS colour as (0, 0, 0, 0), but PIL's convert('RGB') keeps
  // their colour. These images have no alpha channel, so alpha 0 marks exactly those pixels: restore them.
  const trns = png.transColor;
  const restoreTrns = trns !== undefined && (colorType === 0 || colorType === 2);

  const out = new Uint8Array(width * height * 3);
  const to8 = sampleTo8Bit(colorType, depth);
  for (let i = 0, o = 0; i < px.length; i += 4, o += 3) {
    if (restoreTrns && px[i + 3] === 0) {
      for (let c = 0; c < 3; c++) out[o + c] = to8(trns[trns.length === 1 ? 0 : c]);
    } else {
      for (let c = 0; c < 3; c++) out[o + c] = to8(px[i + c]);
    }
  }
  return { width, height, data: out };
}

// One sample at the file's bit depth → 0..255, as PIL's PNG modes followed by convert('RGB') do.
function sampleTo8Bit(colorType: number, depth: number): (v: number) => number {
  if (colorType === 3 || depth === 8) return (v) => v;                 // palette entries are 8-bit already
  if (depth === 16 && colorType === 0) return (v) => Math.min(v, 255); // mode "I": convert('RGB') clips
  if (depth === 16) return (v) => v >> 8;                              // "RGB;16B" and kin: the high byte
  const scale = 255 / ((1 << depth) - 1);                              // "1", "L;2", "L;4": ×255, ×85, ×17
  return (v) => v * scale;
}

// data: (H, W) grey or (H, W, 3) RGB, uint8 → PNG file bytes (8-bit, not interlaced). Sizes (H, W), rows first.
export function encodePng(data: Uint8Array, height: number, width: number): Uint8Array {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail(`encodePng: size ${width}×${height} is not a positive integer size`);
  }
  const channels = data.length / (width * height);
  if (channels !== 1 && channels !== 3) {
    fail(`encodePng: ${data.length} bytes for ${width}×${height} pixels is neither grey (${width * height} bytes) ` +
      `nor RGB (${width * height * 3} bytes)`);
  }
  const colorType = channels === 1 ? 0 : 2;
  const png = new PNG({ width, height });
  png.data = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const file = PNG.sync.write(png, { colorType, inputColorType: colorType, inputHasAlpha: false, bitDepth: 8 });
  return new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
}
