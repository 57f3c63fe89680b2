// tools/lib/fuzz/png.js: PNG mutations that know the chunk layout, so the decoder gets past the CRC check and
// meets the hostile part: IHDR sizes / bit depths / colour types set to extremes, image data truncated, extended or
// replaced by a decompression bomb, filter bytes garbled, chunks dropped, duplicated, reordered or resized.
import { inflateSync, deflateSync } from 'node:zlib';
import { crc32, concat, mutateBytes, zlibZeros, EXTREME_U32 } from './bytes.js';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const ascii = (s) => new TextEncoder().encode(s);

// → [{ type: 'IHDR', data }], stopping where the layout breaks (the rest is kept as one 'tail' blob).
export function parseChunks(png) {
  const chunks = [];
  let at = 8;
  while (at + 12 <= png.length) {
    const len = new DataView(png.buffer, png.byteOffset + at).getUint32(0);
    if (at + 12 + len > png.length) break;
    chunks.push({ type: new TextDecoder().decode(png.subarray(at + 4, at + 8)), data: png.slice(at + 8, at + 8 + len) });
    at += 12 + len;
  }
  return chunks;
}

function chunkBytes({ type, data, length, crc }) {
  const head = new Uint8Array(8);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, length ?? data.length);
  head.set(ascii(type).subarray(0, 4), 4);
  const t = new Uint8Array(4);
  new DataView(t.buffer).setUint32(0, crc ?? crc32(head.subarray(4, 8), data));
  return concat(head, data, t);
}

export function buildPng(chunks) {
  return concat(SIGNATURE, ...chunks.map(chunkBytes));
}

const SIZES = [0, 1, 2, 3, 7, 255, 256, 4096, 10000, 16384, 30000, 65535, 65536, 1 << 24, 0x7fffffff, 0x80000000, 0xffffffff];
const DEPTHS = [0, 1, 2, 3, 4, 5, 8, 16, 32, 255];
const COLOUR_TYPES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 255];
// bytes per pixel (rounded up) for a colour type and depth, as the unfilter sees them
const CHANNELS = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

function ihdr(chunks) {
  const c = chunks.find((x) => x.type === 'IHDR');
  return c && c.data.length >= 13 ? c : null;
}

function idatJoined(chunks) {
  return concat(...chunks.filter((c) => c.type === 'IDAT').map((c) => c.data));
}

// Replace every IDAT by one holding `z`.
function setIdat(chunks, z) {
  const first = chunks.findIndex((c) => c.type === 'IDAT');
  const rest = chunks.filter((c) => c.type !== 'IDAT');
  const at = first < 0 ? Math.max(1, rest.length - 1) : first;
  rest.splice(at, 0, { type: 'IDAT', data: z });
  return rest;
}

// (at most 64 MB: the fuzzer's own memory must not count against the decoder)
function inflated(chunks) {
  try { return inflateSync(idatJoined(chunks), { maxOutputLength: 64 << 20 }); } catch { return null; }
}

