// test/tokenizer.test.js: src/clip/tokenizer.ts against openai/CLIP's simple_tokenizer. Token ids are exact (no
// tolerance). Sources: ../shared/data/tokenizer/clip_tokenizer_golden.json (simple_tokenizer's own output; skipped
// where ../shared is absent) and reference/fixtures/tokenizer_edge.json + tokenizer_small/ (Python's html.unescape,
// re, str.lower and the regex module, written by reference/tokenizer_fixtures.py).
import test from 'tape';
import { readFileSync, mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { DecomcamError } from '../dist/errors.js';
import {
  ClipTokenizer, htmlUnescape, numericCharRef, cleanText, preSplit, bytesToUnicode,
} from '../dist/clip/tokenizer.js';
import { sharedOrSkip, fixturesDir } from './helpers/compare.js';

const edge = JSON.parse(readFileSync(join(fixturesDir, 'tokenizer_edge.json'), 'utf8'));
const smallDir = join(fixturesDir, 'tokenizer_small');
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const show = (s) => JSON.stringify(s);

function throwsDecomcam(t, fn, re, msg) {
  try { fn(); t.fail(`${msg}: did not throw`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e.message}`);
  }
}

// One pass/fail line per group; the first few mismatches are printed.
function allMatch(t, name, cases, check) {
  const bad = [];
  for (const c of cases) { const why = check(c); if (why) bad.push(why); }
  for (const why of bad.slice(0, 5)) t.comment(`  mismatch: ${why}`);
  t.ok(bad.length === 0, `${name}: ${cases.length - bad.length}/${cases.length} match`);
}

// The CLIP tokenizers from ../shared, loaded once (≈ 0.4 s each).
let clip = null;
function clipTokenizers(t) {
  const dir = sharedOrSkip(t, 'tokenizer/vocab.json') && sharedOrSkip(t, 'tokenizer');
  if (dir === null) return null;
  if (clip === null) {
    clip = {
      gz: ClipTokenizer.fromBpeGz(join(dir, 'bpe_simple_vocab_16e6.txt.gz')),
      files: ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'merges.txt')),
      golden: JSON.parse(readFileSync(join(dir, 'clip_tokenizer_golden.json'), 'utf8')),
      dir,
    };
  }
  return clip;
}

// ================= clean-up and pre-split (no vocabulary needed) =================
test('tokenizer: html.unescape, one pass, as Python', (t) => {
  allMatch(t, 'html.unescape cases', edge.html, (c) =>
    htmlUnescape(c.text) === c.unescaped ? null : `${show(c.text)}: ours ${show(htmlUnescape(c.text))} python ${show(c.unescaped)}`);
  allMatch(t, 'every HTML5 name: &N, &NXy; and &N without its ;', edge.named, ([text, want]) =>
    htmlUnescape(text) === want ? null : `${show(text)}: ours ${show(htmlUnescape(text))} python ${show(want)}`);
  // every numeric reference &#N; (N ≤ 0x10FFFF): Python's table where it is not chr(N), chr(N) elsewhere
  let bad = 0;
  for (let n = 0; n <= 0x10ffff; n++) {
    if (n >= 0xd800 && n <= 0xdfff) continue;
    const want = edge.numeric[n] ?? String.fromCodePoint(n);
    if (numericCharRef(n) !== want) { if (bad++ < 5) t.comment(`  &#${n}; ours ${show(numericCharRef(n))} python ${show(want)}`); }
  }
  t.equal(bad, 0, `numeric references: all 1,112,064 non-surrogate code points as Python (${Object.keys(edge.numeric).length} special)`);
  t.end();
});

test('tokenizer: clean-up (unescape twice, Python whitespace, strip, lower) as Python', (t) => {
  allMatch(t, 'clean-up cases', edge.clean, (c) =>
    cleanText(c.text) === c.cleaned ? null : `${show(c.text)}: ours ${show(cleanText(c.text))} python ${show(c.cleaned)}`);
  t.end();
});

test('tokenizer: pre-split pattern as Python regex (IGNORECASE)', (t) => {
  allMatch(t, 'pre-split cases', edge.split, (c) => {
    const ours = preSplit(cleanText(c.text));
    return same(ours, c.tokens) ? null : `${show(c.text)}: ours ${show(ours)} python ${show(c.tokens)}`;
  });
  t.end();
});

