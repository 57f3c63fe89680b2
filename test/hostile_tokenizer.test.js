// test/hostile_tokenizer.test.js: the tokenizer against hostile text and arguments (issue 13, defect 5).
// BPE used to rescan a word once per merge: 1 MB of text without spaces took about 30 minutes. The new
// heap-based BPE is checked token for token against a direct port of simple_tokenizer's bpe() (random words,
// random merge orders); the 1 MB case must simply finish; truncation must stop reading the text once the row
// is full; an absurd contextLength is refused before anything is allocated.
import test from 'tape';
import { join } from 'node:path';
import { DecomcamError } from '../dist/errors.js';
import { ClipTokenizer, bytesToUnicode } from '../dist/clip/tokenizer.js';
import { sharedOrSkip, fixturesDir } from './helpers/compare.js';

function throwsDecomcam(t, fn, re, msg) {
  try { fn(); t.fail(`${msg}: did not throw`); } catch (e) {
    t.ok(e instanceof DecomcamError && re.test(e.message), `${msg}: ${e.message}`);
  }
}

// A seeded generator (LCG), so every run builds the same cases.
function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

// openai/CLIP simple_tokenizer.py's bpe(), line for line: merge the lowest-ranked pair everywhere, repeat.
function referenceBpe(word, ranks) {
  let symbols = [...word];
  symbols[symbols.length - 1] += '</w>';
  for (;;) {
    let best = null;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const r = ranks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (r !== undefined && (best === null || r < best.r)) best = { r, first: symbols[i], second: symbols[i + 1] };
    }
    if (best === null) return symbols;
    const merged = [];
    for (let i = 0; i < symbols.length;) {
      if (i + 1 < symbols.length && symbols[i] === best.first && symbols[i + 1] === best.second) {
        merged.push(best.first + best.second); i += 2;
      } else { merged.push(symbols[i]); i += 1; }
    }
    symbols = merged;
  }
}

test('hostile tokenizer: heap BPE = simple_tokenizer bpe() on random words and merge tables in any order', (t) => {
  const rnd = lcg(13);
  const bytes = bytesToUnicode();
  let mismatches = 0, words = 0;
  for (let table = 0; table < 20; table++) {
    // merges over the letters a, b, c made in a random order, so that a merge may come before the merges
    // that make its symbols, and a new pair may rank below the pair just merged
    const pool = ['a', 'b', 'c', 'a</w>', 'b</w>', 'c</w>'];
    const merges = [];
    for (let k = 0; k < 40; k++) {
      const lefts = pool.filter((s) => !s.endsWith('</w>'));
      const x = lefts[Math.floor(rnd() * lefts.length)], y = pool[Math.floor(rnd() * pool.length)];
      merges.push(`${x} ${y}`);
      if (!pool.includes(x + y)) pool.push(x + y);
    }
    for (let k = merges.length - 1; k > 0; k--) { // shuffle
      const j = Math.floor(rnd() * (k + 1));
      [merges[k], merges[j]] = [merges[j], merges[k]];
    }
    const vocab = {};
    for (const s of [...bytes, ...bytes.map((b) => b + '</w>'), ...pool, '<|startoftext|>', '<|endoftext|>']) {
      if (!(s in vocab)) vocab[s] = Object.keys(vocab).length;
    }
    const tok = ClipTokenizer.fromVocabMerges(vocab, merges, `random table ${table}`);
    const ranks = new Map();
    merges.forEach((m, r) => ranks.set(m, r));
    for (let w = 0; w < 100; w++) {
      const len = 1 + Math.floor(rnd() * 60);
      const word = Array.from({ length: len }, () => 'abc'[Math.floor(rnd() * 3)]).join('');
      const want = referenceBpe(word, ranks).map((s) => vocab[s]);
      const got = tok.encode(word);
      words++;
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        if (mismatches++ < 3) t.comment(`  table ${table} "${word}": ours ${got} reference ${want}`);
      }
    }
  }
  t.equal(mismatches, 0, `${words - mismatches}/${words} words tokenize as simple_tokenizer's bpe() does`);
  t.end();
});

test('hostile tokenizer: 1 MB of text without spaces finishes; the truncated row is the first T-2 ids', (t) => {
  const gz = sharedOrSkip(t, 'tokenizer/bpe_simple_vocab_16e6.txt.gz');
  if (gz === null) { t.end(); return; }
  const tok = ClipTokenizer.fromBpeGz(gz);
  const rnd = lcg(5);
  // random letters: every merge rank is met somewhere, the worst case for merge-by-merge rescanning
  const text = Array.from({ length: 1 << 20 }, () => String.fromCharCode(97 + Math.floor(rnd() * 26))).join('');
  const row = tok.tokenize(text, 77, { truncate: true });
  t.ok(row.length === 77 && row[0] === 49406 && row[76] === 49407, '1 MB: a full row, sot … eot');
  // exactness on a 64 kB piece (one full encode): the truncated row is its first 75 ids
  const piece = text.slice(0, 1 << 16);
  const ids = tok.encode(piece);
  t.deepEqual([...tok.tokenize(piece, 77, { truncate: true })], [49406, ...ids.slice(0, 75), 49407],
    `64 kB (${ids.length} ids): tokenize(truncate) = sot, the first 75 ids, eot`);
  t.end();
});

test('hostile tokenizer: truncate stops reading once the row is full', (t) => {
  // tokenizer_small has the letters a-z only: a snowman later in the text has no symbol. Truncated, the row
  // is full before the snowman is reached, so it is never encoded; untruncated, the snowman is an error.
  const tok = ClipTokenizer.fromFiles(join(fixturesDir, 'tokenizer_small', 'vocab.json'),
    join(fixturesDir, 'tokenizer_small', 'merges.txt'));
  const text = 'cat '.repeat(100000) + '\u2603';
  const row = tok.tokenize(text, 16, { truncate: true });
  const cat = tok.encode('cat');
  t.deepEqual([...row.subarray(1, 15)], Array.from({ length: 5 }, () => cat).flat().slice(0, 14),
    'the row holds the first cats');
  t.equal(row[15], tok.eot, 'and ends with <|endoftext|>');
  throwsDecomcam(t, () => tok.tokenize(text, 16), /needs the BPE symbol/, 'untruncated, the whole text is read');
  t.end();
});

test('hostile tokenizer: contextLength and the text length are bounded before anything is allocated', (t) => {
  const tok = ClipTokenizer.fromFiles(join(fixturesDir, 'tokenizer_small', 'vocab.json'),
    join(fixturesDir, 'tokenizer_small', 'merges.txt'));
  throwsDecomcam(t, () => tok.tokenize('cat', 2 ** 31), /contextLength is 2147483648; expected an integer from 2 to/,
    '2^31 (8 GB of int32)');
  throwsDecomcam(t, () => tok.tokenize('cat', 1e300), /contextLength is 1e\+300/, '1e300');
  throwsDecomcam(t, () => tok.tokenize('cat', Infinity), /contextLength is Infinity/, 'Infinity');
  t.equal(tok.tokenize('cat', 300).length, 300, 'a long-context row (300) is fine');
  throwsDecomcam(t, () => tok.tokenize('a'.repeat((1 << 21) + 1), 77, { truncate: true }),
    /text is 2097153 characters, more than the 2097152 the tokenizer reads/, 'a text past 2M characters, before clean-up');
  t.end();
});
