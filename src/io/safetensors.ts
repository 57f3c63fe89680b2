// io/safetensors.ts: reader and writer for the safetensors format (huggingface/safetensors).
// Layout: u64 little-endian header length N · N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]},
// "__metadata__": {str: str}} · the data, offsets relative to its start. Every check is made before any
// tensor is read. F16 and BF16 are widened to Float32Array on read; other dtypes are views over the file's
// one buffer where alignment allows (else a single copy of that tensor). openSafetensors reads only the header
// and leaves each tensor in the file until it is read into its destination (io/tensorfile.ts).

import { readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from './atomic.js';
import { DecomcamError, describeJson, fail } from '../errors.js';
import { numel, tensor, type Tensor } from '../tensor/tensor.js';
import { floatToBf16, floatToHalf, widenInto } from './half.js';
import { fileTensor, memorySource, TensorFile, type ByteSource, type FileTensor } from './tensorfile.js';

/** The element types a safetensors file may declare. */
export type StDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'U16' | 'U32' | 'U64';
/** The typed array that holds a tensor's elements (F16 and BF16 are widened to Float32Array on reading). */
export type StData =
  | Float32Array | Float64Array | BigInt64Array | BigUint64Array
  | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;

/** One tensor of a safetensors file: dtype as stored, shape, and its elements. */
export interface StTensor {
  dtype: StDType;    // as stored in the file (F16/BF16 data arrives as Float32Array)
  shape: number[];
  data: StData;
}

/** A parsed safetensors file: its tensors by name and the optional __metadata__ strings. */
export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string> | null;
}

// Bytes per element of each dtype.
const DTYPE_SIZE: Record<StDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, U16: 2, U32: 4, U64: 8,
};

// The official implementation refuses headers over 100 MB; so do we (no absurd allocation from a bad length).
const MAX_HEADER_BYTES = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  fail('safetensors: this reader assumes a little-endian machine');
}

function isDType(s: unknown): s is StDType {
  return typeof s === 'string' && Object.prototype.hasOwnProperty.call(DTYPE_SIZE, s);
}

// A tensor name in a message: whole up to 200 characters (real names are under 100), cut beyond.
function quoteName(name: string): string {
  return JSON.stringify(name.length > 200 ? name.slice(0, 197) + '...' : name);
}

// JSON.parse keeps the last of two equal keys silently; safetensors forbids duplicates, so we list the
// top-level keys of the header ourselves (a small scanner that only tracks strings and nesting depth).
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(text.slice(i, j + 1)) as string);
      expectKey = false;
      i = j + 1;
      continue;
    }
    if (ch === '{' || ch === '[') { depth++; expectKey = ch === '{' && depth === 1; }
    else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
    i++;
  }
  return keys;
}

// Typed-array view over `bytes` at [begin, end) for `dtype`: a view when aligned, else one copy.
function viewAs(dtype: StDType, bytes: Uint8Array, begin: number, end: number): StData {
  const size = DTYPE_SIZE[dtype];
  const n = (end - begin) / size;
  const off = bytes.byteOffset + begin;
  const aligned = off % size === 0;
  // (A fresh Uint8Array for the copy: Node's Buffer.slice would return a view, not a copy.)
  const buf = aligned ? bytes.buffer : new Uint8Array(bytes.subarray(begin, end)).buffer;
  const at = aligned ? off : 0;
  switch (dtype) {
    case 'F64': return new Float64Array(buf, at, n);
    case 'F32': return new Float32Array(buf, at, n);
    case 'I64': return new BigInt64Array(buf, at, n);
    case 'U64': return new BigUint64Array(buf, at, n);
    case 'I32': return new Int32Array(buf, at, n);
    case 'U32': return new Uint32Array(buf, at, n);
    case 'I16': return new Int16Array(buf, at, n);
    case 'U16': case 'F16': case 'BF16': return new Uint16Array(buf, at, n);
    case 'I8': return new Int8Array(buf, at, n);
    case 'U8': case 'BOOL': return new Uint8Array(buf, at, n);
  }
}

// F16/BF16 are widened to float32 (a new array; the only copies the reader makes besides misalignment).
function widen(dtype: StDType, raw: StData): StData {
  if (dtype !== 'F16' && dtype !== 'BF16') return raw;
  const out = new Float32Array(raw.length);
  widenInto(dtype, raw as Uint16Array, out, 0);
  return out;
}

// One tensor's header entry, checked: dtype, shape and its bytes [begin, end) in the data section.
interface Entry { name: string; dtype: StDType; shape: number[]; begin: number; end: number }

