// io/pickle.ts: a restricted unpickler for the pickles inside PyTorch archives (protocol 2+ opcodes, as
// torch.save and TorchScript's pickler write them). It builds plain values only — null, booleans, numbers,
// strings, bytes, lists/tuples (arrays), dicts (Map) — and, through a fixed table of known torch globals,
// tensor references. `__torch__.*` classes (TorchScript modules) become inert PickleObject shells. Every other
// global is refused by name: nothing in the file is ever looked up or executed.

import { fail } from '../errors.js';

/**
 * The element types torch writes, by storage class (torch.FloatStorage) and by dtype name (torch.float16).
 */
export type TorchDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';
/** Bytes per element of each PyTorch storage dtype. */
export const TORCH_DTYPE_SIZE: Record<TorchDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const STORAGE_TYPES: Record<string, TorchDType> = {
  DoubleStorage: 'F64', FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
  UntypedStorage: 'U8', // bytes; _rebuild_tensor_v3 then gives the dtype
};
const DTYPE_NAMES: Record<string, TorchDType> = {
  float64: 'F64', double: 'F64', float32: 'F32', float: 'F32', float16: 'F16', half: 'F16', bfloat16: 'BF16',
  int64: 'I64', long: 'I64', int32: 'I32', int: 'I32', int16: 'I16', short: 'I16', int8: 'I8', uint8: 'U8', bool: 'BOOL',
};

/**
 * A global the table allows: a storage type or dtype (a value), a function REDUCE may call, or a class
 * NEWOBJ may shell.
 */
export class PickleGlobal {
  constructor(readonly module: string, readonly name: string, readonly kind: 'storage' | 'dtype' | 'function' | 'class',
    readonly dtype: TorchDType | null = null) {}
  get qualified(): string { return `${this.module}.${this.name}`; }
}

/**
 * A TorchScript module object: its class name and the state BUILD gave it (a Map of attributes).
 */
export class PickleObject {
  state: unknown = null;
  constructor(readonly className: string) {}
}

/**
 * A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel).
 */
export interface StorageRef { key: string; dtype: TorchDType; numel: number }

/**
 * torch._utils._rebuild_tensor_v2(storage, offset, shape, stride, …) — not yet read from the archive.
 */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly dtype: TorchDType, readonly offset: number,
    readonly shape: number[], readonly stride: number[]) {}
}

/** Options of unpickle. */
export interface UnpickleOptions {
  // resolves a persistent id (the tuple BINPERSID pops) to a value; absent: persistent ids are refused
  persistentLoad?: (pid: unknown) => unknown;
}

/**
 * Nesting limit for MARK frames: far beyond any checkpoint, low enough that no walk over the result is deep.
 */
export const MAX_NESTING = 1000;

const ALLOWED_FUNCTIONS = new Set([
  'collections.OrderedDict', 'torch._utils._rebuild_tensor', 'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3', 'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state',
  'torch.Size', 'torch.jit._pickle.build_intlist', 'torch.jit._pickle.build_doublelist',
  'torch.jit._pickle.build_boollist', 'torch.jit._pickle.build_tensorlist', 'torch.jit._pickle.restore_type_tag',
]);

function resolveGlobal(module: string, name: string, where: string): PickleGlobal {
  const q = `${module}.${name}`;
  if (!/^[A-Za-z_][\w.]{0,199}$/.test(module) || !/^[A-Za-z_][\w.]{0,199}$/.test(name)) {
    fail(`${where}: refusing global ${describe(q)}: not a Python module and name (corrupt pickle)`);
  }
  if (ALLOWED_FUNCTIONS.has(q)) return new PickleGlobal(module, name, 'function');
  if ((module === 'torch' || module === 'torch.storage') && Object.prototype.hasOwnProperty.call(STORAGE_TYPES, name)) {
    return new PickleGlobal(module, name, 'storage', STORAGE_TYPES[name]);
  }
  if (module === 'torch' && Object.prototype.hasOwnProperty.call(DTYPE_NAMES, name)) return new PickleGlobal(module, name, 'dtype', DTYPE_NAMES[name]);
  if (module === '__torch__' || module.startsWith('__torch__.')) return new PickleGlobal(module, name, 'class');
  const hint = module.startsWith('torch') ? '' : '; if the file is a whole model saved with torch.save(model), save model.state_dict() instead';
  fail(`${where}: refusing global ${q}: a checkpoint needs only torch's tensor, storage and container globals, and loading this one would run Python code${hint}`);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);
