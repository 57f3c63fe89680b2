// io/torch.ts: PyTorch checkpoints as a state dict {name -> StTensor}, read without running them:
//   torch.save files (.pt/.pth/.bin, zip format of torch >= 1.6; a dict, or one under "state_dict"/"model"),
//   sharded Hugging Face folders (pytorch_model-0000N-of-0000M.bin + pytorch_model.bin.index.json), and
//   TorchScript archives (torch.jit.save, e.g. openai/CLIP's ViT-B-16.pt): the module objects in data.pkl are
//   walked into OpenAI's dotted names, keeping the attributes the archive's code/ declares as parameters or
//   buffers (those two lists are read as text; the code is never evaluated). F16/BF16 widen to float32 as the
//   safetensors reader does; a contiguous, aligned F32/F64 tensor is a view over the file's one buffer.
// The model loader opens a checkpoint instead (openTorchWeights): only the zip's records and data.pkl are read,
// and each tensor later, by offset, straight into its parameter (io/tensorfile.ts).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fail } from '../errors.js';
import { wideningTable, widenInto } from './half.js';
import {
  describe, PickleObject, storageFromPid, TensorRef, TORCH_DTYPE_SIZE, unpickle, type StorageRef, type TorchDType,
} from './pickle.js';
import type { StData, StTensor } from './safetensors.js';
import { fileTensor, TensorFile, type FileTensor } from './tensorfile.js';
import { looksLikeZip, openZip, readZip, zipEntryBytes, type ZipArchive } from './zip.js';

/** The tensors of a PyTorch checkpoint (torch.save zip or TorchScript archive), by name. */
export interface TorchCheckpoint {
  tensors: Map<string, StTensor>;
  source: string;
  format: 'torch.save' | 'torchscript';
}

/**
 * File names taken for PyTorch checkpoints (anything else is left to the safetensors path).
 */
export const TORCH_FILE = /\.(pt|pth|bin|ckpt)$/i;
// Module attributes are walked at most this deep (OpenAI's ViT: 6 levels).
const MAX_MODULE_DEPTH = 64;
// Keys under which training scripts nest the state dict.
const NESTED_KEYS = ['state_dict', 'model', 'model_state_dict', 'module'];

// ---- widening ------------------------------------------------------------------------------------------

// F16/BF16 elements as a new float32 array (io/half.ts's table: the same bits as halfToFloat / bf16ToFloat).
function widen16(dtype: 'F16' | 'BF16', h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  widenInto(dtype, h, out, 0);
  return out;
}

// A typed view of a storage's elements (a copy only when the storage is misaligned in the file).
function storageView(dtype: TorchDType, raw: Uint8Array, n: number): StData {
  const size = TORCH_DTYPE_SIZE[dtype];
  const aligned = raw.byteOffset % size === 0;
  const buf = aligned ? raw.buffer : new Uint8Array(raw.subarray(0, n * size)).buffer;
  const at = aligned ? raw.byteOffset : 0;
  switch (dtype) {
    case 'F64': return new Float64Array(buf, at, n);
    case 'F32': return new Float32Array(buf, at, n);
    case 'F16': case 'BF16': return new Uint16Array(buf, at, n);
    case 'I64': return new BigInt64Array(buf, at, n);
    case 'I32': return new Int32Array(buf, at, n);
    case 'I16': return new Int16Array(buf, at, n);
    case 'I8': return new Int8Array(buf, at, n);
    case 'U8': case 'BOOL': return new Uint8Array(buf, at, n);
  }
}

function emptyLike(dtype: TorchDType, n: number): StData {
  switch (dtype) {
    case 'F64': return new Float64Array(n);
    case 'F32': case 'F16': case 'BF16': return new Float32Array(n);
    case 'I64': return new BigInt64Array(n);
    case 'I32': return new Int32Array(n);
    case 'I16': return new Int16Array(n);
    case 'I8': return new Int8Array(n);
    case 'U8': case 'BOOL': return new Uint8Array(n);
  }
}

// ---- one archive -----------------------------------------------------------------------------------------

