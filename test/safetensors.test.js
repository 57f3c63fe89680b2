// test/safetensors.test.js: our safetensors reader/writer against a file PyTorch/numpy wrote
// (reference/safetensors_fixture.py), exactly; and a crafted bad file for every check the reader makes.
import test from 'tape';
import { readFileSync, mkdtempSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  readSafetensors, parseSafetensors, serializeSafetensors, writeSafetensors, getTensor,
} from '../dist/io/safetensors.js';
import { fixturesDir } from './helpers/compare.js';

const fixture = join(fixturesDir, 'dtypes.safetensors');
const expected = JSON.parse(readFileSync(join(fixturesDir, 'dtypes.json'), 'utf8'));

// Python's repr of a float, parsed exactly (JS's Number() reads 'nan'/'inf' as NaN).
function pyFloat(s) {
  return { nan: NaN, inf: Infinity, '-inf': -Infinity }[s] ?? Number(s);
}
function sameValue(a, b) {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

function checkFile(t, file, label) {
  t.deepEqual(file.metadata, expected.metadata, `${label}: __metadata__ kept`);
  t.deepEqual([...file.tensors.keys()], Object.keys(expected.tensors), `${label}: tensor names in file order`);
  for (const [name, want] of Object.entries(expected.tensors)) {
    const got = file.tensors.get(name);
    const bad = [];
    const isFloat = ['F32', 'F64', 'F16', 'BF16'].includes(expected.dtypes[name]);
    want.values.forEach((s, i) => {
      const w = isFloat ? pyFloat(s) : BigInt(s);
      const g = isFloat ? got.data[i] : BigInt(got.data[i]);
      if (isFloat ? !sameValue(g, w) : g !== w) bad.push(`[${i}] ${g} != ${s}`);
    });
    t.ok(got.dtype === expected.dtypes[name] && JSON.stringify(got.shape) === JSON.stringify(want.shape)
      && got.data.length === want.values.length && bad.length === 0,
      `${label}: ${name} ${got.dtype} [${got.shape}] equals the Python values bit for bit ${bad.slice(0, 3).join(' ')}`);
  }
}

test('safetensors: reads every dtype PyTorch/numpy wrote, exactly', (t) => {
  checkFile(t, readSafetensors(fixture), 'read');
  const f = readSafetensors(fixture);
  t.ok(f.tensors.get('f16_mat').data instanceof Float32Array, 'F16 widens to Float32Array');
  t.ok(f.tensors.get('bf16_vec').data instanceof Float32Array, 'BF16 widens to Float32Array');
  t.ok(f.tensors.get('i64_big').data instanceof BigInt64Array, 'I64 stays BigInt64Array (no precision lost past 2^53)');
  t.end();
});

test('safetensors: F32/F64 are views over the file buffer, not copies', (t) => {
  const bytes = readFileSync(fixture);
  const f = parseSafetensors(bytes, 'fixture');
  const a = f.tensors.get('f32_odd').data;
  t.equal(a.buffer, bytes.buffer, 'F32 tensor shares the buffer the file was read into');
  t.equal(f.tensors.get('f64_vec').data.buffer, bytes.buffer, 'F64 tensor shares it too');
  const tt = getTensor(f, 'f64_vec');
  t.ok(tt.data instanceof Float64Array && tt.shape[0] === 5, 'getTensor gives a float64 Tensor for F64');
  t.throws(() => getTensor(f, 'nope'), /tensor "nope" not found/, 'getTensor names a missing tensor');
  t.throws(() => getTensor(f, 'i32'), /"i32".*dtype I32, expected a float dtype/, 'getTensor refuses integer tensors by name');
  t.end();
});

test('safetensors: our writer round-trips, and Python reads what we wrote', (t) => {
  const f = readSafetensors(fixture);
  const bytes = serializeSafetensors(f.tensors, f.metadata);
  checkFile(t, parseSafetensors(bytes, 'rewritten'), 'rewritten');
  // Python read our writer's file once (reference/safetensors_fixture.py --check F --record) and recorded
  // what it found; our writer must still make those very bytes, and the header must say what Python read.
  const py = JSON.parse(readFileSync(join(fixturesDir, 'dtypes.python_check.json'), 'utf8'));
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-st-'));
  const out = join(dir, 'roundtrip.safetensors');
  writeSafetensors(out, f.tensors, f.metadata);
  const written = readFileSync(out);
  t.equal(createHash('sha256').update(written).digest('hex'), py.sha256,
    `writeSafetensors makes the ${py.bytes} bytes Python checked (${py.result}); if the writer changed on purpose, `
    + 'rerun reference/safetensors_fixture.py --check <file> --record reference/fixtures/dtypes.python_check.json');
  t.deepEqual(Buffer.from(bytes), written, 'serializeSafetensors gives the same bytes');
  const back = parseSafetensors(new Uint8Array(written), 'written');
  t.deepEqual([...back.tensors].map(([name, x]) => ({ name, dtype: x.dtype, shape: x.shape })), py.tensors,
    `${py.tensors.length} names, dtypes and shapes in the order Python read them`);
  t.deepEqual(back.metadata, py.metadata, 'metadata as Python read it');
  t.end();
});

// A crafted file: header object -> bytes, with a given data section.
function craft(header, dataLen, opts = {}) {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(opts.headerLen ?? json.length), true);
  out.set(json, 8);
  return out;
}

