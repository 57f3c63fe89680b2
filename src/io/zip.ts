// io/zip.ts: a zip reader for PyTorch archives (torch.save since 1.6, torch.jit.save). Entries are located
// through the central directory (zip64 records included: PyTorch always writes them); stored entries are views
// over the one file buffer (PyTorch stores tensor data uncompressed, 64-byte aligned), deflated ones (the
// TorchScript code/ files) are inflated with a bound. Every offset and size is checked before it is used.
// An archive opened from a file (openZip) reads only its records and the entries asked for, by offset.

import { inflateRawSync } from 'node:zlib';
import { fail } from '../errors.js';
import { memorySource, type ByteSource } from './tensorfile.js';

/** One entry of a zip archive's central directory. */
export interface ZipEntry {
  name: string;
  method: number;          // 0 stored, 8 deflated
  compressedSize: number;
  size: number;            // uncompressed
  dataStart: number;       // offset of the entry's data in the file
}

/** A zip archive: its entries by name, and where their bytes are read from. */
export interface ZipArchive {
  source: string;
  bytes: Uint8Array;          // the whole archive when read from a buffer (readZip); empty when opened from a file
  reader: ByteSource;         // the archive's bytes by offset (the buffer, or the open file)
  entries: Map<string, ZipEntry>;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_SIZE = 22;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;

/**
 * True when `bytes` starts like a zip file (a local file header).
 */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
}

/**
 * Reads a zip archive's central directory (zip64 included), checking every offset and size; throws DecomcamError
 * naming source when it is malformed.
 */
export function readZip(bytes: Uint8Array, source: string): ZipArchive {
  return { source, bytes, reader: memorySource(bytes), entries: readDirectory(memorySource(bytes), source) };
}

/**
 * The same for an archive read by offset (an open file): only the end records, the central directory and the
 * local headers are read now; entries later, when asked for.
 */
export function openZip(reader: ByteSource, source: string): ZipArchive {
  return { source, bytes: new Uint8Array(0), reader, entries: readDirectory(reader, source) };
}