const STRUCTURED = [
  function ihdrSize(rng, chunks) {
    const h = ihdr(chunks);
    if (!h) return 'no IHDR';
    const dv = new DataView(h.data.buffer, h.data.byteOffset);
    const w = rng.chance(0.7) ? rng.pick(SIZES) : rng.u32();
    const ht = rng.chance(0.5) ? rng.pick(SIZES) : dv.getUint32(4);
    dv.setUint32(0, w);
    dv.setUint32(4, ht);
    return `IHDR ${w}×${ht}`;
  },
  function ihdrFormat(rng, chunks) {
    const h = ihdr(chunks);
    if (!h) return 'no IHDR';
    const field = rng.pick([8, 9, 10, 11, 12]);
    const v = field === 8 ? rng.pick(DEPTHS) : field === 9 ? rng.pick(COLOUR_TYPES) : rng.pick([0, 1, 2, 255]);
    h.data[field] = v;
    return `IHDR byte ${field} (${['depth', 'colour type', 'compression', 'filter', 'interlace'][field - 8]}) = ${v}`;
  },
  function truncateImageData(rng, chunks) {
    const raw = inflated(chunks);
    if (!raw) return 'image data does not inflate';
    const n = rng.int(raw.length);
    chunks.splice(0, chunks.length, ...setIdat(chunks, deflateSync(raw.subarray(0, n))));
    return `image data cut to ${n} of ${raw.length} inflated bytes`;
  },
  function extendImageData(rng, chunks) {
    const raw = inflated(chunks);
    if (!raw) return 'image data does not inflate';
    const extra = rng.chance(0.5) ? rng.bytes(rng.range(1, 2000)) : new Uint8Array(rng.range(1, 1 << 20));
    chunks.splice(0, chunks.length, ...setIdat(chunks, deflateSync(concat(raw, extra))));
    return `image data ${extra.length} bytes longer than the image`;
  },
  function garbleFilters(rng, chunks) {
    const raw = inflated(chunks);
    if (!raw || raw.length === 0) return 'image data does not inflate';
    const out = raw.slice();
    const n = rng.range(1, 8);
    for (let k = 0; k < n; k++) out[rng.int(out.length)] = rng.pick([5, 6, 127, 255, rng.int(256)]);
    chunks.splice(0, chunks.length, ...setIdat(chunks, deflateSync(out)));
    return `${n} inflated bytes (filter types or pixels) garbled`;
  },
  function bomb(rng, chunks) {
    const h = ihdr(chunks);
    if (!h) return 'no IHDR';
    const [W, H] = rng.pick([[10000, 10000], [5000, 5000], [20000, 5000], [3000, 3000], [1, 100000000], [100000000, 1]]);
    const [colour, depth] = rng.pick([[6, 16], [2, 16], [0, 8], [6, 8], [0, 1], [4, 16]]);
    const dv = new DataView(h.data.buffer, h.data.byteOffset);
    dv.setUint32(0, W);
    dv.setUint32(4, H);
    h.data[8] = depth;
    h.data[9] = colour;
    h.data[12] = 0;
    const full = H * (1 + Math.ceil((W * CHANNELS[colour] * depth) / 8));
    const frac = rng.pick([1, 1, 0.5, 0.01, 0]);
    const n = Math.floor(full * frac);
    chunks.splice(0, chunks.length, ...setIdat(chunks.filter((c) => c.type !== 'PLTE'), zlibZeros(n)));
    return `bomb: IHDR ${W}×${H} colour ${colour} depth ${depth}, ${n} of ${full} inflated bytes`;
  },
  function dropChunk(rng, chunks) {
    if (chunks.length === 0) return 'no chunks';
    const i = rng.int(chunks.length);
    const [c] = chunks.splice(i, 1);
    return `drop ${c.type}`;
  },
  function duplicateChunk(rng, chunks) {
    if (chunks.length === 0) return 'no chunks';
    const i = rng.int(chunks.length);
    chunks.splice(rng.int(chunks.length + 1), 0, { type: chunks[i].type, data: chunks[i].data.slice() });
    return `duplicate ${chunks[i].type}`;
  },
  function swapChunks(rng, chunks) {
    if (chunks.length < 2) return 'too few chunks';
    const i = rng.int(chunks.length);
    const j = rng.int(chunks.length);
    [chunks[i], chunks[j]] = [chunks[j], chunks[i]];
    return `swap chunks ${i} and ${j}`;
  },
  function insertChunk(rng, chunks) {
    const type = rng.pick(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND', 'gAMA', 'XXXX', 'xxxx', 'acTL', 'iCCP']);
    const data = rng.bytes(rng.pick([0, 1, 3, 13, 255, rng.range(0, 5000)]));
    chunks.splice(rng.int(chunks.length + 1), 0, { type, data });
    return `insert ${type} of ${data.length} bytes`;
  },
  function chunkLength(rng, chunks) {
    if (chunks.length === 0) return 'no chunks';
    const c = rng.pick(chunks);
    c.length = rng.pick(EXTREME_U32);
    return `${c.type} length field = ${c.length}`;
  },
  function palette(rng, chunks) {
    const n = rng.pick([0, 1, 2, 3 * 1, 3 * 2, 3 * 16, 3 * 256, 3 * 257, 3 * 300, 7]);
    const p = chunks.find((c) => c.type === 'PLTE');
    if (p) p.data = rng.bytes(n);
    else chunks.splice(1, 0, { type: 'PLTE', data: rng.bytes(n) });
    const t = chunks.find((c) => c.type === 'tRNS');
    if (t && rng.chance(0.5)) t.data = rng.bytes(rng.pick([0, 1, 2, 6, 256, 300]));
    return `PLTE of ${n} bytes`;
  },
  function chunkData(rng, chunks) {
    if (chunks.length === 0) return 'no chunks';
    const c = rng.pick(chunks);
    const [data, what] = mutateBytes(rng, c.data, 2);
    c.data = data;
    return `${c.type} data: ${what}`;
  },
  function compressedBytes(rng, chunks) {
    const z = idatJoined(chunks);
    const [data, what] = mutateBytes(rng, z, 2);
    chunks.splice(0, chunks.length, ...setIdat(chunks, data));
    return `compressed image data: ${what}`;
  },
];

// One PNG case from a pristine file: mostly structured (CRCs fixed), sometimes raw bytes (CRCs broken).
export function mutatePng(rng, png) {
  if (rng.chance(0.15)) {
    const [b, what] = mutateBytes(rng, png, 4);
    return [b, `raw: ${what}`];
  }
  const chunks = parseChunks(png);
  const did = [];
  const n = rng.range(1, 3);
  for (let k = 0; k < n; k++) did.push(rng.pick(STRUCTURED)(rng, chunks));
  return [buildPng(chunks), did.join('; ')];
}
