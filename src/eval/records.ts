// eval/records.ts: the per-pair records of an evaluation run, as JSON Lines. A file holds one header line (the
// run's settings and its shard), then blocks: the shard's zero-shot trials, then one block per image (a line per
// pair and method). Every block ends with an `end` line that counts its lines, and is appended with one write, so
// a killed run leaves at most one torn or unfinished block at the end: parseRecords finds it and tells the caller
// how many bytes to keep; the block is then redone. Numbers round-trip exactly (JSON.stringify writes the
// shortest decimal that reads back to the same double), so a table made from records is the table of the run.
// Format 2 names the model and dataset by their content (tools/lib/identity.js), so shards run where they are
// mounted at other paths combine; format 1 (older files) named them by path, and is still read.

import { fail } from '../errors.js';
import type { Shard } from './shard.js';

/** The format name in every header; a new format gets a new name. */
export const RECORDS_FORMAT = 'decomcam-eval-records/2';
/** The format before it: the same lines, but the header's model and dataset are paths (still read and merged). */
export const RECORDS_FORMAT_V1 = 'decomcam-eval-records/1';

/** What fixes the numbers of a run: runs (and shards) combine only when these are equal. */
export interface EvalSettings {
  decomcam: string;       // the package version
  model: string;          // the model's content: 'sha256:' + 16 hex digits of its files (format 1: its folder's path)
  dataset: string;        // the dataset's kind and content: 'scenes:sha256:…' (format 1: its kind and path)
  groups: string[] | null; // the dataset's pair groups, in table order, or null
  dtype: string;
  preset: string;
  layer: string;
  methods: string[];
  limit: number | null;   // the first `limit` pairs of the dataset, or all
  steps: number;
  tolerance: number;
}

/** Where a shard ran: for messages only, never compared (another machine may mount the same files elsewhere). */
export interface RecordsOrigin {
  host: string;
  model: string;          // the model's path there
  dataset: string;        // the dataset's kind and path there
}

/** The first line of a records file. */
export interface HeaderRecord {
  kind: 'header';
  format: string;         // RECORDS_FORMAT, or RECORDS_FORMAT_V1 in an older file
  settings: EvalSettings;
  shard: Shard;
  images: number;         // zero-shot trials in this shard
  pairs: number;          // image–text pairs in this shard (each has a line per method)
  origin?: RecordsOrigin; // format 2
}

/** One image's zero-shot trial: did the top prompt name one of its objects. */
export interface ZeroShotRecord {
  kind: 'zeroShot';
  image: string;
  hit: 0 | 1;
  objects: number;
}

/** One pair and method: every metric, the two scores average drop / increase are made of, and the time. */
export interface PairRecord {
  kind: 'pair';
  image: string;
  object: string;
  method: string;
  group: string | null;   // the dataset-defined group, or null
  pointingGame: 0 | 1;    // torchray's rule: within `tolerance` px of the object
  strictPointing: 0 | 1;  // the maximum inside the object's mask (or box)
  energyPG: number;
  boxIoU: number;
  deletionAUC: number;
  insertionAUC: number;
  Y: number;              // the prompt's probability on the image
  O: number;              // … on image × map
  seconds: number;
}

/** Closes a block; `lines` counts the records before it. */
export interface EndRecord {
  kind: 'end';
  block: 'zeroShot' | 'image';
  image?: string;
  lines: number;
}

export type EvalRecord = ZeroShotRecord | PairRecord;

/** The text of one block: its records and the end line, each line ending in '\n'. */
export function blockText(block: 'zeroShot' | 'image', records: EvalRecord[], image?: string): string {
  const end: EndRecord = { kind: 'end', block, ...(image !== undefined ? { image } : {}), lines: records.length };
  return [...records, end].map((r) => `${JSON.stringify(r)}\n`).join('');
}

/** The header line of a records file. */
export function headerText(header: HeaderRecord): string {
  return `${JSON.stringify(header)}\n`;
}

