// test/tensor.test.js: the Tensor type, ndarray conversion, and the seeded generator against numpy's twin.
import test from 'tape';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ndarray from 'ndarray';
import { tensor, zeros, reshape, numel } from '../dist/tensor/tensor.js';
import { toNdarray, fromNdarray } from '../dist/tensor/ndarray.js';
import { seededUniform } from '../dist/tensor/rng.js';
import { readSafetensors } from '../dist/io/safetensors.js';
import { fixturesDir } from './helpers/compare.js';

test('tensor: shape checks, reshape without copying', (t) => {
  const a = zeros([2, 3], 'float64');
  t.ok(a.data instanceof Float64Array && a.data.length === 6, 'zeros float64 [2,3]');
  const b = reshape(a, [3, -1]);
  t.equal(b.data, a.data, 'reshape shares data');
  t.deepEqual(b.shape, [3, 2], 'reshape infers -1');
  t.equal(numel([]), 1, 'a scalar has one element');
  t.throws(() => tensor(new Float32Array(5), [2, 3]), /has 5 elements but shape \[2, 3\] needs 6/, 'length mismatch is named');
  t.end();
});

test('tensor: ndarray conversion shares contiguous data, copies strided views in order', (t) => {
  const a = tensor(Float32Array.from([0, 1, 2, 3, 4, 5]), [2, 3]);
  const nd = toNdarray(a);
  t.equal(nd.data, a.data, 'toNdarray shares data');
  t.equal(nd.get(1, 2), 5, 'same indexing');
  const back = fromNdarray(nd);
  t.equal(back.data.buffer, a.data.buffer, 'fromNdarray of a contiguous array shares the buffer');
  const tr = fromNdarray(nd.transpose(1, 0));
  t.deepEqual(Array.from(tr.data), [0, 3, 1, 4, 2, 5], 'a transposed view is copied in row-major order');
  t.deepEqual(tr.shape, [3, 2], 'with its shape');
  t.throws(() => fromNdarray(ndarray([1, 2, 3], [3])), /must hold a Float32Array or a Float64Array/, 'plain arrays refused by name');
  t.end();
});

test('rng: seededUniform equals reference/seeded.py bit for bit (f32 and f64)', (t) => {
  const file = readSafetensors(join(fixturesDir, 'seeded.safetensors'));
  const meta = JSON.parse(readFileSync(join(fixturesDir, 'seeded.json'), 'utf8'));
  meta.cases.forEach((c, k) => {
    for (const dtype of ['float32', 'float64']) {
      const ours = seededUniform(c.seed, c.name, c.n, c.scale, c.offset, dtype);
      const ref = file.tensors.get(`case${k}.${dtype === 'float32' ? 'f32' : 'f64'}`).data;
      let diff = 0;
      for (let i = 0; i < c.n; i++) if (!Object.is(ours[i], ref[i])) diff++;
      t.equal(diff, 0, `case ${k} (seed ${c.seed}, "${c.name}", ${dtype}): ${c.n} values identical`);
    }
  });
  t.end();
});
