// platform/shims/pngjs.ts: the part of the npm package pngjs the library uses (PNG.sync.write, by image/png.ts's
// encodePng), for the browser bundle: 8-bit grey or RGB, not interlaced, every row unfiltered, the zlib stream
// made of stored (uncompressed) deflate blocks. The pixels are pngjs's; the file is larger (no compression).

import { adler32 } from '../inflate.js';

function crcTable(): Uint32Array {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
}
const CRC = crcTable();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC[(c ^ bytes[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A zlib stream of stored blocks holding `raw`.
function storedZlib(raw: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(raw.length / 65535));
  const out = new Uint8Array(2 + raw.length + 5 * blocks + 4);
  out[0] = 0x78; out[1] = 0x01;
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * 65535, n = Math.min(65535, raw.length - start);
    out[at++] = b === blocks - 1 ? 1 : 0;
    out[at++] = n & 255; out[at++] = n >> 8; out[at++] = ~n & 255; out[at++] = (~n >> 8) & 255;
    out.set(raw.subarray(start, start + n), at);
    at += n;
  }
  new DataView(out.buffer).setUint32(at, adler32(raw));
  return out;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** pngjs's PNG, as far as encodePng uses it: width, height, data, and PNG.sync.write. */
export class PNG {
  width: number;
  height: number;
  data: Uint8Array;

  constructor({ width, height }: { width: number; height: number }) {
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(0);
  }

  static sync = {
    write(png: PNG, opts: { colorType: number }): Uint8Array {
      const channels = opts.colorType === 0 ? 1 : 3;
      const { width: W, height: H, data } = png;
      const rowBytes = W * channels;
      const raw = new Uint8Array(H * (rowBytes + 1));
      for (let y = 0; y < H; y++) raw.set(data.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
      const ihdr = new Uint8Array(13);
      const dv = new DataView(ihdr.buffer);
      dv.setUint32(0, W); dv.setUint32(4, H);
      ihdr[8] = 8; ihdr[9] = opts.colorType;
      const parts = [Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a), chunk('IHDR', ihdr),
        chunk('IDAT', storedZlib(raw)), chunk('IEND', new Uint8Array(0))];
      const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) { out.set(p, at); at += p.length; }
      return out;
    },
  };
}
