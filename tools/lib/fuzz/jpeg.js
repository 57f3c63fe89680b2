// tools/lib/fuzz/jpeg.js: JPEG mutations that know the marker layout: SOF sizes, precision, components and
// sampling factors set to extremes, DQT / DHT / SOS / SOF removed or duplicated, scans naming unknown components,
// Huffman tables with impossible counts, entropy data cut short or garbled, and frames far larger than their scans.
import { concat, mutateBytes, EXTREME_U32 } from './bytes.js';

// → { segments: [{ marker, data, scan? }], tail } with data the segment body after its length field.
export function parseJpeg(b) {
  const segments = [];
  let at = 2; // after SOI
  while (at + 4 <= b.length && b[at] === 0xff) {
    const marker = b[at + 1];
    if (marker === 0xd9) { at += 2; break; } // EOI
    if (marker === 0xff) { at += 1; continue; } // fill byte
    const len = (b[at + 2] << 8) | b[at + 3];
    if (len < 2 || at + 2 + len > b.length) break;
    const seg = { marker, data: b.slice(at + 4, at + 2 + len) };
    at += 2 + len;
    if (marker === 0xda) { // entropy-coded data runs to the next marker that is not a stuffed 00 or a restart
      let end = at;
      while (end + 1 < b.length && !(b[end] === 0xff && b[end + 1] !== 0 && (b[end + 1] < 0xd0 || b[end + 1] > 0xd7))) end++;
      if (end + 1 >= b.length) end = b.length;
      seg.scan = b.slice(at, end);
      at = end;
    }
    segments.push(seg);
  }
  return { segments, tail: b.slice(at) };
}

export function buildJpeg({ segments }, eoi = true) {
  const parts = [Uint8Array.of(0xff, 0xd8)];
  for (const s of segments) {
    const len = s.length ?? s.data.length + 2;
    parts.push(Uint8Array.of(0xff, s.marker, (len >>> 8) & 255, len & 255), s.data);
    if (s.scan) parts.push(s.scan);
  }
  if (eoi) parts.push(Uint8Array.of(0xff, 0xd9));
  return concat(...parts);
}

const isSof = (m) => m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
const SIZES = [0, 1, 2, 7, 8, 9, 16, 255, 4096, 10000, 16384, 30000, 65500, 65535];