/** What a records file holds: its header, the records of its complete blocks, and what to cut. */
export interface ParsedRecords {
  header: HeaderRecord;
  records: EvalRecord[];
  zeroShotDone: boolean;
  imagesDone: Set<string>;
  keepBytes: number;      // the bytes of the header and the complete blocks; anything after is torn or unfinished
  droppedLines: number;   // complete lines after keepBytes (an unfinished block), to be redone
  tornTail: boolean;      // the file ends inside a line
}

// A line read back as the record it claims to be, every field checked (a hand-edited file fails here, by name).
function checkRecord(r: Record<string, unknown>, where: string): EvalRecord | EndRecord {
  const bad = (what: string): never => fail(`${where}: ${what}; the file was changed by something else (delete it to redo its pairs)`, 'usage');
  const str = (k: string): string => (typeof r[k] === 'string' ? (r[k] as string) : bad(`${k} is ${JSON.stringify(r[k])}, not a string`));
  const int = (k: string): number => (Number.isInteger(r[k]) ? (r[k] as number) : bad(`${k} is ${JSON.stringify(r[k])}, not an integer`));
  const num = (k: string): number => (typeof r[k] === 'number' && Number.isFinite(r[k]) ? (r[k] as number) : bad(`${k} is ${JSON.stringify(r[k])}, not a finite number`));
  const bit = (k: string): 0 | 1 => (r[k] === 0 || r[k] === 1 ? r[k] : bad(`${k} is ${JSON.stringify(r[k])}, not 0 or 1`));
  if (r.kind === 'end') {
    const block = r.block === 'zeroShot' || r.block === 'image' ? r.block : bad(`an end line of block ${JSON.stringify(r.block)}`);
    return { kind: 'end', block, ...(block === 'image' ? { image: str('image') } : {}), lines: int('lines') };
  }
  if (r.kind === 'zeroShot') return { kind: 'zeroShot', image: str('image'), hit: bit('hit'), objects: int('objects') };
  if (r.kind === 'pair') {
    return {
      kind: 'pair', image: str('image'), object: str('object'), method: str('method'),
      group: r.group === null ? null : str('group'),
      pointingGame: bit('pointingGame'), strictPointing: bit('strictPointing'),
      energyPG: num('energyPG'), boxIoU: num('boxIoU'), deletionAUC: num('deletionAUC'), insertionAUC: num('insertionAUC'),
      Y: num('Y'), O: num('O'), seconds: num('seconds'),
    };
  }
  return bad(`a line of kind ${JSON.stringify(r.kind)}`);
}

// The header, its fields checked.
function checkHeader(h: Record<string, unknown>, file: string): HeaderRecord {
  const bad = (): never => fail(`${file} line 1 is not a ${RECORDS_FORMAT} header (nor a ${RECORDS_FORMAT_V1} one): it is not ` +
    'a records file of this version of tools/eval.js', 'usage');
  if (h.kind !== 'header' || (h.format !== RECORDS_FORMAT && h.format !== RECORDS_FORMAT_V1)) bad();
  const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : bad());
  const s = obj(h.settings);
  const sh = obj(h.shard);
  if (!Number.isInteger(sh.index) || !Number.isInteger(sh.count) || !Number.isInteger(h.images) || !Number.isInteger(h.pairs) ||
      !Array.isArray(s.methods)) bad();
  const settings: EvalSettings = {
    decomcam: String(s.decomcam), model: String(s.model), dataset: String(s.dataset),
    groups: Array.isArray(s.groups) ? s.groups.map(String) : null, dtype: String(s.dtype),
    preset: String(s.preset), layer: String(s.layer), methods: (s.methods as unknown[]).map(String),
    limit: typeof s.limit === 'number' ? s.limit : null, steps: Number(s.steps), tolerance: Number(s.tolerance),
  };
  const o = h.origin === undefined ? undefined : obj(h.origin);
  const origin = o ? { host: String(o.host), model: String(o.model), dataset: String(o.dataset) } : undefined;
  return { kind: 'header', format: h.format as string, settings, shard: { index: sh.index as number, count: sh.count as number },
    images: h.images as number, pairs: h.pairs as number, ...(origin ? { origin } : {}) };
}

