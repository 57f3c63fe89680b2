// io/zip.ts: a zip reader for PyTorch archives (torch.save since 1.6, torch.jit.save). Entries are located
// through the central directory (zip64 records included: PyTorch always writes them); stored entries are views
// over the one file buffer (PyTorch stores tensor data uncompressed, 64-byte aligned), deflated ones (the
// TorchScript code/ files) are inflated with a bound. Every offset and size is checked before it is used.

import { inflateRawSync } from 'node:zlib';
import { fail } from '../errors.js';

/** One entry of a zip archive's central directory. */
export interface ZipEntry {
  name: string;
  method: number;          // 0 stored, 8 deflated
  compressedSize: number;
  size: number;            // uncompressed
  dataStart: number;       // offset of the entry's data in the file
}

/** A zip archive read from one buffer: its entries by name. */
export interface ZipArchive {
  source: string;
  bytes: Uint8Array;
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
  const where = `zip archive ${source}`;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number): number => dv.getUint16(at, true);
  const u32 = (at: number): number => dv.getUint32(at, true);
  const u64 = (at: number, what: string): number => {
    const v = dv.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${where}: ${what} ${v} is too large to be real (corrupt file)`);
    return Number(v);
  };

  // the end-of-central-directory record: the last 22+ bytes, before a comment of up to 64 KiB
  if (bytes.length < EOCD_SIZE) fail(`${where}: file is ${bytes.length} bytes, too short for a zip (truncated?)`);
  let eocd = -1;
  for (let at = bytes.length - EOCD_SIZE; at >= Math.max(0, bytes.length - EOCD_SIZE - MAX_COMMENT); at--) {
    if (u32(at) === EOCD_SIG && at + EOCD_SIZE + u16(at + 20) === bytes.length) { eocd = at; break; }
  }
  if (eocd < 0) fail(`${where}: no end-of-central-directory record (the file is truncated or not a zip)`);
  let count = u16(eocd + 10);
  let cdSize = u32(eocd + 12);
  let cdOffset = u32(eocd + 16);
  if (u16(eocd + 4) !== 0 || u16(eocd + 6) !== 0) fail(`${where}: multi-disk (split) zip archives are not supported`);

  // zip64: a locator just before the record points at the zip64 end record with the 64-bit values
  if (eocd >= 20 && u32(eocd - 20) === ZIP64_LOCATOR_SIG) {
    const at = u64(eocd - 20 + 8, 'zip64 end record offset');
    if (at + 56 > eocd - 20) fail(`${where}: zip64 end record offset ${at} is outside the file`);
    if (u32(at) !== ZIP64_EOCD_SIG) fail(`${where}: no zip64 end record at offset ${at} (corrupt file)`);
    count = u64(at + 32, 'entry count');
    cdSize = u64(at + 40, 'central directory size');
    cdOffset = u64(at + 48, 'central directory offset');
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    fail(`${where}: the end record asks for zip64 values but there is no zip64 locator (corrupt file)`);
  }
  if (cdOffset + cdSize > bytes.length) {
    fail(`${where}: central directory [${cdOffset}, ${cdOffset + cdSize}) reaches past the end of the file (${bytes.length} bytes; truncated?)`);
  }
  if (count * CENTRAL_SIZE > cdSize) fail(`${where}: ${count} entries cannot fit in a ${cdSize}-byte central directory`);

  const names = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + CENTRAL_SIZE > cdOffset + cdSize || u32(p) !== CENTRAL_SIG) fail(`${where}: central directory entry ${i} is malformed`);
    const flags = u16(p + 8);
    const method = u16(p + 10);
    let compressedSize = u32(p + 20);
    let size = u32(p + 24);
    const nameLen = u16(p + 28);
    const extraLen = u16(p + 30);
    const commentLen = u16(p + 32);
    let local = u32(p + 42);
    const end = p + CENTRAL_SIZE + nameLen + extraLen + commentLen;
    if (end > cdOffset + cdSize) fail(`${where}: central directory entry ${i} runs past the directory`);
    const name = names.decode(bytes.subarray(p + CENTRAL_SIZE, p + CENTRAL_SIZE + nameLen));
    // zip64 extended information: the 64-bit values of whichever fields are saturated, in this order
    for (let e = p + CENTRAL_SIZE + nameLen; e + 4 <= p + CENTRAL_SIZE + nameLen + extraLen;) {
      const id = u16(e);
      const len = u16(e + 2);
      if (e + 4 + len > p + CENTRAL_SIZE + nameLen + extraLen) fail(`${where}: entry "${name}": extra field runs past its entry`);
      if (id === 0x0001) {
        let q = e + 4;
        const take = (what: string): number => {
          if (q + 8 > e + 4 + len) fail(`${where}: entry "${name}": zip64 field has no ${what}`);
          const v = u64(q, `entry "${name}" ${what}`);
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
    if (local + LOCAL_SIZE > bytes.length || u32(local) !== LOCAL_SIG) {
      fail(`${where}: entry "${name}": no local header at offset ${local} (truncated or corrupt)`);
    }
    const dataStart = local + LOCAL_SIZE + u16(local + 26) + u16(local + 28);
    if (dataStart + compressedSize > bytes.length) {
      fail(`${where}: entry "${name}" data [${dataStart}, ${dataStart + compressedSize}) reaches past the end of the file (${bytes.length} bytes; truncated?)`);
    }
    if (entries.has(name)) fail(`${where}: entry "${name}" appears twice`);
    entries.set(name, { name, method, compressedSize, size, dataStart });
    p = end;
  }
  return { source, bytes, entries };
}

/**
 * An entry's bytes: a view for a stored entry; a deflated one is inflated (never past its declared size,
 * and at most maxBytes, so a zip bomb is an error, not an allocation).
 */
export function zipEntryBytes(zip: ZipArchive, name: string, maxBytes = 256 * 1024 * 1024): Uint8Array {
  const e = zip.entries.get(name);
  if (!e) fail(`zip archive ${zip.source}: no entry "${name}"`);
  const raw = zip.bytes.subarray(e.dataStart, e.dataStart + e.compressedSize);
  if (e.method === 0) return raw;
  if (e.size > maxBytes) fail(`zip archive ${zip.source}: entry "${name}" inflates to ${e.size} bytes (limit ${maxBytes})`);
  let out: Uint8Array;
  try {
    out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
  } catch (err) {
    fail(`zip archive ${zip.source}: entry "${name}" does not inflate (${(err as Error).message})`);
  }
  if (out.length !== e.size) fail(`zip archive ${zip.source}: entry "${name}" inflates to ${out.length} bytes, its header says ${e.size}`);
  return out;
}