const STRUCTURED = [
  function sofSize(rng, j) {
    const s = j.segments.find((x) => isSof(x.marker));
    if (!s || s.data.length < 5) return 'no SOF';
    const w = rng.pick(SIZES);
    const h = rng.chance(0.6) ? rng.pick(SIZES) : (s.data[1] << 8) | s.data[2];
    s.data[1] = h >>> 8; s.data[2] = h & 255; s.data[3] = w >>> 8; s.data[4] = w & 255;
    return `SOF ${w}×${h}`;
  },
  function sofFields(rng, j) {
    const s = j.segments.find((x) => isSof(x.marker));
    if (!s || s.data.length < 6) return 'no SOF';
    const what = rng.int(4);
    if (what === 0) { s.data[0] = rng.pick([0, 1, 8, 12, 16, 255]); return `SOF precision ${s.data[0]}`; }
    if (what === 1) { s.data[5] = rng.pick([0, 1, 2, 3, 4, 5, 255]); return `SOF component count ${s.data[5]}`; }
    const c = 6 + 3 * rng.int(Math.max(1, Math.floor((s.data.length - 6) / 3)));
    if (c + 2 >= s.data.length) return 'SOF too short';
    if (what === 2) { s.data[c + 1] = rng.pick([0x00, 0x01, 0x10, 0x44, 0x55, 0xff, rng.int(256)]); return `SOF sampling ${s.data[c + 1].toString(16)}`; }
    s.data[c + 2] = rng.pick([0, 1, 2, 3, 4, 15, 255]);
    return `SOF quant table id ${s.data[c + 2]}`;
  },
  function sofType(rng, j) {
    const s = j.segments.find((x) => isSof(x.marker));
    if (!s) return 'no SOF';
    s.marker = rng.pick([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);
    return `SOF marker ${s.marker.toString(16)}`;
  },
  function dropSegment(rng, j) {
    const marker = rng.pick([0xdb, 0xc4, 0xda, 0xc0, 0xc2, 0xdd, 0xe0, 0xee]);
    const before = j.segments.length;
    const all = rng.chance(0.5);
    let dropped = false;
    j.segments = j.segments.filter((s) => {
      if (s.marker !== marker || (dropped && !all)) return true;
      dropped = true;
      return false;
    });
    return `drop ${all ? 'every' : 'one'} ${marker.toString(16)} (${before - j.segments.length})`;
  },
  function duplicateSegment(rng, j) {
    if (j.segments.length === 0) return 'no segments';
    const s = rng.pick(j.segments);
    j.segments.splice(rng.int(j.segments.length + 1), 0, { ...s, data: s.data.slice(), scan: s.scan?.slice() });
    return `duplicate ${s.marker.toString(16)}`;
  },
  function scanComponents(rng, j) {
    const s = j.segments.find((x) => x.marker === 0xda);
    if (!s || s.data.length < 3) return 'no SOS';
    if (rng.chance(0.3)) { s.data[0] = rng.pick([0, 1, 4, 5, 255]); return `SOS component count ${s.data[0]}`; }
    const i = 1 + 2 * rng.int(Math.max(1, s.data[0]));
    if (i + 1 >= s.data.length) return 'SOS too short';
    if (rng.chance(0.5)) { s.data[i] = rng.pick([0, 4, 5, 9, 200, 255]); return `SOS names component ${s.data[i]}`; }
    s.data[i + 1] = rng.pick([0x00, 0x11, 0x44, 0x4f, 0xff]);
    return `SOS table ids ${s.data[i + 1].toString(16)}`;
  },
  function huffmanCounts(rng, j) {
    const s = j.segments.find((x) => x.marker === 0xc4);
    if (!s || s.data.length < 17) return 'no DHT';
    const k = 1 + rng.int(16);
    s.data[k] = rng.pick([255, 200, 17, 0, rng.int(256)]);
    if (rng.chance(0.3)) s.data[0] = rng.pick([0x02, 0x14, 0x20, 0xff]);
    return `DHT count[${k}] = ${s.data[k]}, class/id ${s.data[0].toString(16)}`;
  },
  function quantTable(rng, j) {
    const s = j.segments.find((x) => x.marker === 0xdb);
    if (!s || s.data.length < 1) return 'no DQT';
    s.data[0] = rng.pick([0x00, 0x10, 0x04, 0x0f, 0xff, 0x13]);
    if (rng.chance(0.5)) s.data = s.data.slice(0, rng.int(s.data.length));
    return `DQT precision/id ${s.data[0]?.toString(16)}, ${s.data.length} bytes`;
  },
  function restartInterval(rng, j) {
    const v = rng.pick([0, 1, 2, 7, 65535]);
    j.segments.splice(Math.max(0, j.segments.findIndex((s) => s.marker === 0xda)), 0, { marker: 0xdd, data: Uint8Array.of(v >>> 8, v & 255) });
    return `DRI ${v}`;
  },
  function scanData(rng, j) {
    const s = j.segments.find((x) => x.marker === 0xda && x.scan);
    if (!s) return 'no scan data';
    if (rng.chance(0.5)) { const n = rng.int(s.scan.length + 1); s.scan = s.scan.slice(0, n); return `scan cut to ${n} bytes`; }
    const [scan, what] = mutateBytes(rng, s.scan, 3);
    s.scan = scan;
    return `scan data: ${what}`;
  },
  function segmentLength(rng, j) {
    if (j.segments.length === 0) return 'no segments';
    const s = rng.pick(j.segments);
    s.length = rng.pick([0, 1, 2, 3, 0xffff, s.data.length + 3, s.data.length]) & 0xffff;
    return `${s.marker.toString(16)} length field ${s.length}`;
  },
  function bigFrame(rng, j) {
    const s = j.segments.find((x) => isSof(x.marker));
    if (!s || s.data.length < 5) return 'no SOF';
    const [w, h] = rng.pick([[10000, 10000], [65535, 1500], [1500, 65535], [8000, 12000], [65535, 65535]]);
    s.data[1] = h >>> 8; s.data[2] = h & 255; s.data[3] = w >>> 8; s.data[4] = w & 255;
    return `bomb: SOF ${w}×${h} over the original scan`;
  },
  function segmentData(rng, j) {
    if (j.segments.length === 0) return 'no segments';
    const s = rng.pick(j.segments);
    const [data, what] = mutateBytes(rng, s.data, 2);
    s.data = data;
    return `${s.marker.toString(16)} body: ${what}`;
  },
];

export function mutateJpeg(rng, jpg) {
  if (rng.chance(0.15)) {
    const [b, what] = mutateBytes(rng, jpg, 4);
    return [b, `raw: ${what}`];
  }
  const j = parseJpeg(jpg);
  const did = [];
  const n = rng.range(1, 3);
  for (let k = 0; k < n; k++) did.push(rng.pick(STRUCTURED)(rng, j));
  const eoi = !rng.chance(0.1);
  if (!eoi) did.push('no EOI');
  return [buildJpeg(j, eoi), did.join('; ')];
}

export { EXTREME_U32 };