test('tokenizer: every code point falls in the same pre-split class as in Python regex', (t) => {
  // Python's class of c alone: [\p{L}]+ (letters), [\p{N}] (number), [^\s\p{L}\p{N}]+ (other), or none.
  const cls = new Uint8Array(0x110000); // 0 none, 1 letters, 2 number, 3 other
  for (const [k, v] of [['letters', 1], ['number', 2], ['other', 3]]) {
    for (const [a, b] of edge.classes[k]) cls.fill(v, a, b + 1);
  }
  // 'a' + c + c splits as [a c c] when c is a letter, [a, c, c] a number, [a, c c] other, [a] none.
  // Space, surrogates and the apostrophe/'<' (which start literals) are left out.
  let bad = 0;
  const chunk = 4096;
  for (let start = 0; start < 0x110000; start += chunk) {
    let text = '';
    const expect = [];
    for (let c = start; c < Math.min(start + chunk, 0x110000); c++) {
      if ((c >= 0xd800 && c <= 0xdfff) || c === 0x20 || c === 0x27 || c === 0x3c) continue;
      const ch = String.fromCodePoint(c);
      text += 'a' + ch + ch + ' ';
      if (cls[c] === 1) expect.push('a' + ch + ch);
      else if (cls[c] === 2) expect.push('a', ch, ch);
      else if (cls[c] === 3) expect.push('a', ch + ch);
      else expect.push('a');
    }
    const ours = preSplit(text);
    if (!same(ours, expect)) {
      bad++;
      const i = ours.findIndex((tok, j) => tok !== expect[j]);
      t.comment(`  block from U+${start.toString(16)}: first difference at token ${i}: ours ${show(ours[i])} python ${show(expect[i])}`);
    }
  }
  t.equal(bad, 0, `all code points: letters/number/other/none as regex ${edge.regex} (Unicode ${process.versions.unicode} in node)`);
  t.end();
});

test('tokenizer: lower() as Python for every code point that Python\'s Unicode knows', (t) => {
  const unassigned = new Uint8Array(0x110000);
  for (const [a, b] of edge.lower.python_unassigned) unassigned.fill(1, a, b + 1);
  let bad = 0;
  let newer = 0;
  for (let c = 0; c < 0x110000; c++) {
    if (c >= 0xd800 && c <= 0xdfff) continue;
    const ch = String.fromCodePoint(c);
    const want = edge.lower.changed[c] ? String.fromCodePoint(...edge.lower.changed[c]) : ch;
    if (ch.toLowerCase() === want) continue;
    if (unassigned[c]) { newer++; continue; }
    if (bad++ < 5) t.comment(`  U+${c.toString(16)}: ours ${show(ch.toLowerCase())} python ${show(want)}`);
  }
  t.equal(bad, 0, `lower(): every code point assigned in Python ${edge.python}'s Unicode ${edge.unicodedata} agrees`);
  t.comment(`  note: ${newer} code points unassigned there (added in later Unicode) lower-case in node's Unicode ${process.versions.unicode}`);
  t.end();
});

test('tokenizer: byte-to-unicode table', (t) => {
  const table = bytesToUnicode();
  // exact facts of simple_tokenizer's bytes_to_unicode: '!' stays, byte 0 → U+0100, space (0x20) → U+0120 'Ġ',
  // 0xAD (soft hyphen) → U+0143, the 68th and last moved byte
  t.ok(table[0x21] === '!' && table[0] === '\u0100' && table[0x20] === '\u0120' && table[0xad] === '\u0143',
    'bytes 0x21, 0x00, 0x20, 0xAD map to !, U+0100, U+0120, U+0143');
  t.equal(new Set(table).size, 256, '256 distinct characters');
  t.end();
});

