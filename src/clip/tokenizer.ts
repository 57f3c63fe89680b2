// clip/tokenizer.ts: CLIP's byte-level BPE, exactly as openai/CLIP's simple_tokenizer.py + clip.tokenize with ftfy
// taken as identity: html-unescape twice, collapse Unicode whitespace, lower-case, pre-split, bytes → printable
// characters, '</w>' on each word's last symbol, greedy lowest-rank merges. T = context length (77), V = vocab size.
// Choices: an over-long prompt is an error naming its token count and T; `{ truncate: true }` keeps the first T-1
// tokens then <|endoftext|> (clip.tokenize(truncate=True)). Empty text, and a symbol the vocabulary lacks, are errors.

import { readFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeHTML, replaceCodePoint } from 'entities/decode';
import { DecomcamError, describeJson, fail } from '../errors.js';

/** The start-of-text special token. */
export const SOT_TOKEN = '<|startoftext|>';
/** The end-of-text special token. */
export const EOT_TOKEN = '<|endoftext|>';
/** CLIP's default text context length, in tokens. */
export const CONTEXT_LENGTH = 77;
// simple_tokenizer reads lines 1 .. 49152-256-2 of the .gz: 48894 merges (the file holds more, unused).
const GZ_MERGES = 49152 - 256 - 2;

// ---------------------------------------------------------------------------------------------------------------
// Text clean-up: whitespace_clean(basic_clean(text)).lower()

