"""tokenizer_fixtures.py: edge cases for src/clip/tokenizer.ts, written by Python's own html.unescape, re, str.lower
and the `regex` module — the pieces of openai/CLIP's simple_tokenizer.py where JavaScript's built-ins differ.

Writes reference/fixtures/tokenizer_edge.json:
  html     one pass of html.unescape on tricky entities (numeric, legacy names without ';', longest prefix)
  named    html.unescape of every HTML5 name N in html.entities.html5: '&N', '&NXy;' and, where N ends in ';',
           '&N' without it (legacy names decode without ';', the longest such prefix wins)
  clean    the full clean-up: html.unescape twice, re.sub(r'\\s+', ' '), strip, lower (ftfy taken as identity)
  split    the pre-split pattern (regex, IGNORECASE) on cleaned text
  classes  for every code point c: is c alone matched by [\\p{L}]+, [\\p{N}] or [^\\s\\p{L}\\p{N}]+ (ranges)
  numeric  html.unescape('&#N;') for every N in 0..0x10FFFF (surrogates aside) where it is not chr(N)
  lower    every code point whose str.lower() is not itself, and the code points unassigned in Python's Unicode
  small    a small vocabulary (lower-case letters and merges learned from a tiny caption corpus, as a model trained on
           captions would ship), written as fixtures/tokenizer_small/{vocab.json,merges.txt}, and ids it gives
  encode   BPE ids of edge cases against ../shared/data/tokenizer (the CLIP vocabulary), when it is present
  decode   ids -> text (bytes decoded with errors='replace'), when the vocabulary is present

The BPE below is our transcription of simple_tokenizer's algorithm; before writing anything it must reproduce every
case of ../shared/data/tokenizer/clip_tokenizer_golden.json, and its vocabulary built from the .gz must equal
vocab.json/merges.txt. Needs the `regex` module (Debian: python3-regex; /usr/bin/python3 here lacks it, so run
with a python3 that has it):  python3 reference/tokenizer_fixtures.py
"""
import gzip
import html
import html.entities
import json
import os
import re
import sys
import unicodedata

import regex

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.path.join(HERE, '..', '..', 'shared', 'data', 'tokenizer')
OUT = os.path.join(HERE, 'fixtures', 'tokenizer_edge.json')
SMALL_DIR = os.path.join(HERE, 'fixtures', 'tokenizer_small')
SMALL_MERGES = 60

SPLIT = regex.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                      regex.IGNORECASE)


def clean(text):
    # basic_clean (ftfy.fix_text taken as identity), then whitespace_clean, then lower()
    text = html.unescape(html.unescape(text)).strip()
    text = re.sub(r'\s+', ' ', text).strip()
    return text.lower()


def byte_table():
    # bytes_to_unicode: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100.. in byte order
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


BYTE = byte_table()
UNBYTE = {c: b for b, c in BYTE.items()}