// ================= the CLIP vocabulary (../shared) =================
test('tokenizer: every golden case of simple_tokenizer, via the .gz and via vocab.json + merges.txt', (t) => {
  const c = clipTokenizers(t);
  if (c === null) { t.end(); return; }
  for (const [how, tok] of [['fromBpeGz', c.gz], ['fromFiles', c.files]]) {
    t.ok(tok.sot === 49406 && tok.eot === 49407 && tok.vocabSize === c.golden.vocab_size && tok.merges.length === c.golden.num_merges,
      `${how}: sot ${tok.sot}, eot ${tok.eot}, V ${tok.vocabSize}, ${tok.merges.length} merges`);
    allMatch(t, `${how}: golden cases`, c.golden.cases, (g) => {
      const ids = tok.encode(g.text);
      const row = tok.tokenize(g.text);
      const padded = [...g.ids, ...new Array(77 - g.ids.length).fill(0)]; // clip.tokenize zero-pads to 77
      if (!same(ids, g.ids_without_sot_eot)) return `${show(g.text)}: encode ${show(ids)} golden ${show(g.ids_without_sot_eot)}`;
      if (!(row instanceof Int32Array) || !same([...row], padded)) return `${show(g.text)}: tokenize ${show([...row])}`;
      if (tok.decode(ids) !== g.decoded) return `${show(g.text)}: decode ${show(tok.decode(ids))} golden ${show(g.decoded)}`;
      return null;
    });
  }
  t.end();
});

test('tokenizer: the vocabulary built from the .gz equals vocab.json + merges.txt', (t) => {
  const c = clipTokenizers(t);
  if (c === null) { t.end(); return; }
  let bad = 0;
  for (let id = 0; id < c.files.vocabSize; id++) if (c.gz.idToToken(id) !== c.files.idToToken(id)) bad++;
  t.equal(bad, 0, `all ${c.files.vocabSize} ids name the same symbol`);
  t.ok(same(c.gz.merges, c.files.merges), `the ${c.gz.merges.length} merges are the same, in the same order`);
  t.equal(ClipTokenizer.fromFolder(c.dir).tokenToId('cat</w>'), 2368, 'fromFolder reads the same vocabulary');
  t.end();
});

test('tokenizer: edge cases (entities, Unicode, special tokens, long words) and decode as Python', (t) => {
  const c = clipTokenizers(t);
  if (c === null) { t.end(); return; }
  for (const [how, tok] of [['fromBpeGz', c.gz], ['fromFiles', c.files]]) {
    allMatch(t, `${how}: encode edge cases`, edge.encode, (e) => {
      const ids = tok.encode(e.text);
      return same(ids, e.ids) ? null : `${show(e.text)}: ours ${show(ids)} python ${show(e.ids)}`;
    });
  }
  allMatch(t, 'decode edge cases (partial UTF-8 → U+FFFD, special tokens, padding)', edge.decode, (e) =>
    c.files.decode(e.ids) === e.text ? null : `${show(e.ids)}: ours ${show(c.files.decode(e.ids))} python ${show(e.text)}`);
  t.end();
});

test('tokenizer: over-long text is an error unless truncate, which keeps T-1 tokens then eot', (t) => {
  const c = clipTokenizers(t);
  if (c === null) { t.end(); return; }
  const tok = c.files;
  const byText = new Map(edge.encode.map((e) => [e.text, e.ids]));
  const fits = 'a '.repeat(74) + 'b';  // 75 ids + sot + eot = 77
  const over = 'a '.repeat(75) + 'b';  // 78
  const long = Array(20).fill('a photo of a cat').join(' '); // 100 ids, 102 tokens
  t.ok(same([...tok.tokenize(fits)], [49406, ...byText.get(fits), 49407]), '77 tokens fill the context exactly');
  throwsDecomcam(t, () => tok.tokenize(over), /78 tokens .*context length 77.*truncate/, 'one token over');
  throwsDecomcam(t, () => tok.tokenize(long), /102 tokens .*context length 77/, '102 tokens');
  const cut = tok.tokenize(long, 77, { truncate: true });
  t.ok(same([...cut], [49406, ...byText.get(long).slice(0, 75), 49407]), 'truncate: sot, the first 75 ids, eot');
  const cut16 = tok.tokenize(over, 16, { truncate: true });
  t.ok(same([...cut16], [49406, ...byText.get(over).slice(0, 14), 49407]), 'truncate at context 16');
  t.ok(same([...tok.tokenize('cat', 5)], [49406, 2368, 49407, 0, 0]), 'a shorter context pads with 0');
  throwsDecomcam(t, () => tok.tokenize('cat', 1), /contextLength is 1/, 'context length 1');
  t.end();
});

