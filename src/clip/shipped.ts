// clip/shipped.ts: where the small CLIP shipped with the package lies on disk, for loadClip. It is the
// package's weights/tiny-clip folder (also importable as 'decomcam/weights/tiny-clip/…' through "exports"),
// found from this file's own location, so it works from a checkout and from an installed package alike.

import { fileURLToPath } from 'node:url';

/** Absolute path of the shipped model folder (weights/tiny-clip: config.json, model.safetensors, vocab.json,
 *  merges.txt, and the sample scene sample.png with sample.json). Pass it to `loadClip`. */
export const shippedModelDir: string = fileURLToPath(new URL('../../weights/tiny-clip', import.meta.url));
