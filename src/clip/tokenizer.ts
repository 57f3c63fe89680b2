// clip/tokenizer.ts: CLIP's byte-level BPE, exactly as openai/CLIP's simple_tokenizer.py + clip.tokenize with ftfy
// taken as identity: html-unescape twice, collapse Unicode whitespace, lower-case, pre-split, bytes → printable
// characters, '</w>' on each word's last symbol, greedy lowest-rank merges. T = context length (77), V = vocab size.
// Choices: an over-long prompt is an error naming its token count and T; `{ truncate: true }` keeps the first T-1
// tokens then <|endoftext|> (clip.tokenize(truncate=True)). Empty text, and a symbol the vocabulary lacks, are errors.

import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeHTML, replaceCodePoint } from 'entities/decode';
import { fail } from '../errors.js';

export const SOT_TOKEN = '<|startoftext|>';
export const EOT_TOKEN = '<|endoftext|>';
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

// html.unescape's numeric reference: Windows-1252 for 0x80-0x9F, U+FFFD for NUL, surrogates and > U+10FFFF,
// nothing ('') for the control and non-characters Python lists in html._invalid_codepoints.
export function numericCharRef(num: number): string {
  if (num === 0 || num === 0x0d || (num >= 0x80 && num <= 0x9f)) return String.fromCodePoint(replaceCodePoint(num));
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  const dropped = (num >= 0x01 && num <= 0x08) || num === 0x0b || (num >= 0x0e && num <= 0x1f) || num === 0x7f
    || (num >= 0xfdd0 && num <= 0xfdef) || (num & 0xfffe) === 0xfffe;
  return dropped ? '' : String.fromCodePoint(num);
}

// One pass of Python's html.unescape(s).
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

// whitespace_clean(basic_clean(text)).lower(). toLowerCase is Python's lower() (full mappings, final sigma) for
// every code point Python's Unicode knows; code points added since differ (see test/tokenizer.test.js).
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

// re.findall(pat, cleaned): the words BPE works on, in order.
export function preSplit(cleaned: string): string[] {
  return cleaned.match(SPLIT) ?? [];
}

// ---------------------------------------------------------------------------------------------------------------
// bytes_to_unicode: each byte gets a printable character, so BPE symbols are strings without spaces or controls.
// Printable Latin-1 bytes (! .. ~, ¡ .. ¬, ® .. ÿ) stand for themselves; the other 68 bytes take U+0100, U+0101, ...
// in byte order. Every character is one UTF-16 unit (U+0021 .. U+0143).
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

// ---------------------------------------------------------------------------------------------------------------
export interface TokenizeOptions {
  truncate?: boolean; // over-long text: keep the first T-1 tokens and end with <|endoftext|> (default: error)
}

export class ClipTokenizer {
  readonly sot: number;       // id of <|startoftext|>
  readonly eot: number;       // id of <|endoftext|>
  readonly vocabSize: number; // V = largest id + 1 (the rows of the token embedding)
  readonly merges: readonly string[]; // 'first second' in rank order, as read
  private readonly encoder: Map<string, number>;   // symbol → id
  private readonly decoder: Map<number, string>;   // id → symbol
  private readonly ranks: Map<string, number>;     // 'first second' → merge rank (lower merges first)
  private readonly cache = new Map<string, string[]>(); // byte-encoded word → its BPE symbols

  private constructor(encoder: Map<string, number>, merges: string[], source: string) {
    this.encoder = encoder;
    this.merges = merges;
    // a repeated merge keeps its last rank, as dict(zip(merges, range(len(merges)))) does
    this.ranks = new Map();
    merges.forEach((line, rank) => this.ranks.set(line, rank));
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
        fail(`${source}: token ${quote(sym)} has id ${JSON.stringify(id)}; ids must be integers ≥ 0`);
      }
      encoder.set(sym, id);
    }
    if (!Array.isArray(merges)) fail(`${source}: merges must be an array of 'a b' lines, got ${typeof merges}`);
    merges.forEach((line, rank) => {
      const parts = typeof line === 'string' ? line.split(' ') : [];
      if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
        fail(`${source}: merge ${rank + 1} is ${JSON.stringify(line)}; expected two symbols separated by one space, e.g. "t h"`);
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
      text = new TextDecoder('utf-8', { fatal: true }).decode(gunzipSync(bytes));
    } catch (e) {
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
  // lowest rank (all its non-overlapping occurrences, left to right) until no pair has a rank.
  private bpe(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    let symbols = word.split(''); // one UTF-16 unit per byte character
    symbols[symbols.length - 1] += '</w>';
    while (symbols.length > 1) {
      let best = Infinity;
      let first = '';
      let second = '';
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(symbols[i] + ' ' + symbols[i + 1]);
        if (rank !== undefined && rank < best) { best = rank; first = symbols[i]; second = symbols[i + 1]; }
      }
      if (best === Infinity) break;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length;) {
        if (i + 1 < symbols.length && symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]);
          i += 1;
        }
      }
      symbols = merged;
    }
    this.cache.set(word, symbols);
    return symbols;
  }

  // BPE ids of the text, without <|startoftext|> / <|endoftext|> (simple_tokenizer's encode). Empty text → [].
  encode(text: string): number[] {
    if (typeof text !== 'string') fail(`text must be a string, got ${typeof text}`, 'usage');
    const lone = LONE_SURROGATE.exec(text);
    if (lone !== null) {
      fail(`text ${quote(text)} has an unpaired UTF-16 surrogate at index ${lone.index}, which UTF-8 cannot encode`, 'usage');
    }
    const ids: number[] = [];
    for (const token of preSplit(cleanText(text))) {
      let word = '';
      for (const b of UTF8.encode(token)) word += BYTE_TO_CHAR[b];
      for (const sym of this.bpe(word)) {
        const id = this.encoder.get(sym) ?? fail(`the word ${quote(token)} needs the BPE symbol ${quote(sym)}, ` +
          `which this vocabulary (${this.encoder.size} tokens) lacks: the model cannot read this text; ` +
          'use words and characters it was trained on', 'usage');
        ids.push(id);
      }
    }
    return ids;
  }

  // clip.tokenize for one text: (T) = [sot, ...ids, eot, 0, 0, ...], zero-padded as OpenAI does.
  tokenize(text: string, contextLength: number = CONTEXT_LENGTH, opts: TokenizeOptions = {}): Int32Array {
    if (!Number.isSafeInteger(contextLength) || contextLength < 2) {
      fail(`contextLength is ${contextLength}; expected an integer ≥ 2 (CLIP uses ${CONTEXT_LENGTH})`, 'usage');
    }
    const ids = this.encode(text);
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

function readTokenizerFile(path: string): Uint8Array {
  if (!existsSync(path)) fail(`tokenizer file ${path} does not exist`, 'usage');
  try {
    return readFileSync(path);
  } catch (e) {
    return fail(`cannot read tokenizer file ${path}: ${(e as Error).message}`, 'usage');
  }
}
