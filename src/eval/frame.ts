// eval/frame.ts: where a saliency map's pixels lie in the original image, plus the shared checks of the
// eval metrics. A map is computed in the model's input frame (CLIP: resize the short side, centre-crop),
// while annotations are in the original image, so every metric takes a MapFrame that carries the map's
// continuous coordinates to the original's. Continuous coordinates: pixel (i, j) covers [j, j+1) × [i, i+1),
// its centre is (j + 0.5, i + 0.5). H, W = map rows, columns; origWidth, origHeight = the original image.

import { fail } from '../errors.js';
import type { Float } from '../tensor/tensor.js';
import { clipCrop } from '../image/geometry.js';

/**
 * x_orig = offsetX + scaleX · x_map,  y_orig = offsetY + scaleY · y_map  (continuous coordinates).
 */
export interface MapFrame {
  scaleX: number;
  scaleY: number;
  offsetX: number;
  offsetY: number;
  origWidth: number;  // size of the original image, for masks and clipping boxes
  origHeight: number;
}

/**
 * An object's box [x1, y1, x2, y2] in continuous original-image coordinates, area (x2 - x1)·(y2 - y1).
 * A pixel belongs to the box when its centre does: x1 <= j + 0.5 < x2 and y1 <= i + 0.5 < y2, so an
 * integer box covers columns x1 .. x2-1 (end exclusive, as COCO's [x, y, w, h] → [x, y, x+w, y+h]).
 * VOC's 1-based inclusive [xmin, ymin, xmax, ymax] is [xmin-1, ymin-1, xmax, ymax] here, the pixels
 * torchray's voc_as_mask sets.
 */
export type Box = readonly [number, number, number, number];

/**
 * The queried object: its boxes (their union), or a mask at the original resolution (origHeight, origWidth),
 * nonzero = object. Exactly one of the two.
 */
export interface ObjectRegion {
  boxes?: readonly Box[];
  mask?: Uint8Array;
}

/**
 * The map is the image itself (no resize, no crop), (height, width) as every size here.
 */
export function identityFrame(height: number, width: number): MapFrame {
  checkSize('identityFrame', width, height);
  return { scaleX: 1, scaleY: 1, offsetX: 0, offsetY: 0, origWidth: width, origHeight: height };
}

/**
 * The general resize-then-crop geometry: the original (origWidth × origHeight) was resized to
 * (resizedWidth × resizedHeight) with its edges kept aligned (PIL/torchvision resize), then the window
 * [cropLeft, cropLeft + cropWidth) × [cropTop, cropTop + cropHeight) was cut out; the map (mapWidth × mapHeight)
 * covers that window exactly (an upsampled CAM at 224, or the raw h×w grid).
 */
export interface CropGeometry {
  origWidth: number; origHeight: number;
  resizedWidth: number; resizedHeight: number;
  cropLeft: number; cropTop: number; cropWidth: number; cropHeight: number;
  mapWidth: number; mapHeight: number;
}

/**
 * The map → original frame of a map computed on a resized, cropped image (CLIP's Resize + CenterCrop); throws
 * DecomcamError ('usage') for a non-positive size.
 */
export function cropFrame(g: CropGeometry): MapFrame {
  checkSize('cropFrame original', g.origWidth, g.origHeight);
  checkSize('cropFrame resized', g.resizedWidth, g.resizedHeight);
  checkSize('cropFrame crop', g.cropWidth, g.cropHeight);
  checkSize('cropFrame map', g.mapWidth, g.mapHeight);
  if (!Number.isInteger(g.cropLeft) || !Number.isInteger(g.cropTop) || g.cropLeft < 0 || g.cropTop < 0
      || g.cropLeft + g.cropWidth > g.resizedWidth || g.cropTop + g.cropHeight > g.resizedHeight) {
    fail(`cropFrame: crop window left ${g.cropLeft} top ${g.cropTop} size ${g.cropWidth}×${g.cropHeight} `
      + `does not lie inside the resized image ${g.resizedWidth}×${g.resizedHeight} (padding crops are not supported)`, 'usage');
  }
  // map → crop: × crop/map;  crop → resized: + left;  resized → original: × orig/resized.
  const sx = g.origWidth / g.resizedWidth;
  const sy = g.origHeight / g.resizedHeight;
  return {
    scaleX: (g.cropWidth / g.mapWidth) * sx,
    scaleY: (g.cropHeight / g.mapHeight) * sy,
    offsetX: g.cropLeft * sx,
    offsetY: g.cropTop * sy,
    origWidth: g.origWidth,
    origHeight: g.origHeight,
  };
}

/**
 * OpenAI CLIP's preprocessing as torchvision runs it, Resize(size) then CenterCrop(size), of an original
 * (origHeight, origWidth) image; the geometry is image/geometry.ts's clipCrop (int() truncation of the long
 * side, offsets by Python's round-half-to-even: a resized side of 229 at size 224 gives offset 2, not 3).
 * HF's CLIPImageProcessor floors that offset instead; build its frame with cropFrame if that is what ran.
 */