// ================= a small custom vocabulary (reference/fixtures/tokenizer_small) =================
test('tokenizer: a small vocabulary (HF files) finds sot/eot by name and reports symbols it lacks', (t) => {
  const tok = ClipTokenizer.fromFolder(smallDir);
  const vocab = JSON.parse(readFileSync(join(smallDir, 'vocab.json'), 'utf8'));
  t.ok(tok.sot === vocab['<|startoftext|>'] && tok.eot === vocab['<|endoftext|>'] && tok.vocabSize === edge.small.vocab_size
    && tok.merges.length === edge.small.merges,
  `sot ${tok.sot}, eot ${tok.eot}, V ${tok.vocabSize}, ${tok.merges.length} merges (#version line skipped)`);
  const same2 = ClipTokenizer.fromVocabMerges(vocab,
    readFileSync(join(smallDir, 'merges.txt'), 'utf8').split('\n').slice(1).filter((l) => l !== ''));
  for (const [how, tk] of [['fromFolder', tok], ['fromVocabMerges', same2]]) {
    for (const e of edge.small.cases) {
      if (e.ids) {
        t.ok(same(tk.encode(e.text), e.ids), `${how}: ${show(e.text)} → ${show(e.ids)}`);
      } else {
        const sym = e.missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        throwsDecomcam(t, () => tk.encode(e.text), new RegExp(`symbol "${sym}".*lacks`), `${how}: ${show(e.text)} lacks ${show(e.missing)}`);
      }
    }
  }
  const first = edge.small.cases[0];
  const pad = new Array(10 - 2 - first.ids.length).fill(0);
  t.ok(same([...tok.tokenize(first.text, 10)], [tok.sot, ...first.ids, tok.eot, ...pad]), 'tokenize uses the vocabulary\'s sot/eot');
  t.equal(tok.decode(first.ids), cleanText(first.text) + ' ', 'decode round trip');
  t.end();
});

// ================= errors =================
test('tokenizer: empty text, bad text, bad ids', (t) => {
  const tok = ClipTokenizer.fromFolder(smallDir);
  for (const text of ['', '   ', '\t\n', '&nbsp;', '&amp;nbsp;', '\u0345']) {
    throwsDecomcam(t, () => tok.tokenize(text), /no tokens after clean-up/, `empty ${show(text)}`);
  }
  t.ok(same(tok.encode('  '), []), 'encode of empty text is [] (as simple_tokenizer)');
  throwsDecomcam(t, () => tok.encode('a\ud800b'), /unpaired UTF-16 surrogate at index 1/, 'lone surrogate');
  throwsDecomcam(t, () => tok.encode(42), /must be a string/, 'non-string text');
  throwsDecomcam(t, () => tok.decode([0, 99999]), /id 99999 at position 1/, 'unknown id');
  t.end();
});

test('tokenizer: missing and malformed files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'decomcam-tok-'));
  try {
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /no tokenizer in .*vocab.json \+ merges.txt or bpe_simple_vocab_16e6.txt.gz/, 'empty folder');
    copyFileSync(join(smallDir, 'vocab.json'), join(dir, 'vocab.json'));
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /vocab.json is there, merges.txt is not/, 'vocab.json alone');
    throwsDecomcam(t, () => ClipTokenizer.fromFiles(join(dir, 'vocab.json'), join(dir, 'nope.txt')), /nope.txt does not exist/, 'missing merges.txt');
    throwsDecomcam(t, () => ClipTokenizer.fromBpeGz(join(dir, 'nope.gz')), /nope.gz does not exist/, 'missing .gz');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\ni n\nthree parts here\n');
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /merge 2 is "three parts here"/, 'malformed merge line');
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\ni n\n');
    writeFileSync(join(dir, 'vocab.json'), '{"a": 0, "b": 1}');
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /no <\|startoftext\|> token/, 'vocabulary without specials');
    writeFileSync(join(dir, 'vocab.json'), '{"a": 0, "b": 0, "<|startoftext|>": 1, "<|endoftext|>": 2}');
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /id 0 is given to both/, 'duplicate id');
    writeFileSync(join(dir, 'vocab.json'), '{"a": -1}');
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /has id -1/, 'negative id');
    writeFileSync(join(dir, 'vocab.json'), '{"a": 0,');
    throwsDecomcam(t, () => ClipTokenizer.fromFolder(dir), /not a JSON vocabulary/, 'truncated vocab.json');
    writeFileSync(join(dir, 'bpe_simple_vocab_16e6.txt.gz'), 'not gzip');
    throwsDecomcam(t, () => ClipTokenizer.fromBpeGz(join(dir, 'bpe_simple_vocab_16e6.txt.gz')), /not a gzip-compressed/, 'a .gz that is not gzip');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  t.end();
});