class Bpe:
    def __init__(self, vocab, merges):
        self.vocab = vocab
        self.inv = {i: s for s, i in vocab.items()}
        self.ranks = {m: r for r, m in enumerate(merges)}

    def word(self, token):
        if token in ('<|startoftext|>', '<|endoftext|>'):
            return [token]
        sym = list(token[:-1]) + [token[-1] + '</w>']
        while len(sym) > 1:
            best = None
            for i in range(len(sym) - 1):
                r = self.ranks.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, sym[i], sym[i + 1])
            if best is None:
                break
            _, a, b = best
            out, i = [], 0
            while i < len(sym):
                if i < len(sym) - 1 and sym[i] == a and sym[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(sym[i])
                    i += 1
            sym = out
        return sym

    def encode(self, text):
        ids = []
        for tok in regex.findall(SPLIT, clean(text)):
            for s in self.word(''.join(BYTE[b] for b in tok.encode('utf-8'))):
                ids.append(self.vocab[s])
        return ids

    def decode(self, ids):
        s = ''.join(self.inv[i] for i in ids)
        return bytearray(UNBYTE[c] for c in s).decode('utf-8', errors='replace').replace('</w>', ' ')


def load_shared():
    if not os.path.isdir(SHARED):
        return None
    with open(os.path.join(SHARED, 'vocab.json'), encoding='utf-8') as f:
        vocab = json.load(f)
    with open(os.path.join(SHARED, 'merges.txt'), encoding='utf-8') as f:
        lines = f.read().split('\n')
    merges = [tuple(l.split()) for l in lines[1:] if l.strip()]
    # the same vocabulary from the OpenAI .gz, built as simple_tokenizer does
    gz = gzip.open(os.path.join(SHARED, 'bpe_simple_vocab_16e6.txt.gz')).read().decode('utf-8').split('\n')
    gz_merges = [tuple(l.split()) for l in gz[1:49152 - 256 - 2 + 1]]
    gz_vocab = list(BYTE.values())
    gz_vocab = gz_vocab + [v + '</w>' for v in gz_vocab] + [''.join(m) for m in gz_merges]
    gz_vocab += ['<|startoftext|>', '<|endoftext|>']
    assert gz_merges == merges, 'merges.txt differs from the .gz'
    assert dict(zip(gz_vocab, range(len(gz_vocab)))) == vocab, 'vocab.json differs from the .gz'
    bpe = Bpe(vocab, merges)
    with open(os.path.join(SHARED, 'clip_tokenizer_golden.json'), encoding='utf-8') as f:
        golden = json.load(f)
    for case in golden['cases']:
        assert bpe.encode(case['text']) == case['ids_without_sot_eot'], case['text']
        assert bpe.decode(case['ids_without_sot_eot']) == case['decoded'], case['text']
    print(f"our Python BPE reproduces all {len(golden['cases'])} golden cases", file=sys.stderr)
    return bpe


def ranges(pred):
    out, start = [], None
    for c in range(0x110000):
        if pred(c):
            if start is None:
                start = c
        elif start is not None:
            out.append([start, c - 1])
            start = None
    if start is not None:
        out.append([start, 0x10FFFF])
    return out


HTML_CASES = [
    '&amp;', '&amp', '&ampxyz', '&AMP;', '&AMP', '&Amp;', '&lt&gt', '&ltx', '&copy2024', '&notin', '&notin;',
    '&notit;', '&alpha', '&alpha;', '&nbsp;x', '&Tab;', '&NewLine;', '&NotEqualTilde;', '&CounterClockwiseContourIntegral;',
    '&' + 'a' * 40, '&' + 'b' * 31 + ';', '&am;p', '&;', '&', '&&amp;', '& amp;', '&#', '&#;', '&#x;', '&#xg;',
    '&#65', '&#65;', '&#65x', '&#x41;', '&#X41', '&#x41g', '&#0;', '&#1;', '&#8;', '&#9;', '&#11;', '&#13;', '&#31;',
    '&#127;', '&#128;', '&#129;', '&#141;', '&#157;', '&#159;', '&#160;', '&#xD800;', '&#xDFFF;', '&#x10FFFF;',
    '&#x110000;', '&#99999999999999999999;', '&#xFDD0;', '&#xFDEF;', '&#xFFFE;', '&#x1FFFF;', '&#x7FFFE;',
    '&#x8FFFE;', '&#xBFFFF;', '&#xCFFFE;', '&#x1F600;', '&#128512;', '&#000065;', '&#x0000041;', '&#38;#38;',
    '&#x26;amp;', '&amp;amp;amp;', 'x&lt;|endoftext|&gt;y', 'Tom &amp Jerry', 'a&b&c', '&quot;&apos;&QUOT',
    '&Eacute;&eacute&ETH&eth;', '&frac12;&frac1', '&fjlig;', '&ngE;', '&bne;',
]

CLEAN_CASES = HTML_CASES + [
    '  lead and trail  ', 'a\u3000b\u2028c\u2029d\x1ce\x1df\x1eg\x1fh\x85i\xa0j\u1680k\u2000l\u200am\u202fn\u205fo',
    'bom\ufeffx', 'mvs\u180ex', 'zwsp\u200bx', 'a\x0bb\x0cc\rd', 'a&nbsp;&nbsp;b', '&Tab;x&NewLine;',
    'İstanbul', 'ΟΔΟΣ ΣΑ', 'ǅ ǈ ǋ', 'ẞ ß', '\u212a \u2126 \u017f', 'ΣΑΣ.', 'Ⅻ ⓐⒶ', 'Ｆｕｌｌ',
    '', '   ', '&nbsp;', '\t\n',
]

SPLIT_CASES = [
    "it's it'S it'ſ don't y'all we'd i'm you're we've", "''s 's's", "<|startoftext|>hi<|endoftext|>",
    '<|ſtartoftext|>', '<|startoftext|', 'a\u0345b \u0345 1\u03452', '³½Ⅻ٣९', 'a_b a-b--c ...', 'e\u0301 é',
    'emoji 👍🏽 family 👨\u200d👩\u200d👧', 'x\x00y\x01z', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚', '日本語のテキスト', 'ﬁne ﬂow', 'mixed123abc',
]

ENCODE_CASES = [
    "it's it'S it'ſ don't", 'a\u0345b', '<|startoftext|>hi<|endoftext|>', '<|ſtartoftext|>', 'x&lt;|endoftext|&gt;y',
    'pneumonoultramicroscopicsilicovolcanoconiosis', 'supercalifragilisticexpialidocious',
    'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'abababababababab', 'lowlowlowestlowerlow',
    'x\x00y\x01z\x7f', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚', 'e\u0301 é', 'emoji 👍🏽 family 👨\u200d👩\u200d👧', '\U0010FFFF\U000E0001',
    'Tom &amp Jerry &copy2024 &#x1F600;', 'a\u3000b\x1cc\x85d\ufeffe', 'ΟΔΟΣ İstanbul ẞ', 'Ⅻ ⓐⒶ ｆｕｌｌ ﬁne',
    ' '.join(['a photo of a cat'] * 20), 'a ' * 74 + 'b', 'a ' * 75 + 'b', 'a ' * 76 + 'b',
]


def decode_cases(bpe):
    jp = bpe.encode('日本語のテキスト')
    cases = [jp[1:], jp[:1], jp[:2] + jp[3:], [bpe.vocab['<|startoftext|>'], 320, bpe.vocab['<|endoftext|>']],
             [320, 0, 0, 0], list(range(256, 300)), [bpe.vocab['<|endoftext|>']] * 2]
    return [{'ids': ids, 'text': bpe.decode(ids)} for ids in cases]


SMALL_CASES = ['a red circle', 'A blue square and a green triangle.', 'two circles', 'the larger star', 'zzz qqq',
               '<|startoftext|>a<|endoftext|>', 'a red circle!', 'café', '7 stars']


SMALL_CORPUS = ('a red circle a blue square a green triangle a yellow star a purple cross two circles the larger star '
                'and a red square and a blue circle').split()


def learn_merges(words, n):
    """A tiny BPE trainer of our own (independent of CLIP's vocabulary): repeatedly merge the most frequent
    adjacent pair in the corpus words (ties: the pair that sorts first), the last symbol of a word ending '</w>'."""
    seqs = [list(w[:-1]) + [w[-1] + '</w>'] for w in words]
    merges = []
    while len(merges) < n:
        counts = {}
        for seq in seqs:
            for pair in zip(seq, seq[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        for seq in seqs:
            i = 0
            while i < len(seq) - 1:
                if (seq[i], seq[i + 1]) == best:
                    seq[i:i + 2] = [seq[i] + seq[i + 1]]
                i += 1
    return merges


def small_vocab(bpe):
    # letters, the same with '</w>', then merges learned from a small caption corpus by our own BPE trainer
    letters = [chr(c) for c in range(ord('a'), ord('z') + 1)]
    symbols = letters + [c + '</w>' for c in letters]
    merges = learn_merges(SMALL_CORPUS, SMALL_MERGES)
    symbols += [a + b for a, b in merges if a + b not in symbols]
    symbols += ['<|startoftext|>', '<|endoftext|>']
    vocab = {s: i for i, s in enumerate(symbols)}
    os.makedirs(SMALL_DIR, exist_ok=True)
    with open(os.path.join(SMALL_DIR, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(SMALL_DIR, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))
    small = Bpe(vocab, merges)
    cases = []
    for t in SMALL_CASES:
        try:
            cases.append({'text': t, 'ids': small.encode(t)})
        except KeyError as e:  # a symbol the small vocabulary lacks
            cases.append({'text': t, 'missing': e.args[0]})
    return {'vocab_size': len(vocab), 'merges': len(merges), 'cases': cases}


def main():
    bpe = load_shared()
    py_unassigned = ranges(lambda c: unicodedata.category(chr(c)) == 'Cn')
    lower = {str(c): [ord(x) for x in chr(c).lower()]
             for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and chr(c).lower() != chr(c)}
    L = regex.compile(r'[\p{L}]+', regex.IGNORECASE)
    N = regex.compile(r'[\p{N}]', regex.IGNORECASE)
    O = regex.compile(r'[^\s\p{L}\p{N}]+', regex.IGNORECASE)
    out = {
        'note': 'written by reference/tokenizer_fixtures.py from Python html.unescape, re, str.lower and the regex '
                'module (IGNORECASE, as openai/CLIP simple_tokenizer.py); ftfy taken as identity',
        'python': sys.version.split()[0],
        'regex': regex.__version__,
        'unicodedata': unicodedata.unidata_version,
        'command': 'python3 reference/tokenizer_fixtures.py',
        'html': [{'text': t, 'unescaped': html.unescape(t)} for t in HTML_CASES],
        'named': [[t, html.unescape(t)] for n in sorted(html.entities.html5)
                  for t in ['&' + n, '&' + n + 'Xy;'] + (['&' + n[:-1]] if n.endswith(';') else [])],
        'clean': [{'text': t, 'cleaned': clean(t)} for t in CLEAN_CASES],
        'split': [{'text': t, 'tokens': regex.findall(SPLIT, clean(t))} for t in SPLIT_CASES],
        'classes': {
            'letters': ranges(lambda c: L.fullmatch(chr(c)) is not None),
            'number': ranges(lambda c: N.fullmatch(chr(c)) is not None),
            'other': ranges(lambda c: O.fullmatch(chr(c)) is not None),
        },
        'numeric': {str(c): html.unescape('&#%d;' % c) for c in range(0x110000)
                    if not 0xD800 <= c <= 0xDFFF and html.unescape('&#%d;' % c) != chr(c)},
        'lower': {'changed': lower, 'python_unassigned': py_unassigned},
    }
    if bpe is not None:
        out['encode'] = [{'text': t, 'ids': bpe.encode(t)} for t in ENCODE_CASES]
        out['decode'] = decode_cases(bpe)
        out['small'] = small_vocab(bpe)
    else:
        print(f'warning: {SHARED} is absent; encode/decode cases not written', file=sys.stderr)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w', encoding='utf-8') as f:
        json.dump(out, f, ensure_ascii=True, separators=(',', ':'))
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