export function clipCenterCropGeometry(
  origHeight: number, origWidth: number, mapHeight: number, mapWidth: number, size = 224): CropGeometry {
  checkSize('clipCenterCropFrame original', origWidth, origHeight);
  checkSize('clipCenterCropFrame map', mapWidth, mapHeight);
  checkSize('clipCenterCropFrame size', size, size);
  const c = clipCrop(origHeight, origWidth, size);
  return {
    origWidth, origHeight, resizedWidth: c.resizedW, resizedHeight: c.resizedH,
    cropLeft: c.left, cropTop: c.top,
    cropWidth: size, cropHeight: size, mapWidth, mapHeight,
  };
}

/**
 * The MapFrame of a (mapHeight, mapWidth) map over CLIP's crop of an (origHeight, origWidth) image.
 */
export function clipCenterCropFrame(
  origHeight: number, origWidth: number, mapHeight: number, mapWidth: number, size = 224): MapFrame {
  return cropFrame(clipCenterCropGeometry(origHeight, origWidth, mapHeight, mapWidth, size));
}

// Python 3's round(), kept reachable here for the callers that imported it from this file.
export { roundHalfEven } from '../image/geometry.js';

/**
 * The centre of map pixel (row, col) in original continuous coordinates.
 */
export function mapPixelCentre(frame: MapFrame, row: number, col: number): { x: number; y: number } {
  return { x: frame.offsetX + frame.scaleX * (col + 0.5), y: frame.offsetY + frame.scaleY * (row + 0.5) };
}

/**
 * Is the continuous point (x, y) of the original image inside the object? Boxes: x1 <= x < x2, y1 <= y < y2
 * (the pixel-centre rule above when (x, y) is a pixel centre). Mask: the pixel containing the point.
 */
export function regionContains(region: ObjectRegion, frame: MapFrame, x: number, y: number): boolean {
  if (region.mask) {
    const j = Math.floor(x);
    const i = Math.floor(y);
    if (i < 0 || j < 0 || i >= frame.origHeight || j >= frame.origWidth) return false;
    return region.mask[i * frame.origWidth + j] !== 0;
  }
  for (const [x1, y1, x2, y2] of region.boxes ?? []) {
    if (x >= x1 && x < x2 && y >= y1 && y < y2) return true;
  }
  return false;
}

// ---- checks at the boundary of every metric ----

/** Throws DecomcamError ('usage') unless width and height are positive integers; what names the caller. */
export function checkSize(what: string, width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    fail(`${what}: size ${width}×${height} is not a pair of positive integers`, 'usage');
  }
}

/** Throws DecomcamError ('usage') unless box is four finite numbers [x1, y1, x2, y2] with x2 >= x1 and y2 >= y1. */
export function checkBox(what: string, box: Box): void {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => Number.isFinite(v))) {
    fail(`${what}: box ${JSON.stringify(box)} is not four finite numbers [x1, y1, x2, y2]`, 'usage');
  }
  if (box[2] < box[0] || box[3] < box[1]) {
    fail(`${what}: box [${box.join(', ')}] has x2 < x1 or y2 < y1; boxes are [x1, y1, x2, y2] `
      + '(hint: a COCO [x, y, w, h] box is [x, y, x + w, y + h])', 'usage');
  }
}

/**
 * Exactly one of boxes / mask; a mask matches the frame's original size.
 */
export function checkRegion(what: string, region: ObjectRegion, frame: MapFrame): void {
  const hasBoxes = region.boxes !== undefined;
  const hasMask = region.mask !== undefined;
  if (hasBoxes === hasMask) fail(`${what}: give the object as either boxes or a mask, not ${hasBoxes ? 'both' : 'neither'}`, 'usage');
  if (hasBoxes) {
    if (!Array.isArray(region.boxes)) fail(`${what}: boxes must be an array of [x1, y1, x2, y2]`, 'usage');
    region.boxes.forEach((b, k) => checkBox(`${what} box ${k}`, b));
  } else {
    if (!(region.mask instanceof Uint8Array)) fail(`${what}: the mask must be a Uint8Array (nonzero = object)`, 'usage');
    const n = frame.origWidth * frame.origHeight;
    if (region.mask.length !== n) {
      fail(`${what}: mask has ${region.mask.length} values but the original image is `
        + `${frame.origWidth}×${frame.origHeight} = ${n} pixels (the mask is at the original resolution)`, 'usage');
    }
  }
}

/**
 * The frame defaults to the identity, which needs the map to be the original image's size.
 */
export function frameOrIdentity(frame: MapFrame | undefined, H: number, W: number): MapFrame {
  if (frame === undefined) return identityFrame(H, W);
  const ok = [frame.scaleX, frame.scaleY, frame.offsetX, frame.offsetY].every(Number.isFinite)
    && frame.scaleX > 0 && frame.scaleY > 0;
  if (!ok) fail(`map frame ${JSON.stringify(frame)} needs finite offsets and positive scales`, 'usage');
  checkSize('map frame original', frame.origWidth, frame.origHeight);
  return frame;
}
