// tools/lib/fuzz/classify.js: what counts as a clean error. A clean error is a DecomcamError whose message says in
// our words what is wrong; anything else — another exception, or a DecomcamError that quotes the JavaScript engine,
// a decoder's internals or a stack, or runs on for pages — is "unclear".

// Phrases that only the engine or a third-party decoder writes; our messages never contain them.
export const INTERNAL_PHRASES = [
  /Cannot (read|set) propert(y|ies) of/, /is not a function/, /is not iterable/, /is not defined/, /is not a constructor/,
  /Invalid typed array length/, /Invalid array length/, /Array buffer allocation failed/, /Invalid string length/,
  /out of memory/i, /Maximum call stack/, /Offset is outside the bounds/, /outside buffer bounds/, /out of range index/,
  /Start offset -?\d+ is outside/, /waitng on finished stream/, /should not go down/, /\bTypeError\b/, /\bRangeError\b/,
  /\bSyntaxError\b/, /\bat \S+ \(.*:\d+:\d+\)/, /node:internal/, /\/dist\//, /\bundefined\b/, /\[object Object\]/, /\.partial-\d+/, /\bE[A-Z]{3,}\b: /,
];
// A message longer than this is not "one line naming the problem" (e.g. a 10,000-deep JSON value printed whole).
export const MAX_MESSAGE = 1000;

// → null when the message is clean, else why not.
export function unclearReason(message) {
  if (typeof message !== 'string' || message.trim() === '') return 'empty message';
  if (message.length > MAX_MESSAGE) return `message of ${message.length} characters`;
  const hit = INTERNAL_PHRASES.find((re) => re.test(message));
  return hit ? `quotes internals (${hit.source})` : null;
}

// A caught exception → ['clean' | 'unclear', detail].
export function classifyError(e) {
  const msg = String(e?.message ?? e).slice(0, 300);
  if (e?.name !== 'DecomcamError') return ['unclear', `${e?.name ?? typeof e}: ${msg}`];
  const why = unclearReason(e.message);
  return why ? ['unclear', `${why}: ${msg}`] : ['clean', msg];
}
