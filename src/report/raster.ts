// report/raster.ts: the few pixel operations the report's pictures need, on 8-bit RGB images (H, W, 3): a blank
// canvas, copying one image into another, filled and outlined rectangles, the (3, S, S) crop tensors of cam/
// as images, a grey picture of a [0, 1] map, and the hatching that marks pixels the model never saw.

import type { RgbImage } from '../image/decode.js';
import { CLIP_MEAN, CLIP_STD } from '../image/preprocess.js';
import type { Float } from '../tensor/tensor.js';

/** An (H, W, 3) image filled with `color`. */
export function blank(W: number, H: number, color: readonly number[] = [255, 255, 255]): RgbImage {
  const data = new Uint8Array(W * H * 3);
  for (let p = 0; p < W * H; p++) data.set(color, p * 3);
  return { width: W, height: H, data };
}

/** Copies src into dst with src's top-left at (x, y); rows beyond dst are clipped. */
export function blit(dst: RgbImage, src: RgbImage, x: number, y: number): void {
  const w = Math.min(src.width, dst.width - x);
  for (let r = 0; r < src.height && y + r < dst.height; r++) {
    dst.data.set(src.data.subarray(r * src.width * 3, (r * src.width + w) * 3), ((y + r) * dst.width + x) * 3);
  }
}

/** Fills the rectangle [x0, x1) × [y0, y1) (clipped to the image) with `color`. */
export function fillRect(img: RgbImage, x0: number, y0: number, x1: number, y1: number, color: readonly number[]): void {
  for (let y = Math.max(0, y0); y < Math.min(img.height, y1); y++) {
    for (let x = Math.max(0, x0); x < Math.min(img.width, x1); x++) img.data.set(color, (y * img.width + x) * 3);
  }
}

/** A (3, S, S) tensor of values in [0, 1] (cam/'s RGB crop) as an image, rounded and clamped to 0..255. */
export function tensorToImage(rgb: Float, S: number, offset = 0): RgbImage {
  const data = new Uint8Array(S * S * 3);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S * S; i++) data[i * 3 + c] = Math.max(0, Math.min(255, Math.round(rgb[offset + c * S * S + i] * 255)));
  }
  return { width: S, height: S, data };
}

/** A CLIP-normalised (3, S, S) tensor back to [0, 1] RGB (x·std + mean, image/preprocess.ts's constants), as an
 * image: how a perturbed image that was scored looks. */
export function normalizedToImage(pixels: Float, S: number, offset = 0): RgbImage {
  const rgb = new Float64Array(3 * S * S);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < S * S; i++) rgb[c * S * S + i] = pixels[offset + c * S * S + i] * CLIP_STD[c] + CLIP_MEAN[c];
  }
  return tensorToImage(rgb, S);
}

/** img shrunk by an integer factor k (each output pixel the rounded mean of a k×k block; edge rows and columns
 * that do not fill a block are dropped); k ≤ 1 returns img. For pictures shown smaller than they are. */
export function shrink(img: RgbImage, k: number): RgbImage {
  if (k <= 1) return img;
  const W = Math.floor(img.width / k), H = Math.floor(img.height / k);
  const data = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      for (let c = 0; c < 3; c++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += img.data[((y * k + dy) * img.width + x * k + dx) * 3 + c];
        data[(y * W + x) * 3 + c] = Math.round(s / (k * k));
      }
    }
  }
  return { width: W, height: H, data };
}

/** A map (H, W) in [0, 1] as grey levels round(255·v) (H·W bytes, encodePng's grey input). */
export function greyLevels(map01: Float, n: number): Uint8Array {
  const g = new Uint8Array(n);
  for (let i = 0; i < n; i++) g[i] = Math.max(0, Math.min(255, Math.round(map01[i] * 255)));
  return g;
}

/** Whether pixel (x, y) lies on the diagonal hatching of the unseen margins (a line every `period` pixels). */
export function onHatch(x: number, y: number, period = 8): boolean {
  return (x + y) % period < Math.max(1, period >> 2);
}

/** The grey level of a pixel the model never saw: its own luminance, faded towards grey, with dark diagonal
 * hatching — visibly not part of the explanation. r, g, b are the pixel's colour. */
export function shadedPixel(r: number, g: number, b: number, x: number, y: number): number {
  const lum = 0.299 * r + 0.587 * g + 0.114 * b;
  const v = Math.round(0.35 * lum + 0.65 * 150);
  return onHatch(x, y) ? Math.round(v * 0.55) : v;
}
