// test/hostile_safetensors.test.js: the safetensors reader against hostile headers (issue 13, defect 8 and the
// fuzzer's unclear errors). Each malformed file is made here from reference/fixtures/dtypes.safetensors (no big
// committed files) and must give a DecomcamError whose message names the file, the tensor and the problem, in
// a bounded length: a shape nested 10,000 deep used to overflow the stack through JSON.stringify.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DecomcamError } from '../dist/errors.js';
import { parseSafetensors, readSafetensors } from '../dist/io/safetensors.js';
import { fixturesDir } from './helpers/compare.js';

const base = readFileSync(join(fixturesDir, 'dtypes.safetensors'));
const headerLen = Number(base.readBigUInt64LE(0));
const header = JSON.parse(base.subarray(8, 8 + headerLen).toString());
const data = base.subarray(8 + headerLen);

// A file with the given header text and data bytes.
function file(headerText, bytes = data) {
  const head = Buffer.from(headerText);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  return new Uint8Array(Buffer.concat([len, head, bytes]));
}

// The fixture's header with one tensor's entry changed by `edit` (JSON text in, so non-JSON numbers fit).
function withEntry(name, entryText) {
  const h = { ...header };
  h[name] = '@@';
  return JSON.stringify(h).replace('"@@"', entryText);
}

function clean(t, bytes, re, msg) {
  try { parseSafetensors(bytes, 'bad.safetensors'); t.fail(`${msg}: parsed`); } catch (e) {
    const ok = e instanceof DecomcamError && re.test(e.message) && e.message.length < 400 &&
      e.message.includes('bad.safetensors');
    t.ok(ok, `${msg}: ${e instanceof DecomcamError ? '' : e.name + ': '}${e.message.slice(0, 300)}`);
  }
}

test('hostile safetensors: a shape nested 10,000 deep is a clear, short error (no stack overflow)', (t) => {
  const deep = '['.repeat(10000) + ']'.repeat(10000);
  const bytes = file(`{"x":{"dtype":"F32","shape":${deep},"data_offsets":[0,4]}}`, new Uint8Array(4));
  t.ok(bytes.length > 20000 && bytes.length < 21000, `the file is ${bytes.length} bytes`);
  clean(t, bytes, /tensor "x": shape \[\[\[\.\.\.\]\]\] is not a list of non-negative integers/, 'deep shape');
  const deepMeta = file(`{"__metadata__":{"a":${deep}}}`, new Uint8Array(0));
  clean(t, deepMeta, /__metadata__\["a"\] must be a string, got \[\[\[\.\.\.\]\]\]/, 'deep metadata value');
  t.end();
});

test('hostile safetensors: values JSON cannot hold, missing fields and huge names are described in our words', (t) => {
  const name = Object.keys(header).find((k) => k !== '__metadata__');
  const { dtype, shape, data_offsets: off } = header[name];
  clean(t, file(withEntry(name, `{"dtype":"${dtype}","shape":[1e400],"data_offsets":[${off}]}`)),
    /shape \[Infinity \(a number too large for a double\)\] is not a list/, 'shape 1e400 is Infinity, not null');
  clean(t, file(withEntry(name, `{"shape":${JSON.stringify(shape)},"data_offsets":[${off}]}`)),
    new RegExp(`tensor "${name}" has no dtype`), 'missing dtype');
  clean(t, file(withEntry(name, `{"dtype":"${dtype}","data_offsets":[${off}]}`)), /has no shape/, 'missing shape');
  clean(t, file(withEntry(name, `{"dtype":"${dtype}","shape":${JSON.stringify(shape)}}`)), /has no data_offsets/,
    'missing data_offsets');
  clean(t, file(withEntry(name, `{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[0,1e400]}`)),
    /data_offsets \[0, Infinity \(a number too large for a double\)\] must be two non-negative integers/, 'offset 1e400');
  clean(t, file(withEntry(name, '[1,2,3]')), /entry must be an object \{dtype, shape, data_offsets\}, got \[1, 2, 3\]/,
    'an array entry');
  const longName = 'n'.repeat(1 << 20);
  clean(t, file(`{"${longName}":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, new Uint8Array(4)),
    /tensor "n{197}\.\.\.": shape \[2\] × F32 needs 8 bytes but data_offsets give 4/, 'a 1 MB tensor name is cut short');
  clean(t, file(JSON.stringify('s'.repeat(1 << 20)), new Uint8Array(0)), /header must be a JSON object, got "s{37}\.\.\."/,
    'a 1 MB string header');
  clean(t, file(withEntry(name, `{"dtype":"${dtype}","shape":[${'1,'.repeat(1000)}1,0],"data_offsets":[0,8]}`)),
    /shape 1002 dimensions × \w+ needs 0 bytes but data_offsets give 8/, 'a 1002-dimensional shape');
  t.end();
});

test('hostile safetensors: special files are refused before reading', (t) => {
  for (const [path, re] of [['/dev/zero', /is not a regular file/], [tmpdir(), /is a directory/]]) {
    try { readSafetensors(path); t.fail(`${path}: read`); } catch (e) {
      t.ok(e instanceof DecomcamError && re.test(e.message), `${path}: ${e.message}`);
    }
  }
  t.end();
});
