// index.ts: the public API of decomcam — re-exports only; each piece lives in its own file.
export { DecomcamError, type ErrorCode } from './errors.js';

// tensors and files
export {
  type Float, type DType, type Tensor, numel, tensor, zeros, reshape, clone, toFloat32, toFloat64, astype,
} from './tensor/tensor.js';
export { toNdarray, fromNdarray } from './tensor/ndarray.js';
export { type NdarrayLike, type NdarrayView } from './tensor/ndarray.js';
export { seededUniform } from './tensor/rng.js';
export {
  type StDType, type StTensor, type StFile, readSafetensors, parseSafetensors, writeSafetensors, serializeSafetensors, getTensor,
} from './io/safetensors.js';
export { type TorchCheckpoint, parseTorchCheckpoint, readTorchCheckpoint, readTorchIndex, findTorchWeights } from './io/torch.js';
export { unpickle, storageFromPid } from './io/pickle.js';
export { type ZipArchive, type ZipEntry, readZip, zipEntryBytes } from './io/zip.js';
export { writeFileAtomic, writeFilesAtomic } from './io/atomic.js';
// checkpoints opened, not read whole: each tensor read later straight into its destination (the model loader's path)
export { type OpenSafetensors, openSafetensors } from './io/safetensors.js';
export { type OpenTorchCheckpoint, openTorchCheckpoint, openTorchWeights } from './io/torch.js';
export { type FileTensor } from './io/tensorfile.js';

// images
export { type RgbImage, decodeImage, loadImage, encodePng } from './image/decode.js';
export { preprocessImage, centerCropResize, toTensor, normalize, CLIP_MEAN, CLIP_STD } from './image/preprocess.js';
export { clipCrop, type ClipCrop } from './image/geometry.js';
export { interpolate, type InterpolateMode } from './image/interpolate.js';
export { gaussianFilter } from './image/blur.js';
export { applyJet, overlay } from './image/colormap.js';

// CLIP
export { type ClipConfig, patchGrid } from './clip/config.js';
export { loadClip } from './clip/load.js';
export { shippedModelDir } from './clip/shipped.js';
export { type ClipModel, seededClip, encodeImages, encodeTexts, encodeTokens, clipLogits } from './clip/model.js';
export { type VisionRun, visionForward, visionBackward, getActivation, resolveLayer, releaseRun } from './clip/vision.js';
export { type ResnetConfig, resnetVisionConfig } from './clip/config.js';
export { RESNET_DEFAULT_LAYER, type ResnetRun } from './clip/resnet.js';
export { defaultLayer, layerGridOf } from './clip/vision.js';
export { ClipTokenizer } from './clip/tokenizer.js';
export { type Backend, type BackendName } from './kernels/backend.js';
export { tsBackend } from './kernels/reference.js';
export { BACKEND_NAMES, createBackend, getBackend, type BackendOptions } from './kernels/registry.js';
export { chooseBackend, defaultBackend, type BackendChoice, type ChooseOptions } from './kernels/choose.js';
export { enableRelaxedSimd, type WasmBackend, type WasmOptions } from './kernels/wasm/backend.js';
export { GPU_MODES, type GpuBackend, type GpuMode } from './kernels/gpujs/backend.js';

// linear algebra
export { jacobiSvd } from './linalg/jacobi.js';
export { lanczosSvd } from './linalg/lanczos.js';
export { pca, type PcaResult } from './linalg/pca.js';

// CAM methods
export {
  explain, camMethods, resolveOptions, type ExplainOptions, type Explanation, type TextExplanation, type CamImage,
} from './cam/explain.js';
export {
  explainMethods, DEFAULT_LAYER, type BuiltinExplainOptions, type CustomExplainOptions, type CommonOptions, type MethodOptionsMap,
  type ResolvedExplainOptions, type ExplainMethodsExtras,
} from './cam/explain.js';
export { presets, type PresetName } from './cam/decomcam.js';
export { decomcamDefaults, type DecomcamOptions } from './cam/decomcam.js';
/** Options of Score-CAM (cam/scorecam.ts). */
export type { ScorecamOptions } from './cam/scorecam.js';
/** Options of gScore-CAM (cam/gscorecam.ts). */
export type { GscorecamOptions } from './cam/gscorecam.js';
export {
  builtinMethods, createRegistry, registerMethod, methodByName, METHOD_NAMES, type MethodName, type MethodRegistry,
} from './cam/registry.js';
/** The types a custom CAM method is written against (cam/template.ts). */
export type { CamMethod, CamContext, LayerGrid, FullMap, StageTimer } from './cam/template.js';
export { textTarget, embeddingTarget, type Target, type ScoreKind } from './cam/target.js';
export { type TargetOptions } from './cam/target.js';
export {
  SCORE_KINDS, cosineRow, scoreRows, scoreAndGrad, softmax, unitRows, promptProbabilities,
} from './clip/score.js';

// evaluation
export { pointingGame } from './eval/pointing.js';
export { energyPointingGame } from './eval/energy.js';
export { deletionCurve, insertionCurve, type Scorer } from './eval/deletion.js';
export { camMultImage, averageDropIncrease } from './eval/confidence.js';
export { boxIou, mapBoxIou } from './eval/boxiou.js';
export { clipCenterCropFrame, cropFrame, identityFrame, type Box, type ObjectRegion, type MapFrame } from './eval/frame.js';
export { loadScenes, loadVoc, loadCoco, classPrompt, type EvalDataset, type EvalImage, type EvalObject } from './eval/datasets.js';
export { evaluate, type EvalOptions, type EvalResult, type EvalRow, type ZeroShot } from './eval/harness.js';
export { evaluateRecords } from './eval/harness.js';
export { parseShard, shardOf, planPairs, WHOLE, type Shard, type EvalPair } from './eval/shard.js';
export {
  RECORDS_FORMAT, blockText, headerText, parseRecords, settingsDiffer,
  type EvalSettings, type HeaderRecord, type EvalRecord, type PairRecord, type ZeroShotRecord, type ParsedRecords,
} from './eval/records.js';
export { RECORDS_FORMAT_V1, runDifference, type RecordsOrigin } from './eval/records.js';
export {
  summarize, METRICS, ALPHA, BOOTSTRAP_DEFAULTS, REFERENCE_METHOD,
  type SummaryMeta, type EvalGroup, type EvalStatistics, type PairedComparison, type MetricKey,
} from './eval/summary.js';
export { bootstrapDraws, bootstrapRatios, percentile, percentileInterval } from './eval/bootstrap.js';
export { wilcoxonSignedRank, holm, erfc, type SignedRankResult } from './eval/signedrank.js';
export { SCENE_GROUPS } from './eval/datasets.js';

// explain off the main thread (a worker thread holds the model)
export { createExplainer, explainAsync } from './worker/node.js';
export { Explainer } from './worker/explainer.js';
export { type WorkerModelOptions } from './worker/protocol.js';

// what a person looks at: report.html, index.html, components.png, maps in the image's frame, stages.safetensors
export {
  renderReport, renderGallery, componentsImage, weightOrder, cropBoxInImage, mapToImage, overlayInImage, greyInImage, stageTensors,
  STAGE_DOCS, DISPLAY_MAX, type ReportInput, type GalleryEntry, type CropBox, type ImageFrameMap,
} from './report/index.js';
export { type ProgressFn } from './cam/explain.js';
// the browser: a model from its files' bytes; the host (node or browser) this build runs on
export { loadClipFromFiles, type ModelFiles } from './clip/load-files.js';
export { PLATFORM } from './platform/node.js';
export { parseHfConfig } from './clip/config.js';
