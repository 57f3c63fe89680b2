// report/index.ts: what a person looks at, made from an explanation — report.html (report.ts), index.html for a
// folder (gallery.ts), components.png (components.ts), maps carried to the image's frame (imagemap.ts), and the
// stage-by-stage stages.safetensors (stages.ts). Re-exports only.
export { renderReport, DISPLAY_MAX, type ReportInput } from './report.js';
export { renderGallery, type GalleryEntry } from './gallery.js';
export { componentsImage, weightOrder, componentLabel } from './components.js';
export { cropBoxInImage, mapToImage, overlayInImage, greyInImage, type CropBox, type ImageFrameMap } from './imagemap.js';
export { stageTensors, STAGE_DOCS } from './stages.js';
export { drawText, textWidth } from './font.js';
export { applyDiverging, divergingColor } from './colors.js';