// Checks a tensor reference against its storage (offset + extent within it, no overlapping view); whether it is
// contiguous (then its elements are the storage's from `offset` on).
function checkRef(name: string, ref: TensorRef, where: string): { n: number; contiguous: boolean } {
  const { shape, stride, offset } = ref;
  const what = `${where}: tensor "${name}" (storage "${ref.storage.key}", ${ref.storage.numel} elements)`;
  let n = 1;
  for (const s of shape) n *= s;
  if (!Number.isSafeInteger(n)) fail(`${what}: shape [${shape.join(', ')}] is absurdly large`);
  let last = offset; // the highest element index the view touches
  for (let d = 0; d < shape.length; d++) if (shape[d] > 0) last += (shape[d] - 1) * stride[d];
  if (n > 0 && (last >= ref.storage.numel || !Number.isSafeInteger(last))) {
    fail(`${what}: offset ${offset}, shape [${shape.join(', ')}] and strides [${stride.join(', ')}] reach element ${last}, past its storage`);
  }
  if (n > ref.storage.numel) fail(`${what}: ${n} elements over a storage of ${ref.storage.numel} (overlapping views are not supported)`);
  let contiguous = true;
  for (let d = shape.length - 1, want = 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== want) contiguous = false;
    want *= shape[d];
  }
  return { n, contiguous };
}

// Reads a tensor reference into an StTensor: checks offset + extent against the storage, then takes a view
// (contiguous F32/F64/ints), widens (F16/BF16) or gathers a strided view into a fresh contiguous array.
function materialise(zip: ZipArchive, prefix: string, name: string, ref: TensorRef, where: string): StTensor {
  const { shape, stride, offset, dtype } = ref;
  const { n, contiguous } = checkRef(name, ref, where);
  const raw = zipEntryBytes(zip, `${prefix}data/${ref.storage.key}`);
  const src = storageView(dtype, raw, ref.storage.numel);
  const st: StTensor['dtype'] = dtype;
  const table = dtype === 'F16' || dtype === 'BF16' ? wideningTable(dtype) : null;
  if (contiguous) {
    const part = src.subarray(offset, offset + n);
    if (!table) return { dtype: st, shape, data: part };
    return { dtype: st, shape, data: widen16(dtype as 'F16' | 'BF16', part as Uint16Array) };
  }
  // strided: walk the index like an odometer, last axis fastest (F16/BF16: the table's bits, as widenInto)
  const out = emptyLike(dtype, n);
  const outBits = table ? new Uint32Array(out.buffer, out.byteOffset, n) : null;
  const tableBits = table ? new Uint32Array(table.buffer) : null;
  const idx = new Array<number>(shape.length).fill(0);
  let p = offset;
  for (let i = 0; i < n; i++) {
    if (outBits && tableBits) outBits[i] = tableBits[(src as Uint16Array)[p]];
    else (out as Float32Array)[i] = (src as Float32Array)[p]; // (same element type on both sides)
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) { p += stride[d]; break; }
      p -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
  return { dtype: st, shape, data: out };
}