/**
 * Reads a records file's bytes. The last line may be torn (no final newline) and the last block unfinished (no end
 * line): both are left out and reported. Anything else that is not a record — a broken line before the last, an end
 * line whose count is wrong, a second header — throws DecomcamError ('usage') naming the file and line.
 */
export function parseRecords(bytes: Uint8Array, file: string): ParsedRecords {
  const lines: { text: string; end: number }[] = []; // end = byte offset just past the line's '\n'
  let start = 0;
  for (let k = 0; k < bytes.length; k++) {
    if (bytes[k] === 0x0a) {
      lines.push({ text: new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(start, k)), end: k + 1 });
      start = k + 1;
    }
  }
  const tornTail = start < bytes.length;
  if (lines.length === 0) fail(`${file} has no header line: it is not a records file of tools/eval.js (delete it to start over)`, 'usage');
  const parse = (n: number): Record<string, unknown> => {
    try {
      const v: unknown = JSON.parse(lines[n].text);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
      return v as Record<string, unknown>;
    } catch (e) {
      return fail(`${file} line ${n + 1} is not a JSON record (${(e as Error).message}); the file was changed by something ` +
        'else (delete it to redo its pairs)', 'usage');
    }
  };
  const header = checkHeader(parse(0), file);
  const records: EvalRecord[] = [];
  const imagesDone = new Set<string>();
  let zeroShotDone = false;
  let keepBytes = lines[0].end;
  let pending: EvalRecord[] = [];
  for (let n = 1; n < lines.length; n++) {
    const r = checkRecord(parse(n), `${file} line ${n + 1}`);
    if (r.kind !== 'end') {
      pending.push(r);
      continue;
    }
    const kindOk = pending.every((p) => p.kind === (r.block === 'zeroShot' ? 'zeroShot' : 'pair'))
      && (r.block === 'zeroShot' || pending.every((p) => p.image === r.image));
    if (r.lines !== pending.length || !kindOk) {
      fail(`${file} line ${n + 1} ends a ${r.block} block of ${r.lines} lines, but the block has ${pending.length}` +
        `${kindOk ? '' : ', not all of that kind'}; ` +
        'the file was changed by something else (delete it to redo its pairs)', 'usage');
    }
    if (r.block === 'zeroShot') zeroShotDone = true; else imagesDone.add(r.image as string);
    records.push(...pending);
    pending = [];
    keepBytes = lines[n].end;
  }
  return { header, records, zeroShotDone, imagesDone, keepBytes, droppedLines: pending.length, tornTail };
}

/**
 * The first thing in which the runs of two headers differ, or null when they are one run's: the format, then
 * the settings. `a` and `b` describe each side's value; a model or dataset (compared by content) also says where
 * that side's files were, from its origin.
 */
export function runDifference(a: HeaderRecord, b: HeaderRecord): { key: string; a: string; b: string } | null {
  if (a.format !== b.format) {
    const what = (h: HeaderRecord): string => (h.format === RECORDS_FORMAT_V1
      ? `${h.format} (model and dataset named by path: an older tools/eval.js)` : `${h.format} (model and dataset named by content)`);
    return { key: 'format', a: what(a), b: what(b) };
  }
  const k = differingSetting(a.settings, b.settings);
  if (k === null) return null;
  const where = (h: HeaderRecord): string => (h.origin && (k === 'model' || k === 'dataset')
    ? ` (${k === 'model' ? h.origin.model : h.origin.dataset} on host ${h.origin.host})` : '');
  return { key: k, a: `${JSON.stringify(a.settings[k])}${where(a)}`, b: `${JSON.stringify(b.settings[k])}${where(b)}` };
}

// The first setting in which two runs differ, or null.
function differingSetting(a: EvalSettings, b: EvalSettings): keyof EvalSettings | null {
  for (const k of Object.keys(a) as (keyof EvalSettings)[]) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return k;
  return null;
}

/** The first setting in which two runs differ ('' when none), for messages. */
export function settingsDiffer(a: EvalSettings, b: EvalSettings): string {
  const k = differingSetting(a, b);
  return k === null ? '' : `${k} is ${JSON.stringify(a[k])} there, ${JSON.stringify(b[k])} here`;
}
