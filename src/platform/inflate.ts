// platform/inflate.ts: DEFLATE decompression (RFC 1951) with the zlib (RFC 1950) and gzip (RFC 1952) wrappers,
// synchronous and in plain TypeScript, for the browser bundle's node:zlib (platform/shims/zlib.ts): a browser's
// DecompressionStream is asynchronous, and the PNG decoder is not. Canonical Huffman codes are decoded a bit at a
// time by code length (as zlib's puff.c does). Output is bounded by `maxOutput`; a stream that ends early gives
// what it had when `partial` is set (zlib's Z_SYNC_FLUSH), else an error.

/** Why inflate stopped short: 'too-large' (maxOutput reached), 'corrupt' (bad data), 'truncated' (input ended). */
export class InflateError extends Error {
  constructor(message: string, readonly reason: 'too-large' | 'corrupt' | 'truncated') {
    super(message);
  }
}

const LENGTH_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258];
const LENGTH_EXTRA = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0];
const DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
  4097, 6145, 8193, 12289, 16385, 24577];
const DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13];
const CODE_ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

// A canonical Huffman code: how many codes of each length (1..15), and the symbols in code order.
interface Huffman { count: Uint16Array; symbol: Uint16Array }

function huffman(lengths: ArrayLike<number>, n: number): Huffman {
  const count = new Uint16Array(16);
  const symbol = new Uint16Array(n);
  for (let s = 0; s < n; s++) count[lengths[s]]++;
  const offs = new Uint16Array(16);
  for (let len = 1; len < 15; len++) offs[len + 1] = offs[len] + count[len];
  for (let s = 0; s < n; s++) if (lengths[s] !== 0) symbol[offs[lengths[s]]++] = s;
  return { count, symbol };
}

const FIXED = (() => {
  const l = new Uint8Array(288);
  l.fill(8, 0, 144); l.fill(9, 144, 256); l.fill(7, 256, 280); l.fill(8, 280, 288);
  return { lit: huffman(l, 288), dist: huffman(new Uint8Array(30).fill(5), 30) };
})();

class Inflater {
  private pos: number;
  private bitBuf = 0;
  private bitCnt = 0;
  out: Uint8Array;
  len = 0;

  constructor(private input: Uint8Array, start: number, private maxOutput: number) {
    this.pos = start;
    this.out = new Uint8Array(Math.min(maxOutput, Math.max(1024, input.length * 4)));
  }

  get offset(): number { return this.pos; }

  bits(n: number): number {
    let v = this.bitBuf;
    while (this.bitCnt < n) {
      if (this.pos >= this.input.length) throw new InflateError('unexpected end of file', 'truncated');
      v |= this.input[this.pos++] << this.bitCnt;
      this.bitCnt += 8;
    }
    this.bitBuf = v >>> n;
    this.bitCnt -= n;
    return v & ((1 << n) - 1);
  }

  alignToByte(): void {
    this.bitBuf = 0;
    this.bitCnt = 0;
  }

  private room(n: number): void {
    if (this.len + n <= this.out.length) return;
    if (this.len + n > this.maxOutput) {
      // keep what fits, then stop
      throw new InflateError(`inflated data is larger than ${this.maxOutput} bytes`, 'too-large');
    }
    const grown = new Uint8Array(Math.min(this.maxOutput, Math.max(this.len + n, this.out.length * 2)));
    grown.set(this.out.subarray(0, this.len));
    this.out = grown;
  }

