// test/clip_tolerances.js: the CLIP and layer tests' tolerances, now kept in test/tolerances.js (one table);
// re-exported here under the old name for the tests that import it.
export { CLIP_TOL as TOL } from './tolerances.js';