// The header of the safetensors file `src` holds: every offset and shape checked against the file's size, and
// the data covered exactly; dataStart is where the data section begins in the file.
function readHeader(src: ByteSource, where: string): { entries: Entry[]; metadata: Record<string, string> | null; dataStart: number } {
  if (src.size < 8) fail(`${where}: file is ${src.size} bytes, shorter than the 8-byte header length`);
  const first = src.bytes(0, 8);
  const n64 = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) {
    fail(`${where}: header length ${n64} is absurdly large (limit ${MAX_HEADER_BYTES} bytes) — not a safetensors file?`);
  }
  const headerLen = Number(n64);
  if (8 + headerLen > src.size) {
    fail(`${where}: header length ${headerLen} is larger than the file (${src.size} bytes) — truncated or not safetensors`);
  }
  const head = src.bytes(8, headerLen);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(head);
  } catch {
    fail(`${where}: header is not valid UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`${where}: header is not JSON (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    fail(`${where}: header must be a JSON object, got ${Array.isArray(header) ? 'an array' : describeJson(header)}`);
  }
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) fail(`${where}: duplicate tensor name ${quoteName(k)} in the header`);
    seen.add(k);
  }

  const dataStart = 8 + headerLen;
  const dataLen = src.size - dataStart;
  const entries: Entry[] = [];
  let metadata: Record<string, string> | null = null;

  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (info === null || typeof info !== 'object' || Array.isArray(info)) {
        fail(`${where}: __metadata__ must be an object of strings, got ${describeJson(info)}`);
      }
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`${where}: __metadata__[${describeJson(k)}] must be a string, got ${describeJson(v)}`);
      }
      metadata = info as Record<string, string>;
      continue;
    }
    const tensorName = `tensor ${quoteName(name)}`;
    if (info === null || typeof info !== 'object' || Array.isArray(info)) {
      fail(`${where}: ${tensorName}: entry must be an object {dtype, shape, data_offsets}, got ${describeJson(info)}`);
    }
    const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
    if (dtype === undefined) fail(`${where}: ${tensorName} has no dtype`);
    if (!isDType(dtype)) fail(`${where}: ${tensorName}: unknown dtype ${describeJson(dtype)} (known: ${Object.keys(DTYPE_SIZE).join(', ')})`);
    if (shape === undefined) fail(`${where}: ${tensorName} has no shape`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`${where}: ${tensorName}: shape ${describeJson(shape)} is not a list of non-negative integers`);
    }
    if (offsets === undefined) fail(`${where}: ${tensorName} has no data_offsets`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`${where}: ${tensorName}: data_offsets ${describeJson(offsets)} must be two non-negative integers [begin, end]`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end) fail(`${where}: ${tensorName}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLen) fail(`${where}: ${tensorName}: data_offsets [${begin}, ${end}] out of range (data is ${dataLen} bytes)`);
    // shape × dtype = bytes; a product past 2^53 cannot equal a length that fits in the file
    const want = (shape as number[]).reduce((n, d) => n * d, 1) * DTYPE_SIZE[dtype];
    if (want !== end - begin) {
      const shown = shape.length > 8 ? `${shape.length} dimensions` : `[${(shape as number[]).join(', ')}]`;
      fail(`${where}: ${tensorName}: shape ${shown} × ${dtype} needs ${want} bytes but data_offsets give ${end - begin}`);
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // The data must be covered exactly: sorted by offset, each tensor begins where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor) fail(`${where}: tensor ${quoteName(e.name)} at [${e.begin}, ${e.end}] overlaps the tensor before it (which ends at ${cursor})`);
    if (e.begin > cursor) fail(`${where}: gap of ${e.begin - cursor} bytes before tensor ${quoteName(e.name)} at offset ${e.begin}`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`${where}: ${dataLen - cursor} bytes after the last tensor are not described by the header`);
  return { entries, metadata, dataStart };
}

/**
 * Parses the bytes of a safetensors file; every header offset and shape is checked, and a malformed file throws
 * DecomcamError naming source.
 */
export function parseSafetensors(bytes: Uint8Array, source = '<buffer>'): StFile {
  const { entries, metadata, dataStart } = readHeader(memorySource(bytes), `safetensors ${source}`);
  const data = bytes.subarray(dataStart);
  const tensors = new Map<string, StTensor>();
  for (const e of entries) {
    tensors.set(e.name, { dtype: e.dtype, shape: e.shape, data: widen(e.dtype, viewAs(e.dtype, data, e.begin, e.end)) });
  }
  return { tensors, metadata };
}

// The largest file read whole: Node's Buffer limit (4 GiB), which holds any CLIP up to ViT-bigG in F16.
const MAX_FILE_BYTES = 2 ** 32;

/** Reads and parses a safetensors file (regular files up to 4 GiB only). */
export function readSafetensors(path: string): StFile {
  let bytes: Uint8Array;
  try {
    // a directory, /dev/zero or a FIFO would fail late, read forever or block: regular files only, sized first
    const st = statSync(path);
    if (!st.isFile()) fail(`safetensors ${path}: is ${st.isDirectory() ? 'a directory' : 'not a regular file'}, expected a .safetensors file`);
    if (st.size > MAX_FILE_BYTES) fail(`safetensors ${path}: ${st.size} bytes, larger than the ${MAX_FILE_BYTES} bytes this reader loads`);
    bytes = readFileSync(path);
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    fail(`cannot read safetensors file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseSafetensors(bytes, path);
}