  private decode(h: Huffman): number {
    let code = 0, first = 0, index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= this.bits(1);
      const count = h.count[len];
      if (code - count < first) return h.symbol[index + (code - first)];
      index += count;
      first = (first + count) << 1;
      code <<= 1;
    }
    throw new InflateError('invalid Huffman code', 'corrupt');
  }

  private stored(): void {
    this.alignToByte();
    const p = this.pos;
    if (p + 4 > this.input.length) throw new InflateError('unexpected end of file', 'truncated');
    const n = this.input[p] | (this.input[p + 1] << 8);
    const nc = this.input[p + 2] | (this.input[p + 3] << 8);
    if (n !== (~nc & 0xffff)) throw new InflateError('invalid stored block lengths', 'corrupt');
    this.pos = p + 4;
    const have = Math.min(n, this.input.length - this.pos);
    const take = Math.min(have, this.maxOutput - this.len);
    this.room(take);
    this.out.set(this.input.subarray(this.pos, this.pos + take), this.len);
    this.len += take;
    this.pos += take;
    if (take < n) {
      if (take < have) throw new InflateError(`inflated data is larger than ${this.maxOutput} bytes`, 'too-large');
      throw new InflateError('unexpected end of file', 'truncated');
    }
  }

  private codes(lit: Huffman, dist: Huffman): void {
    for (;;) {
      const sym = this.decode(lit);
      if (sym < 256) {
        this.room(1);
        this.out[this.len++] = sym;
      } else if (sym === 256) {
        return;
      } else {
        const li = sym - 257;
        if (li >= 29) throw new InflateError('invalid literal/length code', 'corrupt');
        const n = LENGTH_BASE[li] + this.bits(LENGTH_EXTRA[li]);
        const di = this.decode(dist);
        if (di >= 30) throw new InflateError('invalid distance code', 'corrupt');
        const d = DIST_BASE[di] + this.bits(DIST_EXTRA[di]);
        if (d > this.len) throw new InflateError('invalid distance too far back', 'corrupt');
        const take = Math.min(n, this.maxOutput - this.len);
        this.room(take);
        const out = this.out;
        for (let i = 0; i < take; i++, this.len++) out[this.len] = out[this.len - d];
        if (take < n) throw new InflateError(`inflated data is larger than ${this.maxOutput} bytes`, 'too-large');
      }
    }
  }

  private dynamic(): void {
    const nlen = this.bits(5) + 257, ndist = this.bits(5) + 1, ncode = this.bits(4) + 4;
    if (nlen > 286 || ndist > 30) throw new InflateError('too many length or distance symbols', 'corrupt');
    const lengths = new Uint8Array(320);
    for (let i = 0; i < ncode; i++) lengths[CODE_ORDER[i]] = this.bits(3);
    const lencode = huffman(lengths, 19);
    lengths.fill(0);
    for (let i = 0; i < nlen + ndist;) {
      const sym = this.decode(lencode);
      if (sym < 16) { lengths[i++] = sym; continue; }
      let len = 0, rep: number;
      if (sym === 16) {
        if (i === 0) throw new InflateError('invalid bit length repeat', 'corrupt');
        len = lengths[i - 1];
        rep = 3 + this.bits(2);
      } else if (sym === 17) {
        rep = 3 + this.bits(3);
      } else {
        rep = 11 + this.bits(7);
      }
      if (i + rep > nlen + ndist) throw new InflateError('invalid bit length repeat', 'corrupt');
      while (rep--) lengths[i++] = len;
    }
    if (lengths[256] === 0) throw new InflateError('invalid code -- missing end-of-block', 'corrupt');
    this.codes(huffman(lengths.subarray(0, nlen), nlen), huffman(lengths.subarray(nlen, nlen + ndist), ndist));
  }

  // Every block up to the last; afterwards the input position is the first byte after the deflate stream.
  run(): void {
    let last = 0;
    while (!last) {
      last = this.bits(1);
      const type = this.bits(2);
      if (type === 0) this.stored();
      else if (type === 1) this.codes(FIXED.lit, FIXED.dist);
      else if (type === 2) this.dynamic();
      else throw new InflateError('invalid block type', 'corrupt');
    }
    this.alignToByte();
  }
}

/** Options of inflate: the wrapper, the most bytes to produce, and whether a stream cut short gives what it had. */
export interface InflateOptions {
  format: 'zlib' | 'raw' | 'gzip';
  maxOutput?: number;
  partial?: boolean;
}

/** Adler-32 of data, as a zlib stream's trailer holds it. */
export function adler32(data: Uint8Array): number {
  let a = 1, b = 0;
  for (let i = 0; i < data.length;) {
    const end = Math.min(data.length, i + 5552);
    for (; i < end; i++) { a += data[i]; b += a; }
    a %= 65521; b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

let CRC_TABLE: Uint32Array | null = null;
function crc32(data: Uint8Array): number {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const u32be = (b: Uint8Array, p: number): number => ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
const u32le = (b: Uint8Array, p: number): number => (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;

/** Inflates `input` (one stream in the given wrapper); throws InflateError. */
export function inflate(input: Uint8Array, options: InflateOptions): Uint8Array {
  const { format, maxOutput = 2 ** 31 - 1, partial = false } = options;
  let start = 0;
  if (format === 'zlib') {
    if (input.length < 2) {
      if (partial) return new Uint8Array(0);
      throw new InflateError('unexpected end of file', 'truncated');
    }
    const cmf = input[0], flg = input[1];
    if ((cmf & 15) !== 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 !== 0) throw new InflateError('incorrect header check', 'corrupt');
    if (flg & 0x20) throw new InflateError('need dictionary', 'corrupt');
    start = 2;
  } else if (format === 'gzip') {
    if (input.length < 10) throw new InflateError('unexpected end of file', 'truncated');
    if (input[0] !== 0x1f || input[1] !== 0x8b || input[2] !== 8) throw new InflateError('incorrect header check', 'corrupt');
    const flags = input[3];
    let p = 10;
    if (flags & 4) p += 2 + (input[p] | (input[p + 1] << 8));
    if (flags & 8) { while (p < input.length && input[p] !== 0) p++; p++; }
    if (flags & 16) { while (p < input.length && input[p] !== 0) p++; p++; }
    if (flags & 2) p += 2;
    if (p > input.length) throw new InflateError('unexpected end of file', 'truncated');
    start = p;
  }
  const inf = new Inflater(input, start, maxOutput);
  try {
    inf.run();
  } catch (e) {
    if (e instanceof InflateError && e.reason === 'truncated' && partial) return inf.out.slice(0, inf.len);
    throw e;
  }
  const out = inf.out.slice(0, inf.len);
  const p = inf.offset;
  if (format === 'zlib') {
    if (p + 4 <= input.length) {
      if (u32be(input, p) !== adler32(out)) throw new InflateError('incorrect data check', 'corrupt');
    } else if (!partial) {
      throw new InflateError('unexpected end of file', 'truncated');
    }
  } else if (format === 'gzip') {
    if (p + 8 > input.length) throw new InflateError('unexpected end of file', 'truncated');
    if (u32le(input, p) !== crc32(out)) throw new InflateError('incorrect data check', 'corrupt');
  }
  return out;
}