// Python's str.isspace() — what re's \s and str.strip() use. JS's \s differs: it has U+FEFF and lacks
// U+001C-U+001F and U+0085.
const PY_SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${PY_SPACE}]+`, 'gu');
const SPACE_EDGES = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, 'gu');

// Python's html.unescape: the same match pattern; numeric references by Python's rules, named ones by the
// HTML5 table of `entities` (its Legacy mode decodes the longest legacy name without ';', as Python does).
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/**
 * html.unescape's numeric reference: Windows-1252 for 0x80-0x9F, U+FFFD for NUL, surrogates and > U+10FFFF,
 * nothing ('') for the control and non-characters Python lists in html._invalid_codepoints.
 */
export function numericCharRef(num: number): string {
  if (num === 0 || num === 0x0d || (num >= 0x80 && num <= 0x9f)) return String.fromCodePoint(replaceCodePoint(num));
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  const dropped = (num >= 0x01 && num <= 0x08) || num === 0x0b || (num >= 0x0e && num <= 0x1f) || num === 0x7f
    || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
  return dropped ? '' : String.fromCodePoint(num);
}

/**
 * One pass of Python's html.unescape(s).
 */
export function htmlUnescape(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(CHARREF, (match: string, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      const digits = ref.slice(hex ? 2 : 1).replace(/;$/, '');
      return numericCharRef(parseInt(digits, hex ? 16 : 10)); // huge values parse to > 0x10FFFF (or Infinity)
    }
    return decodeHTML(match); // '&' + the name: decoded longest-prefix, or unchanged when no name matches
  });
}

// Python's str.strip() with no argument.
function pyStrip(s: string): string {
  return s.replace(SPACE_EDGES, '');
}

/**
 * whitespace_clean(basic_clean(text)).lower(). toLowerCase is Python's lower() (full mappings, final sigma) for
 * every code point Python's Unicode knows; code points added since differ (see test/tokenizer.test.js).
 */
export function cleanText(text: string): string {
  const unescaped = pyStrip(htmlUnescape(htmlUnescape(text)));
  return pyStrip(unescaped.replace(SPACE_RUN, ' ')).toLowerCase();
}

// ---------------------------------------------------------------------------------------------------------------
// Pre-split: <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
// with Python regex's IGNORECASE, applied to lower-cased text. We spell out what IGNORECASE does there instead of
// using JS's /i: on lower-case text its only effect on the literals is s ≡ ſ (U+017F), and under it Python's
// [\p{L}] and [^\s\p{L}\p{N}] both refuse U+0345 (so Python drops that character), where JS's /iu counts it a
// letter. \s here is regex's (Unicode White_Space: Python's isspace without U+001C-U+001F).
const REGEX_SPACE = '\\t-\\r\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPLIT = new RegExp(
  "<\\|[sſ]tartoftext\\|>|<\\|endoftext\\|>|'[sſ]|'t|'re|'ve|'m|'ll|'d|\\p{L}+|\\p{N}" +
  `|[^${REGEX_SPACE}\\p{L}\\p{N}\\u0345]+`, 'gu');

/**
 * re.findall(pat, cleaned): the words BPE works on, in order.
 */
export function preSplit(cleaned: string): string[] {
  return cleaned.match(SPLIT) ?? [];
}

// ---------------------------------------------------------------------------------------------------------------
/**
 * bytes_to_unicode: each byte gets a printable character, so BPE symbols are strings without spaces or controls.
 * Printable Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the other 68 bytes take U+0100, U+0101, ...
 * in byte order. Every character is one UTF-16 unit (U+0021 .. U+0143).
 */
export function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let n = 0;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(printable(b) ? b : 256 + n++);
  return table;
}

// The order simple_tokenizer lists them in (its dict's insertion order): printable bytes first, then the rest.
// The first 256 ids of the OpenAI vocabulary follow this order.
function bytesToUnicodeOrder(table: string[]): string[] {
  const printable = table.filter((c, b) => c.charCodeAt(0) === b);
  const moved = table.filter((c, b) => c.charCodeAt(0) !== b);
  return [...printable, ...moved];
}

const BYTE_TO_CHAR = bytesToUnicode();
const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((c, b) => [c, b]));
const UTF8 = new TextEncoder();
const UTF8_REPLACE = new TextDecoder('utf-8'); // not fatal: invalid bytes become U+FFFD, as errors='replace'
const LONE_SURROGATE = /\p{Cs}/u;               // with /u, only unpaired surrogates are \p{Cs}

function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? text.slice(0, 57) + '...' : text);
}

// Words longer than this are not kept in the BPE cache (a 1 MB word without spaces would stay in memory).
const MAX_CACHED_WORD = 256;
/**
 * The longest row tokenize() makes: CLIP uses 77, long-context variants a few hundred; 2^31 would be 8 GB.
 */
export const MAX_CONTEXT_LENGTH = 65536;
/**
 * The longest text encode() reads: 2M characters (up to 6 MB of UTF-8, ~0.3 GB of BPE state for one word
 * without spaces). A prompt is a few hundred characters; this only keeps a pasted file from filling memory.
 */
export const MAX_TEXT_CHARS = 2 ** 21;
// The most merges a tokenizer may list (CLIP has 48894; large LLM vocabularies a few hundred thousand).
const MAX_MERGES = 2 ** 21;

// (first, second) symbol numbers → merge rank, an open-addressing hash table over typed arrays (a Map keyed by
// a·S + b would box every key above 2^31 and spend most of bpe() in the garbage collector).
class PairTable {
  private readonly first: Int32Array;
  private readonly second: Int32Array;
  private readonly rank: Int32Array;
  private readonly mask: number;
  constructor(count: number) {
    let size = 16;
    while (size < 2 * count) size *= 2;
    this.first = new Int32Array(size).fill(-1);
    this.second = new Int32Array(size);
    this.rank = new Int32Array(size);
    this.mask = size - 1;
  }
  private slot(a: number, b: number): number {
    let k = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask;
    while (this.first[k] !== -1 && (this.first[k] !== a || this.second[k] !== b)) k = (k + 1) & this.mask;
    return k;
  }
  set(a: number, b: number, rank: number): void {
    const k = this.slot(a, b);
    this.first[k] = a; this.second[k] = b; this.rank[k] = rank;
  }
  get(a: number, b: number): number { // -1: no such merge
    if (a < 0 || b < 0) return -1;
    const k = this.slot(a, b);
    return this.first[k] === -1 ? -1 : this.rank[k];
  }
}

// A binary min-heap of (rank, position) pairs for bpe(), lower rank first, then lower position, each pair one
// float64 key rank·2^32 + position (exact: ranks are below MAX_MERGES = 2^21, positions below 2^32). Fixed
// capacity: a word of n symbols queues n − 1 pairs at the start and at most 2 per merge, n − 1 merges.
const POSITION_SPAN = 2 ** 32;
class PairHeap {
  private readonly keys: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.keys = new Float64Array(capacity);
  }
  topRank(): number { return Math.floor(this.keys[0] / POSITION_SPAN); }
  // Appends without ordering; heapify() restores the heap order once after a run of add().
  add(rank: number, position: number): void {
    this.keys[this.size++] = rank * POSITION_SPAN + position;
  }
  heapify(): void {
    for (let k = (this.size >> 1) - 1; k >= 0; k--) this.down(k);
  }
  push(rank: number, position: number): void {
    const keys = this.keys;
    const key = rank * POSITION_SPAN + position;
    let k = this.size++;
    while (k > 0) {
      const up = (k - 1) >> 1;
      if (keys[up] <= key) break;
      keys[k] = keys[up];
      k = up;
    }
    keys[k] = key;
  }
  pop(): number { // the position of the smallest pair
    const top = this.keys[0];
    this.keys[0] = this.keys[--this.size];
    this.down(0);
    return top % POSITION_SPAN;
  }
  private down(k: number): void {
    const keys = this.keys, n = this.size, key = keys[k];
    for (;;) {
      let c = 2 * k + 1;
      if (c >= n) break;
      if (c + 1 < n && keys[c + 1] < keys[c]) c++;
      if (keys[c] >= key) break;
      keys[k] = keys[c];
      k = c;
    }
    keys[k] = key;
  }
}

// ---------------------------------------------------------------------------------------------------------------
/** Options of ClipTokenizer.tokenize. */
export interface TokenizeOptions {
  truncate?: boolean; // over-long text: keep the first T-1 tokens and end with <|endoftext|> (default: error)
}

/**
 * CLIP's byte-level BPE tokenizer (as openai/CLIP's simple_tokenizer): text → token ids framed by <|startoftext|>
 * and <|endoftext|>.
 */
export class ClipTokenizer {
  readonly sot: number;       // id of <|startoftext|>
  readonly eot: number;       // id of <|endoftext|>
  readonly vocabSize: number; // V = largest id + 1 (the rows of the token embedding)
  readonly merges: readonly string[]; // 'first second' in rank order, as read
  private readonly encoder: Map<string, number>;   // symbol → id
  private readonly decoder: Map<number, string>;   // id → symbol
  // The merges by number, for bpe(): every symbol a merge names or makes gets a number; a pair of symbol
  // numbers (a·S + b, S symbols) maps to its rank (a repeated merge keeps its last rank, as
  // dict(zip(merges, range(len(merges)))) does), and mergedSymbol[rank] is the number of a + b.
  private readonly symbolIds = new Map<string, number>();
  private readonly symbolStrings: string[] = [];
  private readonly pairRanks: PairTable;
  private readonly mergedSymbol: Int32Array;
  private readonly byteSymbol = new Int32Array(256);    // byte → number of its character (-1: no merge names it)
  private readonly byteEndSymbol = new Int32Array(256); // the same with '</w>', for a word's last byte
  private readonly cache = new Map<string, string[]>(); // byte-encoded word → its BPE symbols

  private constructor(encoder: Map<string, number>, merges: string[], source: string) {
    this.encoder = encoder;
    this.merges = merges;
    const symbolId = (symbol: string): number => {
      let id = this.symbolIds.get(symbol);
      if (id === undefined) {
        id = this.symbolStrings.length;
        this.symbolIds.set(symbol, id);
        this.symbolStrings.push(symbol);
      }
      return id;
    };
    this.mergedSymbol = new Int32Array(merges.length);
    const pairs = merges.map((line, rank) => {
      const [a, b] = line.split(' ');
      this.mergedSymbol[rank] = symbolId(a + b);
      return [symbolId(a), symbolId(b)];
    });
    this.pairRanks = new PairTable(merges.length);
    pairs.forEach(([a, b], rank) => this.pairRanks.set(a, b, rank));
    for (let b = 0; b < 256; b++) {
      this.byteSymbol[b] = this.symbolIds.get(BYTE_TO_CHAR[b]) ?? -1;
      this.byteEndSymbol[b] = this.symbolIds.get(BYTE_TO_CHAR[b] + '</w>') ?? -1;
    }
    this.decoder = new Map();
    let maxId = -1;
    for (const [sym, id] of encoder) {
      const other = this.decoder.get(id);
      if (other !== undefined) {
        fail(`${source}: id ${id} is given to both ${quote(other)} and ${quote(sym)}; each id must name one token`);
      }
      this.decoder.set(id, sym);
      maxId = Math.max(maxId, id);
    }
    const special = (name: string) => encoder.get(name) ??
      fail(`${source}: the vocabulary has no ${name} token; a CLIP vocabulary needs ${SOT_TOKEN} and ${EOT_TOKEN}`);
    this.sot = special(SOT_TOKEN);
    this.eot = special(EOT_TOKEN);
    this.vocabSize = maxId + 1;
    // the special tokens are never split (simple_tokenizer seeds its cache with them)
    this.cache.set(SOT_TOKEN, [SOT_TOKEN]);
    this.cache.set(EOT_TOKEN, [EOT_TOKEN]);
  }

  // vocab: symbol → id (HF vocab.json); merges: 'a b' lines in rank order, no '#version' header.
  static fromVocabMerges(vocab: Record<string, number>, merges: string[], source = 'tokenizer'): ClipTokenizer {
    if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab)) {
      fail(`${source}: the vocabulary must be an object of token → id, got ${Array.isArray(vocab) ? 'an array' : typeof vocab}`);
    }
    const encoder = new Map<string, number>();
    for (const [sym, id] of Object.entries(vocab)) {
      if (!Number.isSafeInteger(id) || id < 0) {
        fail(`${source}: token ${quote(sym)} has id ${describeJson(id)}; ids must be integers ≥ 0`);
      }
      encoder.set(sym, id);
    }
    if (!Array.isArray(merges)) fail(`${source}: merges must be an array of 'a b' lines, got ${typeof merges}`);
    if (merges.length > MAX_MERGES) fail(`${source}: ${merges.length} merges, more than the ${MAX_MERGES} a BPE tokenizer here may have`);
    merges.forEach((line, rank) => {
      const parts = typeof line === 'string' ? line.split(' ') : [];
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
        fail(`${source}: merge ${rank + 1} is ${describeJson(line)}; expected two symbols separated by one space, e.g. "t h"`);
      }
    });
    return new ClipTokenizer(encoder, [...merges], source);
  }

  // openai/CLIP's bpe_simple_vocab_16e6.txt.gz: a '#version' line, then merges. The vocabulary is built from
  // them: 256 byte symbols, the same with '</w>', one symbol per merge (48894), <|startoftext|>, <|endoftext|>.
  static fromBpeGz(path: string): ClipTokenizer {
    const bytes = readTokenizerFile(path);
    let text: string;
    try {
      // CLIP's inflates to 1.4 MB; a gzip bomb stops at the cap instead of filling memory
      text = new TextDecoder('utf-8', { fatal: true }).decode(gunzipSync(bytes, { maxOutputLength: MAX_TOKENIZER_FILE_BYTES }));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        fail(`${path}: inflates to more than ${MAX_TOKENIZER_FILE_BYTES} bytes, which no BPE merges file needs (a damaged or hostile file?)`);
      }
      return fail(`${path}: not a gzip-compressed UTF-8 BPE merges file (${(e as Error).message}); ` +
        'expected openai/CLIP bpe_simple_vocab_16e6.txt.gz');
    }
    const lines = text.split('\n', GZ_MERGES + 1); // the rest of the file is never read
    if (lines.length < GZ_MERGES + 1) {
      fail(`${path}: has ${lines.length - 1} merge lines; simple_tokenizer reads ${GZ_MERGES} (is this the CLIP .gz?)`);
    }
    const merges = lines.slice(1, GZ_MERGES + 1);
    const bytesInOrder = bytesToUnicodeOrder(BYTE_TO_CHAR);
    const symbols = [...bytesInOrder, ...bytesInOrder.map((c) => c + '</w>'),
      ...merges.map((m) => m.split(' ').join('')), SOT_TOKEN, EOT_TOKEN];
    const vocab: Record<string, number> = {};
    symbols.forEach((sym, id) => { vocab[sym] = id; });
    return ClipTokenizer.fromVocabMerges(vocab, merges, path);
  }

  // Hugging Face vocab.json + merges.txt (its '#version' first line is skipped, as are empty lines at the end).
  static fromFiles(vocabJsonPath: string, mergesTxtPath: string): ClipTokenizer {
    let vocab: Record<string, number>;
    const vocabText = readTextFile(vocabJsonPath);
    try {
      vocab = JSON.parse(vocabText);
    } catch (e) {
      return fail(`${vocabJsonPath}: not a JSON vocabulary (${(e as Error).message}); expected {"token": id, ...}`);
    }
    const lines = readTextFile(mergesTxtPath).split('\n').map((l) => l.replace(/\r$/, ''));
    if (lines.length > 0 && lines[0].startsWith('#version')) lines.shift();
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    return ClipTokenizer.fromVocabMerges(vocab, lines, `${vocabJsonPath} + ${mergesTxtPath}`);
  }

  // A model folder: vocab.json + merges.txt (Hugging Face), else bpe_simple_vocab_16e6.txt.gz (OpenAI).
  static fromFolder(dir: string): ClipTokenizer {
    const vocab = join(dir, 'vocab.json');
    const merges = join(dir, 'merges.txt');
    const gz = join(dir, 'bpe_simple_vocab_16e6.txt.gz');
    if (existsSync(vocab) && existsSync(merges)) return ClipTokenizer.fromFiles(vocab, merges);
    if (existsSync(gz)) return ClipTokenizer.fromBpeGz(gz);
    const half = existsSync(vocab) ? ' (vocab.json is there, merges.txt is not)'
      : existsSync(merges) ? ' (merges.txt is there, vocab.json is not)' : '';
    return fail(`no tokenizer in ${dir}${half}: expected vocab.json + merges.txt or bpe_simple_vocab_16e6.txt.gz`, 'usage');
  }

  // The vocabulary, by id and by symbol (undefined where absent).
  idToToken(id: number): string | undefined {
    return this.decoder.get(id);
  }

  tokenToId(token: string): number | undefined {
    return this.encoder.get(token);
  }

  // BPE of one byte-encoded word: start from its characters, '</w>' on the last, and merge the adjacent pair of
  // lowest rank (all its non-overlapping occurrences, left to right) until no pair has a rank. simple_tokenizer
  // rescans the whole word for each merge (quadratic: a 30k-character word without spaces took seconds); here
  // the symbols are a linked list and the candidate pairs a min-heap by (rank, position), O(n log n) per word.
  // Same result: each rank is one pair, a pass's merges cannot create that pair again, and the heap hands out
  // all of a rank's occurrences together, left to right, each re-checked against the current symbols.
  private bpe(bytes: Uint8Array): string[] {
    const n = bytes.length;
    let word = ''; // the byte characters: the cache key, for words short enough to be cached
    if (n <= MAX_CACHED_WORD) {
      for (const b of bytes) word += BYTE_TO_CHAR[b];
      const cached = this.cache.get(word);
      if (cached !== undefined) return cached;
    }
    // sym[i]: the symbol number of node i (-1: a symbol no merge names); -2 once merged into its left neighbour
    const sym = new Int32Array(n);
    for (let i = 0; i + 1 < n; i++) sym[i] = this.byteSymbol[bytes[i]];
    sym[n - 1] = this.byteEndSymbol[bytes[n - 1]];
    const next = new Int32Array(n); // the linked list of live nodes, -1 at both ends
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) { next[i] = i + 1; prev[i] = i - 1; }
    next[n - 1] = -1;
    const rankAt = (i: number): number => (next[i] < 0 ? -1 : this.pairRanks.get(sym[i], sym[next[i]]));
    const heap = new PairHeap(3 * n);
    for (let i = 0; i + 1 < n; i++) {
      const r = rankAt(i);
      if (r >= 0) heap.add(r, i);
    }
    heap.heapify();
    const batch: number[] = [];
    while (heap.size > 0) {
      const rank = heap.topRank();
      batch.length = 0;
      while (heap.size > 0 && heap.topRank() === rank) batch.push(heap.pop()); // positions, ascending
      for (const i of batch) {
        if (sym[i] === -2 || rankAt(i) !== rank) continue; // merged away, or its pair changed since it was queued
        const j = next[i];
        sym[i] = this.mergedSymbol[rank];
        sym[j] = -2;
        next[i] = next[j];
        if (next[j] >= 0) prev[next[j]] = i;
        const left = prev[i];
        const rl = left >= 0 ? rankAt(left) : -1;
        if (rl >= 0) heap.push(rl, left);
        const rr = rankAt(i);
        if (rr >= 0) heap.push(rr, i);
      }
    }
    const symbols: string[] = [];
    for (let i = 0; i >= 0; i = next[i]) {
      symbols.push(sym[i] >= 0 ? this.symbolStrings[sym[i]] : BYTE_TO_CHAR[bytes[i]] + (next[i] < 0 ? '</w>' : ''));
    }
    if (n <= MAX_CACHED_WORD) this.cache.set(word, symbols);
    return symbols;
  }

  // BPE ids of the text, without <|startoftext|> / <|endoftext|> (simple_tokenizer's encode). Empty text → [].
  encode(text: string): number[] {
    return this.encodeUpTo(text, Infinity);
  }

  // encode(), stopping once `limit` ids are out (a truncated row needs no more; the rest of the text is not BPE'd).
  private encodeUpTo(text: string, limit: number): number[] {
    if (typeof text !== 'string') fail(`text must be a string, got ${typeof text}`, 'usage');
    const lone = LONE_SURROGATE.exec(text);
    if (lone !== null) {
      fail(`text ${quote(text)} has an unpaired UTF-16 surrogate at index ${lone.index}, which UTF-8 cannot encode`, 'usage');
    }
    const ids: number[] = [];
    if (text.length > MAX_TEXT_CHARS) {
      fail(`text is ${text.length} characters, more than the ${MAX_TEXT_CHARS} the tokenizer reads (CLIP reads ` +
        `${CONTEXT_LENGTH} tokens, a few hundred characters): pass a shorter text`, 'usage');
    }
    for (const [token] of cleanText(text).matchAll(SPLIT)) { // lazily: a truncated row stops early
      for (const sym of this.bpe(UTF8.encode(token))) {
        const id = this.encoder.get(sym) ?? fail(`the word ${quote(token)} needs the BPE symbol ${quote(sym)}, ` +
          `which this vocabulary (${this.encoder.size} tokens) lacks: the model cannot read this text; ` +
          'use words and characters it was trained on', 'usage');
        ids.push(id);
        if (ids.length >= limit) return ids;
      }
    }
    return ids;
  }

  // clip.tokenize for one text: (T) = [sot, ...ids, eot, 0, 0, ...], zero-padded as OpenAI does.
  tokenize(text: string, contextLength: number = CONTEXT_LENGTH, opts: TokenizeOptions = {}): Int32Array {
    if (!Number.isSafeInteger(contextLength) || contextLength < 2 || contextLength > MAX_CONTEXT_LENGTH) {
      fail(`contextLength is ${typeof contextLength === 'number' ? contextLength : `${JSON.stringify(contextLength)} (a ${typeof contextLength})`}; expected an integer from 2 to ${MAX_CONTEXT_LENGTH} (CLIP uses ${CONTEXT_LENGTH})`, 'usage');
    }
    // truncated: the row keeps contextLength − 2 ids; one more is read only to know that it was cut
    const ids = opts.truncate === true ? this.encodeUpTo(text, contextLength - 1) : this.encode(text);
    if (ids.length === 0) {
      fail(`text ${quote(text)} has no tokens after clean-up (html unescape, whitespace collapse); give a prompt with words`, 'usage');
    }
    let tokens = [this.sot, ...ids, this.eot];
    if (tokens.length > contextLength) {
      if (opts.truncate !== true) {
        fail(`text ${quote(text)} is ${tokens.length} tokens (with start and end), over the context length ` +
          `${contextLength}; shorten it or pass { truncate: true } to keep the first ${contextLength - 1}`, 'usage');
      }
      tokens = tokens.slice(0, contextLength); // clip.tokenize(truncate=True): cut, then the last becomes eot
      tokens[contextLength - 1] = this.eot;
    }
    const out = new Int32Array(contextLength);
    out.set(tokens);
    return out;
  }

  // simple_tokenizer's decode: symbols joined, characters back to bytes, UTF-8 with U+FFFD for invalid bytes,
  // '</w>' → ' '. Every id is decoded, special tokens and padding (id 0, '!' in CLIP) included.
  decode(ids: ArrayLike<number>): string {
    let symbols = '';
    for (let i = 0; i < ids.length; i++) {
      symbols += this.decoder.get(ids[i]) ??
        fail(`id ${ids[i]} at position ${i} is not in this vocabulary (ids 0-${this.vocabSize - 1})`, 'usage');
    }
    const bytes = new Uint8Array(symbols.length);
    for (let i = 0; i < symbols.length; i++) {
      const b = CHAR_TO_BYTE.get(symbols[i]);
      if (b === undefined) {
        fail(`cannot decode: the vocabulary symbol character ${quote(symbols[i])} is not one of the 256 byte characters`);
      }
      bytes[i] = b;
    }
    return UTF8_REPLACE.decode(bytes).replaceAll('</w>', ' ');
  }
}

function readTextFile(path: string): string {
  const bytes = readTokenizerFile(path);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(`tokenizer file ${path} is not UTF-8 text`);
  }
}

// CLIP's vocab.json is 1.6 MB and its .gz 1.4 MB; anything past this is not a tokenizer file.
const MAX_TOKENIZER_FILE_BYTES = 256 * 2 ** 20;

// A regular file only (never /dev/zero or a FIFO, which would read forever or block), its size checked first.
function readTokenizerFile(path: string): Uint8Array {
  if (!existsSync(path)) fail(`tokenizer file ${path} does not exist`, 'usage');
  try {
    const st = statSync(path);
    if (!st.isFile()) fail(`tokenizer file ${path} is not a regular file`, 'usage');
    if (st.size > MAX_TOKENIZER_FILE_BYTES) {
      fail(`tokenizer file ${path} is ${st.size} bytes, more than the ${MAX_TOKENIZER_FILE_BYTES} a tokenizer file may be`, 'usage');
    }
    return readFileSync(path);
  } catch (e) {
    if (e instanceof DecomcamError) throw e;
    return fail(`cannot read tokenizer file ${path}: ${(e as Error).message}`, 'usage');
  }
}