// The parameter and buffer names a TorchScript class declares in code/ ("__parameters__ = [...]"), read as
// text; null when the archive has no such declaration for it (then every tensor attribute is kept).
function declaredState(zip: ZipArchive, prefix: string, className: string, cache: Map<string, Set<string> | null>): Set<string> | null {
  if (cache.has(className)) return cache.get(className) ?? null;
  const cut = className.lastIndexOf('.');
  const file = `${prefix}code/${className.slice(0, cut).replace(/\./g, '/')}.py`;
  const name = className.slice(cut + 1);
  let result: Set<string> | null = null;
  if (zip.entries.has(file) && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
    const text = new TextDecoder('utf-8').decode(zipEntryBytes(zip, file, 64 * 1024 * 1024));
    const m = new RegExp(`^class ${name}\\(Module\\):\\s*\\n\\s*__parameters__ = \\[([^\\]]*)\\]\\s*\\n\\s*__buffers__ = \\[([^\\]]*)\\]`, 'm').exec(text);
    if (m) result = new Set([...`${m[1]} ${m[2]}`.matchAll(/"([^"]*)"/g)].map((x) => x[1]));
  }
  cache.set(className, result);
  return result;
}

// A TorchScript module tree into dotted names: tensors it declares as state, sub-modules recursively.
function walkModule(zip: ZipArchive, prefix: string, obj: PickleObject, path: string, out: Map<string, TensorRef>,
  cache: Map<string, Set<string> | null>, seen: Set<PickleObject>, where: string): void {
  if (seen.has(obj)) return; // a module reachable twice (shared) is named once, at its first path
  seen.add(obj);
  if (seen.size > 1_000_000 || path.split('.').length > MAX_MODULE_DEPTH) fail(`${where}: module tree nested more than ${MAX_MODULE_DEPTH} levels deep (at "${path.slice(0, 60)}…")`);
  if (!(obj.state instanceof Map)) fail(`${where}: module ${obj.className} at "${path || '<root>'}" has state ${describe(obj.state)}, expected its attributes`);
  const declared = declaredState(zip, prefix, obj.className, cache);
  for (const [k, v] of obj.state) {
    if (typeof k !== 'string') continue;
    const name = path ? `${path}.${k}` : k;
    if (v instanceof TensorRef && (declared === null || declared.has(k))) out.set(name, v);
    else if (v instanceof PickleObject) walkModule(zip, prefix, v, name, out, cache, seen, where);
  }
}

// The state dict inside a torch.save'd object: the dict itself, or one nested under a usual key.
function stateDictOf(root: unknown, where: string): Map<string, TensorRef> {
  if (!(root instanceof Map)) fail(`${where}: the pickled object is ${describe(root)}, not a state dict`);
  let dict: Map<unknown, unknown> = root;
  const hasTensors = (m: Map<unknown, unknown>): boolean => [...m.values()].some((v) => v instanceof TensorRef);
  if (!hasTensors(dict)) {
    const key = NESTED_KEYS.find((k) => dict.get(k) instanceof Map);
    if (key === undefined) {
      const keys = [...dict.keys()].slice(0, 8).map((k) => describe(k)).join(', ');
      fail(`${where}: holds no tensors at the top level nor under ${NESTED_KEYS.map((k) => `"${k}"`).join('/')} (keys: ${keys || 'none'})`);
    }
    dict = dict.get(key) as Map<unknown, unknown>;
  }
  const out = new Map<string, TensorRef>();
  for (const [k, v] of dict) if (typeof k === 'string' && v instanceof TensorRef) out.set(k, v);
  if (out.size === 0) fail(`${where}: the state dict holds no tensors`);
  // a model trained under DistributedDataParallel saves every name with "module." in front
  if ([...out.keys()].every((k) => k.startsWith('module.'))) {
    return new Map([...out].map(([k, v]) => [k.slice('module.'.length), v]));
  }
  return out;
}

// The first bytes must be a zip's: a legacy (pickle-first) torch.save or anything else is refused by name.
function checkZipMagic(head: Uint8Array, size: number, where: string): void {
  if (looksLikeZip(head)) return;
  if (size > 1 && head[0] === 0x80) {
    fail(`${where} is in the legacy torch.save format (PyTorch < 1.6), which is not supported: re-save it with a newer ` +
      'PyTorch (torch.save(torch.load(f), f2)) or convert it to safetensors');
  }
  fail(`${where} is not a zip archive, so not a torch.save (>= 1.6) or torch.jit.save file`);
}

// The tensor references of an archive's data.pkl, by name: a torch.save state dict, or a TorchScript module tree
// walked into dotted names. Every storage named is checked against its zip entry; no tensor data is read.
function archiveRefs(zip: ZipArchive, source: string, where: string):
  { prefix: string; refs: Map<string, TensorRef>; format: TorchCheckpoint['format'] } {
  const pkls = [...zip.entries.keys()].filter((k) => /^[^/]+\/data\.pkl$/.test(k));
  if (pkls.length === 0) fail(`${where}: the zip has no <name>/data.pkl, so it is not a PyTorch archive`);
  if (pkls.length > 1) fail(`${where}: the zip has several data.pkl files (${pkls.slice(0, 3).join(', ')})`);
  const prefix = pkls[0].slice(0, -'data.pkl'.length);

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: unknown): StorageRef => {
    const s = storageFromPid(pid, where);
    const entry = zip.entries.get(`${prefix}data/${s.key}`);
    if (!entry) fail(`${where}: storage "${s.key}" is named in data.pkl but ${prefix}data/${s.key} is not in the archive`);
    const need = s.numel * TORCH_DTYPE_SIZE[s.dtype];
    if (entry.size < need) fail(`${where}: storage "${s.key}" holds ${entry.size} bytes, but ${s.numel} × ${s.dtype} needs ${need}`);
    const prev = storages.get(s.key);
    if (prev && (prev.dtype !== s.dtype || prev.numel !== s.numel)) fail(`${where}: storage "${s.key}" is named twice with different types`);
    storages.set(s.key, s);
    return s;
  };
  const root = unpickle(zipEntryBytes(zip, pkls[0]), `${source}:${pkls[0]}`, { persistentLoad });

  if (root instanceof PickleObject) {
    const refs = new Map<string, TensorRef>();
    walkModule(zip, prefix, root, '', refs, new Map(), new Set(), where);
    if (refs.size === 0) fail(`${where}: the TorchScript module holds no parameters`);
    return { prefix, refs, format: 'torchscript' };
  }
  return { prefix, refs: stateDictOf(root, where), format: 'torch.save' };
}

