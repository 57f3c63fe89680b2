// tools/lib/fuzz/safetensors.js: safetensors mutations that know the layout (u64 header length, JSON header,
// data): header fields edited (shape, dtype, data_offsets set to extremes, wrong types, 10,000-deep nesting),
// tensors dropped, renamed or multiplied, metadata of the wrong type, the length field and the data made to
// disagree with the header. Returns the new file bytes and what was done.
import { concat, mutateBytes } from './bytes.js';

export function splitSafetensors(b) {
  if (b.length < 8) return null;
  const n = Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true));
  if (8 + n > b.length) return null;
  let header;
  try { header = JSON.parse(new TextDecoder().decode(b.subarray(8, 8 + n))); } catch { return null; }
  return { header, data: b.subarray(8 + n) };
}

// Header text (raw JSON; may hold literals JSON.stringify cannot make) + data → file, length field set to match
// unless `length` is given.
export function joinSafetensors(headerText, data, length) {
  const head = new TextEncoder().encode(headerText);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(length ?? head.length)), true);
  return concat(len, head, data);
}

const deep = (depth, leaf) => '['.repeat(depth) + leaf + ']'.repeat(depth);
// raw JSON text for a hostile value (strings that JSON.stringify would quote are written as they are)
const SHAPES = ['[]', '[0]', '[-1]', '[9007199254740992]', '[1e300]', '[1e400]', '["x"]', '[1.5]', '[65536,65536,65536]',
  '[4294967296,4294967296]', 'null', '"4"', '{}', '[[2]]', '[2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2]'];
const DTYPES = ['"F32"', '"F16"', '"BF16"', '"F64"', '"I64"', '"U8"', '"BOOL"', '"F8_E4M3"', '"C64"', '"f32"', '"X"', '7', 'null', '""', '["F32"]'];
const OFFSETS = ['[0,0]', '[-1,4]', '[8,4]', '[0,9007199254740993]', '[0,1e300]', '["0","4"]', '[0]', '[0,4,8]', 'null',
  '[0.5,4]', '[1e400,0]', '{}', '[18446744073709551615,0]'];

const HEADER_EDITS = [
  (rng, h, name) => { h[name].shape = `@${rng.pick(SHAPES)}`; return `${name}.shape = ${h[name].shape.slice(1)}`; },
  (rng, h, name) => { h[name].dtype = `@${rng.pick(DTYPES)}`; return `${name}.dtype = ${h[name].dtype.slice(1)}`; },
  (rng, h, name) => { h[name].data_offsets = `@${rng.pick(OFFSETS)}`; return `${name}.data_offsets = ${h[name].data_offsets.slice(1)}`; },
  (rng, h, name) => {
    const o = h[name].data_offsets;
    if (!Array.isArray(o)) return 'no offsets';
    const d = rng.pick([1, -1, 2, -2, 4, 1 << 20]);
    h[name].data_offsets = [o[0], o[1] + d];
    return `${name} end offset ${d > 0 ? '+' : ''}${d}`;
  },
  (rng, h, name) => { const f = rng.pick(['shape', 'dtype', 'data_offsets']); delete h[name][f]; return `${name}: no ${f}`; },
  (rng, h, name) => { h[name].extra = 1; return `${name}: unknown field`; },
  (rng, h, name) => { h[name] = `@${rng.pick(['null', '1', '"x"', '[]', '{}'])}`; return `${name} = ${h[name].slice(1)}`; },
  (rng, h, name) => { delete h[name]; return `drop tensor ${name}`; },
  (rng, h, name) => {
    const other = rng.pick(['', ' ', '__metadata__', 'a'.repeat(rng.pick([1000, 100000])), '\u0000', '\ud83d\ude00', name + name]);
    h[other] = h[name];
    delete h[name];
    return `rename ${name} to a ${other.length}-char name`;
  },
  (rng, h, name) => {
    const t = h[name];
    const start = Array.isArray(t.data_offsets) ? t.data_offsets[0] : 0;
    h[`${name}.copy`] = { ...t, data_offsets: [start, start + (Array.isArray(t.data_offsets) ? t.data_offsets[1] - start : 0)] };
    return `second tensor over ${name}'s bytes`;
  },
  (rng, h, name) => { h[name].shape = `@${deep(rng.pick([100, 1000, 10000]), '1')}`; return `${name}.shape nested deep`; },
  (rng, h) => { h.__metadata__ = `@${rng.pick(['1', '"x"', '[]', '{"a":1}', '{"a":{"b":"c"}}', deep(10000, '0'), 'null'])}`; return 'metadata of the wrong type'; },
  (rng, h) => {
    const n = rng.pick([1000, 20000]);
    for (let i = 0; i < n; i++) h[`z${i}`] = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
    return `${n} more empty tensors`;
  },
];

