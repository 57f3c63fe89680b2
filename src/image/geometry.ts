// image/geometry.ts: CLIP's crop geometry, the one home for it: torchvision's Resize(S) then CenterCrop(S)
// on an (H, W) image, as arithmetic only (image/preprocess.ts cuts the pixels, eval/frame.ts carries map
// coordinates back to the original). Exactly torchvision 0.14's _compute_resized_output_size and
// center_crop: the short side becomes S, the long side int(S · long / short) (truncated); the crop's
// offsets are int(round((resized − S) / 2.0)), Python's round, halves to even. Sizes are (H, W).

import { fail } from '../errors.js';

/**
 * Where CLIP's S×S input lies: the image resized to (resizedH, resizedW), then rows top .. top+S−1 and
 * columns left .. left+S−1 of it.
 */
export interface ClipCrop {
  resizedH: number;
  resizedW: number;
  top: number;
  left: number;
  size: number; // S
}

/**
 * Python 3's round(): to the nearest integer, halves to the even neighbour (round(2.5) = 2, round(3.5) = 4).
 */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * torchvision's Resize(S) for an int S: the (H', W') an (H, W) image becomes; a square image becomes (S, S).
 */
export function shortSideSize(H: number, W: number, S: number): [number, number] {
  checkSides('shortSideSize', H, W, S);
  if (W <= H) return [Math.trunc((S * H) / W), S];
  return [S, Math.trunc((S * W) / H)];
}

/**
 * torchvision's CenterCrop(S) offsets [top, left] in an (H, W) image at least S on each side.
 * (H − S) is an integer, so the argument of round is a whole or a half: an odd margin 2k+1 gives k or k+1,
 * whichever is even (margin 5 → 2, margin 7 → 4). HF's CLIPImageProcessor floors instead; this is not that.
 */
export function centerCropOffsets(H: number, W: number, S: number): [number, number] {
  checkSides('centerCropOffsets', H, W, S);
  if (H < S || W < S) fail(`centerCropOffsets: image (${H}, ${W}) is smaller than the crop ${S} (padding crops are not supported)`, 'usage');
  return [roundHalfEven((H - S) / 2), roundHalfEven((W - S) / 2)];
}

/**
 * Resize(S) then CenterCrop(S) of an (H, W) image: CLIP's _transform(S) geometry.
 */
export function clipCrop(H: number, W: number, S: number): ClipCrop {
  const [resizedH, resizedW] = shortSideSize(H, W, S);
  const [top, left] = centerCropOffsets(resizedH, resizedW, S);
  return { resizedH, resizedW, top, left, size: S };
}

function checkSides(what: string, H: number, W: number, S: number): void {
  if (![H, W, S].every((v) => Number.isInteger(v) && v >= 1)) {
    fail(`${what}: image (H ${H}, W ${W}) and crop size ${S} must be positive integers (e.g. 224)`, 'usage');
  }
}