const intList = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => isInt(x) && x >= 0);

function rebuildTensor(storage: unknown, offset: unknown, shape: unknown, stride: unknown, dtype: TorchDType | null,
  where: string): TensorRef {
  if (storage === null || typeof storage !== 'object' || !('key' in storage) || !('numel' in storage)) {
    fail(`${where}: a tensor's storage is not a storage reference (got ${describe(storage)})`);
  }
  const s = storage as StorageRef;
  if (!isInt(offset) || offset < 0) fail(`${where}: tensor on storage "${s.key}": offset ${describe(offset)} is not a non-negative integer`);
  if (!intList(shape)) fail(`${where}: tensor on storage "${s.key}": shape ${describe(shape)} is not a list of non-negative integers`);
  if (!intList(stride) || stride.length !== shape.length) {
    fail(`${where}: tensor on storage "${s.key}": strides ${describe(stride)} do not match shape [${shape.join(', ')}]`);
  }
  if (dtype === null) return new TensorRef(s, s.dtype, offset, shape, stride);
  // _rebuild_tensor_v3 over untyped (byte) storage: offset and strides count elements of `dtype`
  const size = TORCH_DTYPE_SIZE[dtype];
  if (s.dtype !== 'U8' && s.dtype !== dtype) fail(`${where}: tensor of ${dtype} on a ${s.dtype} storage "${s.key}"`);
  const numel = s.dtype === 'U8' ? Math.floor(s.numel / size) : s.numel;
  return new TensorRef({ key: s.key, dtype, numel }, dtype, offset, shape, stride);
}

// REDUCE of an allowed function: what each builds, from its arguments (never calling anything).
function callGlobal(g: PickleGlobal, args: unknown[], where: string): unknown {
  switch (g.qualified) {
    case 'collections.OrderedDict': {
      const m = new Map<unknown, unknown>();
      if (args.length > 0 && Array.isArray(args[0])) {
        for (const kv of args[0]) {
          if (!Array.isArray(kv) || kv.length !== 2) fail(`${where}: OrderedDict item ${describe(kv)} is not a (key, value) pair`);
          m.set(kv[0], kv[1]);
        }
      }
      return m;
    }
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return rebuildTensor(args[0], args[1], args[2], args[3], null, where);
    case 'torch._utils._rebuild_tensor_v3': {
      const dt = args[6];
      if (!(dt instanceof PickleGlobal) || dt.kind !== 'dtype') fail(`${where}: _rebuild_tensor_v3 needs a torch dtype, got ${describe(dt)}`);
      return rebuildTensor(args[0], args[1], args[2], args[3], dt.dtype, where);
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      if (!(args[0] instanceof TensorRef)) fail(`${where}: nn.Parameter wraps ${describe(args[0])}, not a tensor`);
      return args[0];
    case 'torch.Size':
    case 'torch.jit._pickle.build_intlist':
    case 'torch.jit._pickle.build_doublelist':
    case 'torch.jit._pickle.build_boollist':
    case 'torch.jit._pickle.build_tensorlist':
    case 'torch.jit._pickle.restore_type_tag':
      if (args.length < 1) fail(`${where}: ${g.qualified} called without an argument`);
      return args[0];
  }
  fail(`${where}: refusing to call ${g.qualified}`);
}

/**
 * A short description of a value for error messages (never recursive).
 */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v === undefined) return '(missing)';
  if (v instanceof PickleGlobal) return v.qualified;
  if (v instanceof PickleObject) return `a ${v.className} object`;
  if (v instanceof TensorRef) return `a tensor [${v.shape.join(', ')}]`;
  if (v instanceof Map) return `a dict of ${v.size}`;
  if (Array.isArray(v)) return `a list/tuple of ${v.length}`;
  if (v instanceof Uint8Array) return `${v.length} bytes`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'key' in v ? `storage ${describe((v as StorageRef).key)}` : 'an object';
  return String(v);
}

const OP_NAMES: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2',
  0x87: 'TUPLE3', 0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES', 0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS', 0x91: 'FROZENSET', 0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME',
  0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER',
};

/**
 * Runs a Python pickle (the opcodes torch.save writes) into plain values (PickleGlobal, PickleObject, TensorRef,
 * Map, arrays); source names the input in errors.
 */
