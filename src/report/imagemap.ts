// report/imagemap.ts: a map made in CLIP's crop frame (S×S) carried back to the input image's own frame
// (H×W, or a display size of it), through the one crop geometry (image/geometry.ts clipCrop: resize the short
// side to S, centre-crop S×S). Output pixel (Y, X) of an outH×outW picture covers image coordinates
// ((Y + 0.5)·H/outH, (X + 0.5)·W/outW); the resize scales those by (H'/H, W'/W) and the crop shifts them by
// (top, left); the map is sampled there bilinearly at its pixel centres (edges clamped). Pixels outside the
// crop were never seen by the model: `inside` is 0 there and the map 0, and pictures shade them.

import { fail } from '../errors.js';
import type { RgbImage } from '../image/decode.js';
import { checkRgbImage } from '../image/decode.js';
import { overlay } from '../image/colormap.js';
import { clipCrop } from '../image/geometry.js';
import type { Float } from '../tensor/tensor.js';
import { shadedPixel, onHatch } from './raster.js';

/** The crop the model saw, in continuous image coordinates: [x0, x1) × [y0, y1) of the W×H input. */
export interface CropBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Where CLIP's S×S crop lies in an H×W image (continuous coordinates; the whole image when it is square). */
export function cropBoxInImage(H: number, W: number, S: number): CropBox {
  const c = clipCrop(H, W, S);
  const sy = H / c.resizedH, sx = W / c.resizedW; // resized → image
  return { x0: c.left * sx, y0: c.top * sy, x1: (c.left + S) * sx, y1: (c.top + S) * sy };
}

/** A map in the image's frame: values (outH·outW) in [0, 1], 0 outside the crop; inside (outH·outW) 1 where the
 * model saw the pixel. */
export interface ImageFrameMap {
  map: Float64Array;
  inside: Uint8Array;
  width: number;
  height: number;
}

/**
 * map (S, S) in the crop frame → (outH, outW) over the whole H×W image (default: the image's own size).
 * Bilinear, so values stay within the map's range.
 */
export function mapToImage(map: Float, S: number, H: number, W: number, outH = H, outW = W): ImageFrameMap {
  if (map.length !== S * S) fail(`mapToImage: map has ${map.length} values, expected S·S = ${S * S}`);
  if (![outH, outW].every((v) => Number.isInteger(v) && v >= 1)) fail(`mapToImage: output size ${outW}×${outH} must be positive integers`);
  const c = clipCrop(H, W, S);
  // output pixel centre → crop coordinate (continuous): ((Y + 0.5)·H/outH)·(H'/H) − top
  const ky = c.resizedH / outH, kx = c.resizedW / outW;
  const out = new Float64Array(outH * outW);
  const inside = new Uint8Array(outH * outW);
  const cols = new Float64Array(outW); // crop column coordinate of each output column, NaN when outside
  for (let X = 0; X < outW; X++) {
    const u = (X + 0.5) * kx - c.left;
    cols[X] = u >= 0 && u < S ? u - 0.5 : NaN; // in pixel-centre units: map pixel j is centred on j
  }
  for (let Y = 0; Y < outH; Y++) {
    const v0 = (Y + 0.5) * ky - c.top;
    if (!(v0 >= 0 && v0 < S)) continue;
    const v = Math.min(Math.max(v0 - 0.5, 0), S - 1);
    const i0 = Math.floor(v), i1 = Math.min(i0 + 1, S - 1), fy = v - i0;
    for (let X = 0; X < outW; X++) {
      if (Number.isNaN(cols[X])) continue;
      const u = Math.min(Math.max(cols[X], 0), S - 1);
      const j0 = Math.floor(u), j1 = Math.min(j0 + 1, S - 1), fx = u - j0;
      const top = map[i0 * S + j0] * (1 - fx) + map[i0 * S + j1] * fx;
      const bottom = map[i1 * S + j0] * (1 - fx) + map[i1 * S + j1] * fx;
      out[Y * outW + X] = top * (1 - fy) + bottom * fy;
      inside[Y * outW + X] = 1;
    }
  }
  return { map: out, inside, width: outW, height: outH };
}

/**
 * The JET overlay (image/colormap.ts overlay, image weight 0.5) of a map in the image's frame over img (same size),
 * with the pixels the model never saw shaded grey and hatched instead of coloured.
 */
export function overlayInImage(img: RgbImage, fm: ImageFrameMap, imageWeight = 0.5): RgbImage {
  checkRgbImage(img, 'overlayInImage');
  if (img.width !== fm.width || img.height !== fm.height) {
    fail(`overlayInImage: image ${img.width}×${img.height} and map ${fm.width}×${fm.height} differ in size`);
  }
  const ov = overlay(img, fm.map, imageWeight);
  shadeOutside(ov, img, fm.inside);
  return ov;
}

/** The grey map (H·W levels) with the unseen margins hatched dark grey (never a map value of their own). */
export function greyInImage(fm: ImageFrameMap): Uint8Array {
  const g = new Uint8Array(fm.width * fm.height);
  for (let y = 0; y < fm.height; y++) {
    for (let x = 0; x < fm.width; x++) {
      const p = y * fm.width + x;
      g[p] = fm.inside[p] ? Math.max(0, Math.min(255, Math.round(fm.map[p] * 255))) : onHatch(x, y) ? 24 : 96;
    }
  }
  return g;
}

/** Replaces the pixels of `into` where inside is 0 by the shaded version of `img`'s (both W×H). */
export function shadeOutside(into: RgbImage, img: RgbImage, inside: Uint8Array): void {
  const W = img.width;
  for (let p = 0; p < inside.length; p++) {
    if (inside[p]) continue;
    const d = img.data;
    const v = shadedPixel(d[p * 3], d[p * 3 + 1], d[p * 3 + 2], p % W, Math.floor(p / W));
    into.data[p * 3] = into.data[p * 3 + 1] = into.data[p * 3 + 2] = v;
  }
}