// JSON text for h, with '@raw' strings written as the raw text after the '@'.
function headerText(h) {
  const raws = [];
  const text = JSON.stringify(h, (k, v) => {
    if (typeof v === 'string' && v.startsWith('@')) { raws.push(v.slice(1)); return `\u0001${raws.length - 1}\u0001`; }
    return v;
  });
  return text.replace(/"\\u0001(\d+)\\u0001"/g, (_, i) => raws[Number(i)]);
}

const WHOLE = [
  (rng, text, data) => [joinSafetensors(text, data, rng.pick([0, 1, 7, text.length - 1, text.length + 1, text.length + data.length + 1, 2 ** 32, 2 ** 53 + 1, 2n ** 64n - 1n])), 'length field extreme'],
  (rng, text, data) => { const n = rng.int(data.length); return [joinSafetensors(text, data.subarray(0, n)), `data cut to ${n} bytes`]; },
  (rng, text, data) => [joinSafetensors(text, concat(data, rng.bytes(rng.range(1, 64)))), 'data longer than the header says'],
  (rng, text, data) => [joinSafetensors(rng.pick(['[]', '1', '"x"', 'null', '', '{', '{"a":', deep(10000, '1'), `{"a":${deep(10000, '1')}}`]), data), 'header not an object'],
  (rng, text, data) => [joinSafetensors(`\ufeff${text}`, data), 'header starts with a BOM'],
  (rng, text, data) => [joinSafetensors(text.replace(/^\{/, `{${text.slice(1, text.indexOf('}') + 1)},`), data), 'duplicate key'],
  (rng, text, data) => {
    const head = new TextEncoder().encode(text);
    const [h2, what] = mutateBytes(rng, head, 2);
    const len = new Uint8Array(8);
    new DataView(len.buffer).setBigUint64(0, BigInt(h2.length), true);
    return [concat(len, h2, data), `header bytes: ${what}`];
  },
];

export function mutateSafetensors(rng, file) {
  const parts = splitSafetensors(file);
  // raw byte mutations where the header is not a JSON object (an earlier mutation may have left null or a number)
  if (!parts || parts.header === null || typeof parts.header !== 'object' || rng.chance(0.15)) {
    const [b, what] = mutateBytes(rng, file, 4);
    return [b, `raw: ${what}`];
  }
  const h = parts.header;
  const did = [];
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const n = rng.range(1, 3);
  for (let k = 0; k < n; k++) {
    const live = names.filter((x) => h[x] && typeof h[x] === 'object');
    if (live.length === 0) break;
    did.push(rng.pick(HEADER_EDITS)(rng, h, rng.pick(live)));
  }
  let text;
  try {
    text = headerText(h);
  } catch { // a header parsed from an earlier deep-nesting edit is too deep for JSON.stringify: mutate its bytes
    const [b, what] = mutateBytes(rng, file, 4);
    return [b, `raw: ${what}`];
  }
  if (rng.chance(0.25)) {
    const [b, what] = rng.pick(WHOLE)(rng, text, parts.data);
    return [b, [...did, what].join('; ')];
  }
  text += ' '.repeat((8 - (new TextEncoder().encode(text).length % 8)) % 8);
  return [joinSafetensors(text, parts.data), did.join('; ')];
}

export { headerText };