/** An open safetensors file: its tensors not read yet (FileTensor.readInto reads one); close() when done. */
export interface OpenSafetensors {
  tensors: Map<string, FileTensor>;
  metadata: Record<string, string> | null;
  close(): void;
}

/**
 * Opens a safetensors file: its header is read and checked as readSafetensors does (regular files up to 4 GiB),
 * the tensor data is left in the file until each tensor's readInto.
 */
export function openSafetensors(path: string): OpenSafetensors {
  const file = new TensorFile(path, { what: 'safetensors', expected: 'a .safetensors file', readAs: 'safetensors file' }, MAX_FILE_BYTES);
  try {
    const { entries, metadata, dataStart } = readHeader(file, `safetensors ${path}`);
    const tensors = new Map<string, FileTensor>();
    for (const e of entries) tensors.set(e.name, fileTensor(file, e.dtype, e.shape, dataStart + e.begin, e.name));
    return { tensors, metadata, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * A float tensor by name: F32/F16/BF16 as Float32Array, F64 as Float64Array (no copy for F32/F64).
 */
export function getTensor(file: StFile, name: string, source = 'safetensors file'): Tensor {
  const t = file.tensors.get(name);
  if (!t) fail(`tensor "${name}" not found in ${source}`);
  if (!(t.data instanceof Float32Array) && !(t.data instanceof Float64Array)) {
    fail(`tensor "${name}" in ${source} has dtype ${t.dtype}, expected a float dtype (F32, F64, F16, BF16)`);
  }
  return tensor(t.data, t.shape);
}

// Encode one tensor's data as the bytes of its dtype (narrowing F16/BF16 from float values).
function encodeData(name: string, t: StTensor): Uint8Array {
  const n = numel(t.shape);
  if (t.data.length !== n) fail(`writing tensor "${name}": data has ${t.data.length} elements, shape [${t.shape.join(', ')}] needs ${n}`);
  if (t.dtype === 'F16' || t.dtype === 'BF16') {
    const out = new Uint16Array(n);
    const conv = t.dtype === 'F16' ? floatToHalf : floatToBf16;
    for (let i = 0; i < n; i++) out[i] = conv(Number(t.data[i]));
    return new Uint8Array(out.buffer);
  }
  const expected: Record<string, string> = {
    F64: 'Float64Array', F32: 'Float32Array', I64: 'BigInt64Array', U64: 'BigUint64Array', I32: 'Int32Array',
    U32: 'Uint32Array', I16: 'Int16Array', U16: 'Uint16Array', I8: 'Int8Array', U8: 'Uint8Array', BOOL: 'Uint8Array',
  };
  if (t.data.constructor.name !== expected[t.dtype]) {
    fail(`writing tensor "${name}": dtype ${t.dtype} needs a ${expected[t.dtype]}, got ${t.data.constructor.name}`);
  }
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/**
 * The bytes of a safetensors file holding the tensors (data 8-aligned) and optional metadata; throws for a
 * reserved name or a dtype that does not fit its data.
 */
export function serializeSafetensors(
  tensors: Map<string, StTensor> | Record<string, StTensor>, metadata?: Record<string, string> | null): Uint8Array {
  const list = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of list) {
    if (name === '__metadata__') fail('writing safetensors: "__metadata__" is reserved and cannot name a tensor');
    if (!isDType(t.dtype)) fail(`writing tensor "${name}": unknown dtype ${JSON.stringify(t.dtype)}`);
    const raw = encodeData(name, t);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + raw.length] };
    blobs.push(raw);
    offset += raw.length;
  }
  let json = JSON.stringify(header);
  const jsonBytes = new TextEncoder().encode(json);
  const pad = (8 - (jsonBytes.length % 8)) % 8; // keep the data 8-aligned, as the official writer does
  json += ' '.repeat(pad);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const b of blobs) { out.set(b, at); at += b.length; }
  return out;
}

// Whole or not at all: io/atomic.ts, the one home of the staged writer (re-exported for older imports).
export { writeFileAtomic };

/** Writes the tensors as a safetensors file at path, atomically (whole or not at all). */
export function writeSafetensors(
  path: string, tensors: Map<string, StTensor> | Record<string, StTensor>, metadata?: Record<string, string> | null): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
