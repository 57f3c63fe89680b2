"""make_caption_vocab.py: a tiny CLIP BPE vocabulary for the scene captions, and the BPE that reads it.

The vocabulary has CLIP's layout, so our real CLIP tokenizer (TS) reads it like OpenAI's: the 256 byte symbols
of bytes_to_unicode, the same 256 with '</w>', one symbol per merge in rank order, then '<|startoftext|>' and
'<|endoftext|>' as the last two ids. The merges are learned by plain BPE on the caption words (most frequent
pair first, ties to the smallest pair) until every caption word is one symbol.

`ClipBpe` is a small reference of OpenAI's clip/simple_tokenizer.py rules (bytes_to_unicode, whitespace clean,
lower case, the pre-split pattern, lowest-rank-first merging), used to check the ids. Differences, none of
which touch the captions: ftfy.fix_text is not applied (not installed), and the `regex` module's \\p{L} / \\p{N}
are approximated with Python's re ([^\\W\\d_] / \\d).

Usage:  python3 reference/make_caption_vocab.py --out weights/tiny-clip
        (also checks ClipBpe against ../shared/data/tokenizer's golden ids when that folder exists)
"""
import argparse
import html
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scenes import ALL_OBJECT_CAPTIONS, COLOUR_NAMES, SHAPES, join_captions, object_caption  # noqa: E402

SOT, EOT = '<|startoftext|>', '<|endoftext|>'
# OpenAI's pattern with \p{L}+ -> [^\W\d_]+ and \p{N} -> \d (the `regex` module is not installed here).
PRE_SPLIT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|(?:[^\s\w]|_)+""",
                       re.IGNORECASE)


def bytes_to_unicode():
    """OpenAI's table: printable bytes map to themselves, the other 68 to code points 256, 257, ...
    Its value order is the order of the first 256 vocabulary entries."""
    bs = (list(range(ord('!'), ord('~') + 1)) + list(range(ord('¡'), ord('¬') + 1))
          + list(range(ord('®'), ord('ÿ') + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clean(text):
    """basic_clean (without ftfy) and whitespace_clean, then lower case, as simple_tokenizer.encode."""
    text = html.unescape(html.unescape(text)).strip()
    return re.sub(r'\s+', ' ', text).strip().lower()


def word_symbols(token):
    """A pre-split token (already byte-encoded) as BPE's starting symbols: characters, '</w>' on the last."""
    return list(token[:-1]) + [token[-1] + '</w>']


def merge_pair(symbols, pair):
    """symbols with every occurrence of the adjacent pair, left to right, joined into one symbol."""
    out, i = [], 0
    while i < len(symbols):
        if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


class ClipBpe:
    """encode(text) -> ids without <|startoftext|>/<|endoftext|>; tokenize(texts, T) -> padded id rows."""

    def __init__(self, vocab, merges):
        self.encoder = dict(vocab)
        self.ranks = {tuple(m): i for i, m in enumerate(merges)}
        self.byte_encoder = bytes_to_unicode()
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]

    @classmethod
    def from_files(cls, vocab_path, merges_path):
        with open(vocab_path, encoding='utf-8') as f:
            vocab = json.load(f)
        with open(merges_path, encoding='utf-8') as f:
            lines = f.read().split('\n')
        if not lines[0].startswith('#version'):
            raise ValueError(f'{merges_path}: first line {lines[0]!r} should be "#version: 0.2"')
        merges = [tuple(line.split(' ')) for line in lines[1:] if line]
        return cls(vocab, merges)

    def bpe(self, token):
        """Merge the lowest-ranked adjacent pair, all its occurrences left to right, until none is ranked."""
        word = word_symbols(token)
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float('inf')))
            if best not in self.ranks:
                break
            word = merge_pair(word, best)
        return word

    def encode(self, text):
        ids = []
        for token in PRE_SPLIT.findall(clean(text)):
            token = ''.join(self.byte_encoder[b] for b in token.encode('utf-8'))
            ids.extend(self.encoder[s] for s in self.bpe(token))
        return ids

    def tokenize(self, texts, context_length):
        """(N, T) list of id rows: <|startoftext|>, ids, <|endoftext|>, zero padding (as clip.tokenize)."""
        rows = []
        for text in texts:
            ids = [self.sot] + self.encode(text) + [self.eot]
            if len(ids) > context_length:
                raise ValueError(f'text {text!r} is {len(ids)} tokens, more than the context length {context_length}')
            rows.append(ids + [0] * (context_length - len(ids)))
        return rows


def caption_corpus():
    """Every caption the training script can produce: all objects, 1-3 at a time (word counts only)."""
    singles = ALL_OBJECT_CAPTIONS
    corpus = list(singles)
    corpus += [join_captions([a, b]) for a in singles for b in singles if a != b]
    return corpus


