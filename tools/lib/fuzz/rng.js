// tools/lib/fuzz/rng.js: the fuzzers' seeded random numbers. Case i of a campaign with seed S draws from its own
// stream (splitmix32 of S and i), so a case is reproduced alone by its index, whatever ran before it or beside it.

// A 32-bit mixer (the splitmix/murmur finaliser).
function mix(x) {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

export class Rng {
  constructor(seed, index = 0) {
    this.state = mix(mix(seed >>> 0) ^ Math.imul(index + 1, 0x9e3779b9)) || 1;
  }

  // uniform 32-bit unsigned integer (mulberry32)
  u32() {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  float() { return this.u32() / 4294967296; }
  int(n) { return n <= 0 ? 0 : Math.floor(this.float() * n); } // 0 … n-1
  range(lo, hi) { return lo + this.int(hi - lo + 1); }         // lo … hi
  chance(p) { return this.float() < p; }
  pick(list) { return list[this.int(list.length)]; }
  bytes(n) { const b = new Uint8Array(n); for (let i = 0; i < n; i++) b[i] = this.u32() & 255; return b; }
}
