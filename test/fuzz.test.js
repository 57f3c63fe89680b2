// test/fuzz.test.js: a fixed-seed sample of our own fuzzers (tools/fuzz.js): a few hundred mutated safetensors
// files, PNGs, JPEGs, tokenizer inputs and model folders, and a few dozen hostile command lines. Every case must
// end in success or a clean error (a DecomcamError in our words): no unclear error, no hang, no memory blow-up.
// The full campaign (10,000 cases a target) is in the README: "Hostile input and the fuzzers".
import test from 'tape';
import { fuzz, formatCounts } from '../tools/fuzz.js';

const SEED = 13;
const SAMPLE = { safetensors: 300, png: 300, jpeg: 300, tokenizer: 200, 'model-folder': 200, cli: 24, pickle: 300, zip: 200 };

for (const [target, cases] of Object.entries(SAMPLE)) {
  test(`fuzz ${target}: ${cases} cases of seed ${SEED}, none unclear, hung or blown up`, async (t) => {
    const t0 = performance.now();
    const { counts, failures } = await fuzz(target, { cases, seed: SEED });
    t.comment(formatCounts(target, SEED, counts, (performance.now() - t0) / 1000));
    for (const r of failures.slice(0, 10)) {
      t.comment(`case ${r.index} ${r.outcome}: ${String(r.detail).slice(0, 300)}\n    input: ${String(r.desc).slice(0, 300)}`);
    }
    t.equal(counts.success + counts.clean + counts.unclear + counts.hang + counts['blow-up'], cases, 'every case counted once');
    t.deepEqual([counts.unclear, counts.hang, counts['blow-up']], [0, 0, 0],
      `0 unclear, 0 hangs, 0 blow-ups (reproduce one: node tools/fuzz.js ${target} --seed ${SEED} --case N)`);
  });
}