def learn_merges(corpus):
    """BPE on the corpus' words until each word is one symbol. Returns the merges in rank order."""
    byte_encoder = bytes_to_unicode()
    counts = {}
    for text in corpus:
        for token in PRE_SPLIT.findall(clean(text)):
            token = ''.join(byte_encoder[b] for b in token.encode('utf-8'))
            counts[token] = counts.get(token, 0) + 1
    words = {token: word_symbols(token) for token in counts}
    merges = []
    while True:
        pair_counts = {}
        for token, symbols in words.items():
            for pair in zip(symbols, symbols[1:]):
                pair_counts[pair] = pair_counts.get(pair, 0) + counts[token]
        if not pair_counts:
            return merges
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
        merges.append(best)
        words = {token: merge_pair(symbols, best) for token, symbols in words.items()}


def build_vocab(merges):
    """CLIP's order: bytes, bytes + '</w>', one symbol per merge, <|startoftext|>, <|endoftext|>."""
    symbols = list(bytes_to_unicode().values())
    symbols += [s + '</w>' for s in symbols]
    symbols += [a + b for a, b in merges]
    symbols += [SOT, EOT]
    if len(set(symbols)) != len(symbols):
        raise ValueError('two merges make the same symbol; the vocabulary would lose an id')
    return {s: i for i, s in enumerate(symbols)}


def write_vocab(out_dir, vocab, merges):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, 'vocab.json'), 'w', encoding='utf-8') as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(out_dir, 'merges.txt'), 'w', encoding='utf-8') as f:
        f.write('#version: 0.2\n' + ''.join(f'{a} {b}\n' for a, b in merges))


def check_caption_ids(bpe):
    """Every caption word is one token; every caption encodes to exactly its words' ids."""
    words = ['a', 'an', 'and'] + COLOUR_NAMES + SHAPES
    for w in words:
        ids = bpe.encode(w)
        if len(ids) != 1 or ids[0] != bpe.encoder[w + '</w>']:
            raise AssertionError(f'caption word {w!r} encodes to {ids}, expected the single id of {w + "</w>"!r}')
    caption = join_captions([object_caption('orange', 'star'), object_caption('red', 'circle'),
                             object_caption('blue', 'ring')])
    expect = [bpe.encoder[w + '</w>'] for w in 'an orange star'.split()] + [bpe.encoder[',</w>']]
    expect += [bpe.encoder[w + '</w>'] for w in 'a red circle and a blue ring'.split()]
    got = bpe.encode(caption)
    if got != expect:
        raise AssertionError(f'{caption!r} -> {got}, expected {expect}')


def check_against_golden(shared_dir):
    """ClipBpe with OpenAI's full vocabulary must give the golden ids (cases ftfy or \\p{..} could change are
    reported, not failed)."""
    tok_dir = os.path.join(shared_dir, 'tokenizer')
    if not os.path.exists(os.path.join(tok_dir, 'clip_tokenizer_golden.json')):
        print('golden check skipped: no', tok_dir)
        return
    bpe = ClipBpe.from_files(os.path.join(tok_dir, 'vocab.json'), os.path.join(tok_dir, 'merges.txt'))
    with open(os.path.join(tok_dir, 'clip_tokenizer_golden.json'), encoding='utf-8') as f:
        cases = json.load(f)['cases']
    bad = [c['text'] for c in cases if bpe.encode(c['text']) != c['ids_without_sot_eot']]
    ascii_bad = [t for t in bad if t.isascii()]
    print(f'golden check: {len(cases) - len(bad)}/{len(cases)} cases match OpenAI ids'
          + (f'; non-ASCII mismatches (ftfy/regex approximations): {bad}' if bad else ''))
    if ascii_bad:
        raise AssertionError(f'ClipBpe disagrees with OpenAI on ASCII texts: {ascii_bad}')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True, help='folder for vocab.json and merges.txt')
    ap.add_argument('--shared', default=os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data'))
    args = ap.parse_args()
    check_against_golden(args.shared)
    merges = learn_merges(caption_corpus())
    vocab = build_vocab(merges)
    write_vocab(args.out, vocab, merges)
    bpe = ClipBpe.from_files(os.path.join(args.out, 'vocab.json'), os.path.join(args.out, 'merges.txt'))
    check_caption_ids(bpe)
    print(f'wrote {args.out}/vocab.json ({len(vocab)} ids) and merges.txt ({len(merges)} merges); '
          f'<|startoftext|> = {bpe.sot}, <|endoftext|> = {bpe.eot}')


if __name__ == '__main__':
    main()
