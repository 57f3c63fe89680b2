// index.ts: the public API of decomcam — re-exports only; each piece lives in its own file.
export { DecomcamError, type ErrorCode } from './errors.js';
export {
  type Float, type DType, type Tensor, numel, tensor, zeros, reshape, clone, toFloat32, toFloat64, astype,
} from './tensor/tensor.js';
export { toNdarray, fromNdarray } from './tensor/ndarray.js';
export { seededUniform } from './tensor/rng.js';
export {
  type StDType, type StTensor, type StFile, readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, getTensor,
} from './io/safetensors.js';