// The central directory of the archive `src` holds, every entry checked against its size.
function readDirectory(src: ByteSource, source: string): Map<string, ZipEntry> {
  const where = `zip archive ${source}`;
  const size = src.size;
  // little-endian fields of a piece read from `base`, addressed by their offset in the file
  const piece = (base: number, len: number): { u16: (at: number) => number; u32: (at: number) => number; u64: (at: number, what: string) => number; raw: Uint8Array } => {
    const raw = src.bytes(base, len);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    return {
      raw,
      u16: (at) => dv.getUint16(at - base, true),
      u32: (at) => dv.getUint32(at - base, true),
      u64: (at, what) => {
        const v = dv.getBigUint64(at - base, true);
        if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${where}: ${what} ${v} is too large to be real (corrupt file)`);
        return Number(v);
      },
    };
  };

  // the end-of-central-directory record: the last 22+ bytes, before a comment of up to 64 KiB (and the zip64
  // locator's 20 bytes before that)
  if (size < EOCD_SIZE) fail(`${where}: file is ${size} bytes, too short for a zip (truncated?)`);
  const tailStart = Math.max(0, size - EOCD_SIZE - MAX_COMMENT - 20);
  const tail = piece(tailStart, size - tailStart);
  const { u16, u32 } = tail;
  let eocd = -1;
  for (let at = size - EOCD_SIZE; at >= Math.max(0, size - EOCD_SIZE - MAX_COMMENT); at--) {
    if (u32(at) === EOCD_SIG && at + EOCD_SIZE + u16(at + 20) === size) { eocd = at; break; }
  }
  if (eocd < 0) fail(`${where}: no end-of-central-directory record (the file is truncated or not a zip)`);
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail(`${where}: multi-disk (split) zip archives are not supported`);

  // zip64: a locator just before the record points at the zip64 end record with the 64-bit values
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR_SIG) {
    const at = tail.u64(eocd - 20 + 8, 'zip64 end record offset');
    if (at + 56 > eocd - 20) fail(`${where}: zip64 end record offset ${at} is outside the file`);
    const z = piece(at, 56);
    if (z.u32(at) !== ZIP64_EOCD_SIG) fail(`${where}: no zip64 end record at offset ${at} (corrupt file)`);
    count = z.u64(at + 32, 'entry count');
    cdSize = z.u64(at + 40, 'central directory size');
    cdOffset = z.u64(at + 48, 'central directory offset');
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail(`${where}: the end record asks for zip64 values but there is no zip64 locator (corrupt file)`);
  }
  if (cdOffset + cdSize > size) {
    fail(`${where}: central directory [${cdOffset}, ${cdOffset + cdSize}) reaches past the end of the file (${size} bytes; truncated?)`);
  }
  if (count * CENTRAL_SIZE > cdSize) fail(`${where}: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const cd = piece(cdOffset, cdSize);
  const names = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdOffset + cdSize || cd.u32(p) !== CENTRAL_SIG) fail(`${where}: central directory entry ${i} is malformed`);
    const flags = cd.u16(p + 8);
    const method = cd.u16(p + 10);
    let compressedSize = cd.u32(p + 20);
    let size = cd.u32(p + 24);
    const nameLen = cd.u16(p + 28);
    const extraLen = cd.u16(p + 30);
    const commentLen = cd.u16(p + 32);
    let local = cd.u32(p + 42);
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) fail(`${where}: central directory entry ${i} runs past the directory`);
    const name = names.decode(cd.raw.subarray(p - cdOffset + CENTRAL_SIZE, p - cdOffset + CENTRAL_SIZE + nameLen));
    // zip64 extended information: the 64-bit values of whichever fields are saturated, in this order
    for (let e = p + CENTRAL_SIZE + nameLen; e + 4 <= p + CENTRAL_SIZE + nameLen + extraLen;) {
      const id = cd.u16(e);
      const len = cd.u16(e + 2);
      if (e + 4 + len > p + CENTRAL_SIZE + nameLen + extraLen) fail(`${where}: entry "${name}": extra field runs past its entry`);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(`${where}: entry "${name}": zip64 field has no ${what}`);
          const v = cd.u64(q, `entry "${name}" ${what}`);
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take('size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (local === 0xffffffff) local = take('offset');
      }
      e += 4 + len;
    }
    if (flags & 1) fail(`${where}: entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) fail(`${where}: entry "${name}" uses compression method ${method}; only stored (0) and deflate (8) are supported`);
    if (method === 0 && compressedSize !== size) fail(`${where}: stored entry "${name}" has compressed size ${compressedSize} ≠ size ${size}`);
    const lh = local + LOCAL_SIZE > src.size ? null : piece(local, LOCAL_SIZE);
    if (!lh || lh.u32(local) !== LOCAL_SIG) {
      fail(`${where}: entry "${name}": no local header at offset ${local} (truncated or corrupt)`);
    }
    const dataStart = local + LOCAL_SIZE + lh.u16(local + 26) + lh.u16(local + 28);
    if (dataStart + compressedSize > src.size) {
      fail(`${where}: entry "${name}" data [${dataStart}, ${dataStart + compressedSize}) reaches past the end of the file (${src.size} bytes; truncated?)`);
    }
    if (entries.has(name)) fail(`${where}: entry "${name}" appears twice`);
    entries.set(name, { name, method, compressedSize, size, dataStart });
    p = end;
  }
  return entries;
}

/**
 * An entry's bytes: a view for a stored entry; a deflated one is inflated (never past its declared size,
 * and at most maxBytes, so a zip bomb is an error, not an allocation).
 */
export function zipEntryBytes(zip: ZipArchive, name: string, maxBytes = 256 * 1024 * 1024): Uint8Array {
  const e = zip.entries.get(name);
  if (!e) fail(`zip archive ${zip.source}: no entry "${name}"`);
  if (e.method === 0) return zip.reader.bytes(e.dataStart, e.compressedSize);
  if (e.size > maxBytes) fail(`zip archive ${zip.source}: entry "${name}" inflates to ${e.size} bytes (limit ${maxBytes})`);
  const raw = zip.reader.bytes(e.dataStart, e.compressedSize);
  let out: Uint8Array;
  try {
    out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
  } catch (err) {
    fail(`zip archive ${zip.source}: entry "${name}" does not inflate (${(err as Error).message})`);
  }
  if (out.length !== e.size) fail(`zip archive ${zip.source}: entry "${name}" inflates to ${out.length} bytes, its header says ${e.size}`);
  return out;
}