/**
 * Parses the bytes of a PyTorch checkpoint (zip-format torch.save or TorchScript) into its tensors; a "module."
 * prefix on every name is dropped. Legacy (non-zip) pickles are refused.
 */
export function parseTorchCheckpoint(bytes: Uint8Array, source: string): TorchCheckpoint {
  const where = `PyTorch checkpoint ${source}`;
  checkZipMagic(bytes, bytes.length, where);
  const zip = readZip(bytes, source);
  const { prefix, refs, format } = archiveRefs(zip, source, where);
  const tensors = new Map<string, StTensor>();
  for (const [name, ref] of refs) tensors.set(name, materialise(zip, prefix, name, ref, where));
  return { tensors, source, format };
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    fail(`cannot read ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Reads and parses a PyTorch checkpoint file (.pt, .pth, .bin, .ckpt). */
export function readTorchCheckpoint(path: string): TorchCheckpoint {
  return parseTorchCheckpoint(readBytes(path, 'PyTorch checkpoint'), path);
}

/** An open PyTorch checkpoint: its tensors not read yet (FileTensor.readInto reads one); close() when done. */
export interface OpenTorchCheckpoint {
  tensors: Map<string, FileTensor>;
  source: string;
  format: 'torch.save' | 'torchscript';
  close(): void;
}

// A tensor of an open archive: a contiguous one in a stored entry (all PyTorch writes) is read by offset, straight
// into its destination; anything else (a strided view, a deflated storage) is materialised from its storage then.
function archiveTensor(file: TensorFile, zip: ZipArchive, prefix: string, name: string, ref: TensorRef, where: string): FileTensor {
  const { contiguous } = checkRef(name, ref, where);
  const entry = zip.entries.get(`${prefix}data/${ref.storage.key}`);
  if (!entry) fail(`${where}: storage "${ref.storage.key}" of tensor "${name}" is not in the archive`);
  if (contiguous && entry.method === 0) {
    return fileTensor(file, ref.dtype, ref.shape, entry.dataStart + ref.offset * TORCH_DTYPE_SIZE[ref.dtype], name);
  }
  return {
    dtype: ref.dtype,
    shape: ref.shape,
    readInto(dst, at) {
      const { data } = materialise(zip, prefix, name, ref, where);
      if (!(data instanceof Float32Array) && !(data instanceof Float64Array)) fail(`${where}: tensor "${name}" has dtype ${ref.dtype}, expected a float dtype`);
      dst.set(data, at);
    },
  };
}

/**
 * Opens a PyTorch checkpoint file: the zip's records and data.pkl are read and checked as parseTorchCheckpoint
 * does, the tensor data is left in the file until each tensor's readInto.
 */
export function openTorchCheckpoint(path: string): OpenTorchCheckpoint {
  const file = new TensorFile(path, { what: 'PyTorch checkpoint', expected: 'a .pt/.pth/.bin/.ckpt file', readAs: 'PyTorch checkpoint' }, Number.MAX_SAFE_INTEGER);
  try {
    const where = `PyTorch checkpoint ${path}`;
    checkZipMagic(file.bytes(0, Math.min(4, file.size)), file.size, where);
    const zip = openZip(file, path);
    const { prefix, refs, format } = archiveRefs(zip, path, where);
    const tensors = new Map<string, FileTensor>();
    for (const [name, ref] of refs) tensors.set(name, archiveTensor(file, zip, prefix, name, ref, where));
    return { tensors, source: path, format, close: () => file.close() };
  } catch (e) {
    file.close();
    throw e;
  }
}

// The tensors of every shard a shard index names (each a file in the index's folder, read by `read`), checked
// against its weight map: no tensor in two shards, none listed but missing.
function indexedShards<T>(indexPath: string, read: (shardPath: string) => Map<string, T>): Map<string, T> {
  let map: unknown;
  try {
    map = JSON.parse(new TextDecoder().decode(readBytes(indexPath, 'shard index'))).weight_map;
  } catch (e) {
    fail(`${indexPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof map !== 'object' || map === null || Array.isArray(map)) fail(`${indexPath} has no "weight_map" object`);
  const weightMap = map as Record<string, unknown>;
  const tensors = new Map<string, T>();
  for (const shard of new Set(Object.values(weightMap))) {
    if (typeof shard !== 'string' || basename(shard) !== shard) fail(`${indexPath}: shard ${JSON.stringify(shard)} is not a file name in its folder`);
    for (const [k, t] of read(join(dirname(indexPath), shard))) {
      if (tensors.has(k)) fail(`${indexPath}: tensor "${k}" is in more than one shard`);
      tensors.set(k, t);
    }
  }
  for (const [k, shard] of Object.entries(weightMap)) {
    if (!tensors.has(k)) fail(`${indexPath} lists tensor "${k}" in ${String(shard)}, but that shard does not hold it`);
  }
  return tensors;
}

/**
 * A Hugging Face shard index (pytorch_model.bin.index.json): every shard it names, from the same folder.
 */
export function readTorchIndex(indexPath: string): TorchCheckpoint {
  return { tensors: indexedShards(indexPath, (p) => readTorchCheckpoint(p).tensors), source: indexPath, format: 'torch.save' };
}

/** The same, each shard opened (openTorchCheckpoint) rather than read; close() closes them all. */
export function openTorchIndex(indexPath: string): OpenTorchCheckpoint {
  const opened: OpenTorchCheckpoint[] = [];
  const close = (): void => { for (const c of opened) c.close(); };
  try {
    const tensors = indexedShards(indexPath, (p) => { const c = openTorchCheckpoint(p); opened.push(c); return c.tensors; });
    return { tensors, source: indexPath, format: 'torch.save', close };
  } catch (e) {
    close();
    throw e;
  }
}

// Which PyTorch weights `path` means: a .pt/.pth/.bin/.ckpt file, a shard index, or a folder holding
// pytorch_model.bin, its index, or one such file and no safetensors; null when none.
function torchWeightsAt(path: string): { file: string; index: boolean } | null {
  if (!existsSync(path)) return null;
  if (statSync(path).isFile()) {
    if (path.endsWith('.bin.index.json')) return { file: path, index: true };
    return TORCH_FILE.test(path) ? { file: path, index: false } : null;
  }
  const files = readdirSync(path);
  if (files.some((f) => f.endsWith('.safetensors') || f === 'model.safetensors.index.json')) return null;
  if (files.includes('pytorch_model.bin')) return { file: join(path, 'pytorch_model.bin'), index: false };
  if (files.includes('pytorch_model.bin.index.json')) return { file: join(path, 'pytorch_model.bin.index.json'), index: true };
  const candidates = files.filter((f) => TORCH_FILE.test(f) && statSync(join(path, f)).isFile());
  if (candidates.length > 1) fail(`${path} holds several PyTorch checkpoints (${candidates.join(', ')}): pass the file itself`, 'usage');
  return candidates.length === 1 ? { file: join(path, candidates[0]), index: false } : null;
}

/**
 * For the model loader: the PyTorch weights at `path` — a .pt/.pth/.bin/.ckpt file, a shard index, or a folder
 * holding pytorch_model.bin, its index, or one such file and no safetensors — or null when `path` is not one
 * (safetensors take precedence in a folder that holds both).
 */
export function findTorchWeights(path: string): TorchCheckpoint | null {
  const at = torchWeightsAt(path);
  if (!at) return null;
  return at.index ? readTorchIndex(at.file) : readTorchCheckpoint(at.file);
}

/** The same weights opened (tensors read later, each straight into its destination); null when `path` is not one. */
export function openTorchWeights(path: string): OpenTorchCheckpoint | null {
  const at = torchWeightsAt(path);
  if (!at) return null;
  return at.index ? openTorchIndex(at.file) : openTorchCheckpoint(at.file);
}
