// tools/lib/fuzz/bytes.js: format-blind mutations of a byte string (bit flips, inserts, deletes, duplicated
// runs, truncation, integer fields set to extremes), plus two helpers the structured mutators share: CRC-32
// (so a mutated PNG chunk still passes its check) and a zlib stream of N zero bytes written without holding them.
// Every mutator takes (rng, bytes) and returns [newBytes, 'what it did'].

export const EXTREME_U32 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

const MUTATORS = [
  function flipBits(rng, b) {
    if (b.length === 0) return [b, 'flip: empty'];
    const out = b.slice();
    const n = rng.range(1, 8);
    for (let k = 0; k < n; k++) { const i = rng.int(out.length); out[i] ^= 1 << rng.int(8); }
    return [out, `flip ${n} bits`];
  },
  function setBytes(rng, b) {
    if (b.length === 0) return [b, 'set: empty'];
    const out = b.slice();
    const i = rng.int(out.length);
    const v = rng.pick([0, 0xff, 0x7f, 0x80, rng.int(256)]);
    const n = Math.min(rng.range(1, 4), out.length - i);
    out.fill(v, i, i + n);
    return [out, `set ${n} bytes at ${i} to ${v}`];
  },
  function insertBytes(rng, b) {
    const i = rng.int(b.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(rng.range(1, 64)) : new Uint8Array(rng.range(1, 4096)).fill(rng.pick([0, 0xff, 0x41]));
    return [concat(b.subarray(0, i), ins, b.subarray(i)), `insert ${ins.length} bytes at ${i}`];
  },
  function deleteBytes(rng, b) {
    const i = rng.int(b.length + 1);
    const n = rng.range(1, Math.max(1, Math.min(256, b.length - i)));
    return [concat(b.subarray(0, i), b.subarray(i + n)), `delete ${n} bytes at ${i}`];
  },
  function duplicateRun(rng, b) {
    const i = rng.int(b.length + 1);
    const n = Math.min(rng.range(1, 512), b.length - i);
    const times = rng.range(1, 16);
    const run = b.subarray(i, i + n);
    return [concat(b.subarray(0, i + n), ...Array(times).fill(run), b.subarray(i + n)), `duplicate ${n} bytes at ${i} ×${times}`];
  },
  function truncate(rng, b) {
    const n = rng.int(b.length + 1);
    return [b.slice(0, n), `truncate to ${n} of ${b.length} bytes`];
  },
  function extremeInt(rng, b) {
    if (b.length < 4) return [b, 'extreme: too short'];
    const out = b.slice();
    const i = rng.int(out.length - 3);
    const v = rng.pick(EXTREME_U32);
    const le = rng.chance(0.5);
    new DataView(out.buffer, out.byteOffset).setUint32(i, v, le);
    return [out, `u32 at ${i} = ${v} (${le ? 'LE' : 'BE'})`];
  },
  function appendJunk(rng, b) {
    const junk = rng.bytes(rng.range(1, 1024));
    return [concat(b, junk), `append ${junk.length} random bytes`];
  },
];

// One to `max` generic mutations, chosen by the rng.
export function mutateBytes(rng, bytes, max = 3) {
  let b = bytes;
  const did = [];
  const n = rng.range(1, max);
  for (let k = 0; k < n; k++) {
    const [nb, what] = rng.pick(MUTATORS)(rng, b);
    b = nb;
    did.push(what);
  }
  return [b, did.join('; ')];
}

// CRC-32 (ISO-HDLC), as PNG chunks use.
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(...parts) {
  let c = 0xffffffff;
  for (const p of parts) for (let i = 0; i < p.length; i++) c = CRC_TABLE[(c ^ p[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// A zlib stream that inflates to n zero bytes: one fixed-Huffman block, a literal 0 then (length 258, distance 1)
// copies. ~13 bits per 258 bytes, so 800 MB of zeros cost ~5 MB here and nothing of that size is ever held.
export function zlibZeros(n) {
  const bytes = [];
  let acc = 0;
  let nbits = 0;
  const put = (value, len) => { // LSB-first bit packing, as deflate does
    acc |= value << nbits;
    nbits += len;
    while (nbits >= 8) { bytes.push(acc & 255); acc >>>= 8; nbits -= 8; }
  };
  // Huffman codes are sent most significant bit first: reverse them into the LSB-first stream
  const code = (c, len) => { let r = 0; for (let i = 0; i < len; i++) r |= ((c >>> i) & 1) << (len - 1 - i); put(r, len); };
  bytes.push(0x78, 0x01);
  put(1, 1); // BFINAL
  put(1, 2); // BTYPE = 01, fixed Huffman
  let left = n;
  if (left > 0) { code(0x30, 8); left--; } // literal 0 (codes 0-143: 0x30 + lit, 8 bits)
  while (left >= 258) { code(0xc5, 8); code(0, 5); left -= 258; } // length 258 = symbol 285 (0xc0 + 5), distance 1
  while (left > 0) { code(0x30, 8); left--; } // the rest as literals
  code(0, 7); // end of block (symbol 256: 7 zero bits)
  if (nbits > 0) put(0, 8 - nbits);
  const b = n % 65521; // adler-32 of n zeros: a = 1, b = n
  bytes.push((b >>> 8) & 255, b & 255, 0, 1);
  return Uint8Array.from(bytes);
}

export { concat };
