// test/cam_tolerances.js: the CAM tests' tolerances, now kept in test/tolerances.js (one table); re-exported
// here under the old name for the tests that import it.
export { CAM_TOL } from './tolerances.js';