export function unpickle(bytes: Uint8Array, source: string, opts: UnpickleOptions = {}): unknown {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let at = 0; // the current opcode's offset, for messages
  const where = (): string => `pickle ${source} at byte ${at}`;

  const need = (n: number): number => {
    if (n < 0 || pos + n > bytes.length) fail(`${where()}: needs ${n} more bytes but the pickle ends at byte ${bytes.length} (truncated)`);
    const p = pos;
    pos += n;
    return p;
  };
  const text = (n: number): string => {
    const p = need(n);
    try {
      return utf8.decode(bytes.subarray(p, p + n));
    } catch {
      fail(`${where()}: string is not valid UTF-8`);
    }
  };
  const line = (): string => { // protocol-0 GLOBAL arguments: text up to a newline
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0 || end - pos > 1000) fail(`${where()}: GLOBAL name is not terminated by a newline`);
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail(`${where()}: the stack is empty (unbalanced pickle)`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail(`${where()}: the stack is empty (unbalanced pickle)`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail(`${where()}: no MARK to pop to (unbalanced pickle)`);
    stack = prev;
    return items;
  };
  const size = (n: number | bigint, what: string): number => {
    if (typeof n === 'bigint' ? n > BigInt(bytes.length) : n > bytes.length) fail(`${where()}: ${what} of ${n} bytes is longer than the pickle`);
    return Number(n);
  };
  const long = (n: number): number | bigint => { // little-endian two's complement
    const p = need(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[p + i]);
    if (bytes[p + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const setItems = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof Map)) fail(`${where()}: SETITEM(S) on ${describe(d)}, not a dict`);
    if (items.length % 2) fail(`${where()}: SETITEMS with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const appendItems = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) fail(`${where()}: APPEND(S) on ${describe(l)}, not a list`);
    for (const x of items) l.push(x);
  };

  for (;;) {
    at = pos;
    const op = bytes[need(1)];
    switch (op) {
      case 0x80: need(1); break;                                           // PROTO
      case 0x95: need(8); break;                                           // FRAME (a length hint only)
      case 0x2e: {                                                         // STOP
        if (marks.length > 0) fail(`${where()}: STOP with ${marks.length} MARK(s) still open (unbalanced pickle)`);
        if (stack.length !== 1) fail(`${where()}: STOP with ${stack.length} values on the stack, expected 1 (unbalanced pickle)`);
        return stack[0];
      }
      case 0x28:                                                           // MARK
        if (marks.length >= MAX_NESTING) fail(`${where()}: nested deeper than ${MAX_NESTING} levels`);
        marks.push(stack);
        stack = [];
        break;
      case 0x30: pop(); break;                                             // POP
      case 0x31: popMark(); break;                                         // POP_MARK
      case 0x32: stack.push(top()); break;                                 // DUP
      case 0x4e: stack.push(null); break;                                  // NONE
      case 0x88: stack.push(true); break;                                  // NEWTRUE
      case 0x89: stack.push(false); break;                                 // NEWFALSE
      case 0x4a: stack.push(dv.getInt32(need(4), true)); break;            // BININT
      case 0x4b: stack.push(bytes[need(1)]); break;                        // BININT1
      case 0x4d: stack.push(dv.getUint16(need(2), true)); break;           // BININT2
      case 0x8a: stack.push(long(bytes[need(1)])); break;                  // LONG1
      case 0x8b: {                                                         // LONG4
        const n = dv.getInt32(need(4), true);
        if (n < 0 || n > 64) fail(`${where()}: LONG4 of ${n} bytes (torch never writes integers that long)`);
        stack.push(long(n));
        break;
      }
      case 0x47: stack.push(dv.getFloat64(need(8), false)); break;         // BINFLOAT (big-endian)
      case 0x58: stack.push(text(size(dv.getUint32(need(4), true), 'string'))); break;   // BINUNICODE
      case 0x8c: stack.push(text(bytes[need(1)])); break;                  // SHORT_BINUNICODE
      case 0x8d: stack.push(text(size(dv.getBigUint64(need(8), true), 'string'))); break; // BINUNICODE8
      case 0x55: case 0x43: {                                              // SHORT_BINSTRING, SHORT_BINBYTES
        const n = bytes[need(1)];
        const p = need(n);
        stack.push(op === 0x55 ? new TextDecoder('latin1').decode(bytes.subarray(p, p + n)) : bytes.slice(p, p + n));
        break;
      }
      case 0x54: case 0x42: {                                              // BINSTRING, BINBYTES
        const n = size(dv.getUint32(need(4), true), 'string');
        const p = need(n);
        stack.push(op === 0x54 ? new TextDecoder('latin1').decode(bytes.subarray(p, p + n)) : bytes.slice(p, p + n));
        break;
      }
      case 0x8e: {                                                         // BINBYTES8
        const n = size(dv.getBigUint64(need(8), true), 'bytes');
        const p = need(n);
        stack.push(bytes.slice(p, p + n));
        break;
      }
      case 0x29: stack.push([]); break;                                    // EMPTY_TUPLE
      case 0x5d: stack.push([]); break;                                    // EMPTY_LIST
      case 0x7d: stack.push(new Map()); break;                             // EMPTY_DICT
      case 0x74: case 0x6c: { const items = popMark(); stack.push(items); break; } // TUPLE, LIST (popMark swaps `stack`)
      case 0x85: stack.push([pop()]); break;                               // TUPLE1
      case 0x86: { const b = pop(); stack.push([pop(), b]); break; }       // TUPLE2
      case 0x87: { const c = pop(); const b = pop(); stack.push([pop(), b, c]); break; } // TUPLE3
      case 0x64: { const d = new Map(); setItems(d, popMark()); stack.push(d); break; }  // DICT
      case 0x61: { const x = pop(); appendItems(top(), [x]); break; }      // APPEND
      case 0x65: { const items = popMark(); appendItems(top(), items); break; }          // APPENDS
      case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }   // SETITEM
      case 0x75: { const items = popMark(); setItems(top(), items); break; }             // SETITEMS
      case 0x71: memo.set(bytes[need(1)], top()); break;                   // BINPUT
      case 0x72: memo.set(dv.getUint32(need(4), true), top()); break;      // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break;                        // MEMOIZE
      case 0x68: case 0x6a: {                                              // BINGET, LONG_BINGET
        const i = op === 0x68 ? bytes[need(1)] : dv.getUint32(need(4), true);
        if (!memo.has(i)) fail(`${where()}: memo entry ${i} was never stored`);
        stack.push(memo.get(i));
        break;
      }
      case 0x63: { const module = line(); const name = line(); stack.push(resolveGlobal(module, name, where())); break; } // GLOBAL
      case 0x93: {                                                         // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`${where()}: STACK_GLOBAL needs two strings`);
        stack.push(resolveGlobal(module, name, where()));
        break;
      }
      case 0x52: {                                                         // REDUCE
        const args = pop();
        const fn = pop();
        if (!(fn instanceof PickleGlobal) || fn.kind !== 'function') fail(`${where()}: refusing to call ${describe(fn)}`);
        if (!Array.isArray(args)) fail(`${where()}: ${fn.qualified} called with ${describe(args)}, not an argument tuple`);
        stack.push(callGlobal(fn, args, where()));
        break;
      }
      case 0x81: {                                                         // NEWOBJ: cls.__new__(cls, *args)
        pop();
        const cls = pop();
        if (!(cls instanceof PickleGlobal) || cls.kind !== 'class') fail(`${where()}: refusing to construct ${describe(cls)}`);
        stack.push(new PickleObject(cls.qualified));
        break;
      }
      case 0x62: {                                                         // BUILD: obj.__setstate__(state)
        const state = pop();
        const obj = top();
        if (obj instanceof PickleObject) obj.state = state;
        else if (!(obj instanceof Map)) fail(`${where()}: BUILD on ${describe(obj)}`); // OrderedDict's _metadata: ignored
        break;
      }
      case 0x51: {                                                         // BINPERSID
        const pid = pop();
        if (!opts.persistentLoad) fail(`${where()}: persistent id ${describe(pid)} in a pickle that may not have any`);
        stack.push(opts.persistentLoad(pid));
        break;
      }
      default:
        fail(`${where()}: opcode ${OP_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} is not supported ` +
          '(not one torch writes in a checkpoint)');
    }
  }
}

/**
 * A persistent id as torch.save and TorchScript write it: ('storage', storage type, key, location, numel).
 */
export function storageFromPid(pid: unknown, where: string): StorageRef {
  if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') fail(`${where}: persistent id ${describe(pid)} is not a ('storage', …) tuple`);
  const [, type, key, , numel] = pid as unknown[];
  if (!(type instanceof PickleGlobal) || type.kind !== 'storage' || type.dtype === null) fail(`${where}: storage type ${describe(type)} is not a torch storage class`);
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(key)) fail(`${where}: storage key ${describe(key)} is not a plain name`);
  if (!isInt(numel) || numel < 0) fail(`${where}: storage "${key}" has ${describe(numel)} elements`);
  return { key, dtype: type.dtype, numel };
}
