// nn/residual.ts: the residual connection out = x + y of a pre-LN transformer block.
// x (B,Nx,C) is the stream entering the block; y and out (B,Ny,C) may cover only its first Ny ≤ Nx tokens
// per image (Ny = 1 when the last block computes the class token alone). Ny = Nx is a plain sum.

import type { Backend } from '../kernels/backend.js';
import type { Float } from '../tensor/tensor.js';

/** Residual forward: out (B,Ny,C) = the first Ny tokens of x (B,Nx,C) + y (B,Ny,C). */
export function residualForward(
  out: Float,       // (B,Ny,C)
  x: Float, y: Float, // (B,Nx,C) (B,Ny,C)
  B: number, Nx: number, Ny: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const xo = b * Nx * C;
    const yo = b * Ny * C;
    for (let i = 0; i < Ny * C; i++) out[yo + i] = x[xo + i] + y[yo + i];
  }
}

/**
 * residualForward, or the backend's kernel for it (same arguments, same float32 sums).
 */
export function residualOn(be: Backend, out: Float, x: Float, y: Float, B: number, Nx: number, Ny: number, C: number): void {
  if (be.residual) be.residual(out, x, y, B, Nx, Ny, C);
  else residualForward(out, x, y, B, Nx, Ny, C);
}

/**
 * forward was out = x + y, so dx += dout (first Ny tokens) and dy += dout; either may be null
 */
export function residualBackward(
  dx: Float | null, dy: Float | null, // (B,Nx,C) (B,Ny,C) ADDED into
  dout: Float,                        // (B,Ny,C)
  B: number, Nx: number, Ny: number, C: number): void {
  for (let b = 0; b < B; b++) {
    const xo = b * Nx * C;
    const yo = b * Ny * C;
    for (let i = 0; i < Ny * C; i++) {
      if (dx) dx[xo + i] += dout[yo + i];
      if (dy) dy[yo + i] += dout[yo + i];
    }
  }
}