test('safetensors: each malformed file gets its own clear error', (t) => {
  const ok = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  t.doesNotThrow(() => parseSafetensors(craft(ok, 8)), 'the well-formed base case parses');
  const cases = [
    ['shorter than 8 bytes', new Uint8Array(5), /shorter than the 8-byte header length/],
    ['header length past the end', craft(ok, 8, { headerLen: 5000 }), /header length 5000 is larger than the file/],
    ['absurd header length', craft(ok, 8, { headerLen: 2 ** 40 }), /header length \d+ is absurdly large/],
    ['header not JSON', craft('{"a": nope}', 0), /header is not JSON/],
    ['header an array', craft('[1,2]', 0), /header must be a JSON object, got an array/],
    ['unknown dtype', craft({ a: { dtype: 'F8', shape: [2], data_offsets: [0, 2] } }, 2), /"a": unknown dtype "F8"/],
    ['bad shape', craft({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), /"a": shape \[-1\] is not a list/],
    ['offsets out of range', craft({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, 8), /"a": data_offsets \[0, 16\] out of range/],
    ['offsets reversed', craft({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, 8), /end before they begin/],
    ['shape × dtype ≠ bytes', craft({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /shape \[3\] × F32 needs 12 bytes but data_offsets give 8/],
    ['overlap', craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, 12), /"b" at \[4, 12\] overlaps/],
    ['gap', craft({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8), /gap of 4 bytes before tensor "a"/],
    ['trailing bytes', craft(ok, 12), /4 bytes after the last tensor are not described/],
    ['duplicate names', craft('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 8), /duplicate tensor name "a"/],
    ['metadata not strings', craft({ __metadata__: { k: 1 }, ...ok }, 8), /__metadata__\["k"\] must be a string/],
  ];
  for (const [what, bytes, re] of cases) {
    t.throws(() => parseSafetensors(bytes, 'crafted.safetensors'), re, `${what}: ${re}`);
  }
  t.throws(() => readSafetensors('/nonexistent/model.safetensors'), /cannot read safetensors file \/nonexistent\/model.safetensors: ENOENT/, 'a missing file is named');
  t.end();
});

test('safetensors: writer refuses data that does not match its dtype or shape', (t) => {
  t.throws(() => serializeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } }), /"a": data has 2 elements, shape \[3\] needs 3/);
  t.throws(() => serializeSafetensors({ a: { dtype: 'I32', shape: [2], data: new Float32Array(2) } }), /"a": dtype I32 needs a Int32Array, got Float32Array/);
  t.end();
});
