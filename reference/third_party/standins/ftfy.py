"""ftfy stand-in (Debian has no python3-ftfy): openai/CLIP's simple_tokenizer calls only ftfy.fix_text, whose
mojibake repair does nothing to the ASCII prompts of these fixtures. Identity, as src/clip/tokenizer.ts takes it.
Used only when the real ftfy is not installed (reference/third_party/oracles.py puts this folder last on sys.path)."""


def fix_text(text):
    return text
