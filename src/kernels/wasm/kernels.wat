;; kernels/wasm/kernels.wat: the wasm backend's kernels, hand-written WebAssembly (SIMD f32x4, threads).
;; Assembled at build time by src/kernels/wasm/build.js (npm package wabt) into dist/kernels/wasm/kernels.wasm.
;; One shared memory holds weights, activations and scratch; every pointer is a byte address into it, every
;; matrix is row-major f32. Exported kernels take a range [lo, hi) of outputs — rows, the output features of
;; a Linear layer or a convolution, attention units (image, head), im2col rows or panels, channels or
;; elements — so two threads split the outputs and never a sum ("linear" hands out pieces of its range
;; itself, through a counter): each output is computed by the
;; same instructions whatever the split, and the results are bit-identical for 1 and 2 threads.
;; Address 0 is reserved (never allocated), so a null bias is the pointer 0.

(module
  (import "env" "memory" (memory 1 65536 shared))

  ;; ---------------------------------------------------------------------------------------------------
  ;; GEMM.  For rows i in [lo, hi) and columns j in [0, cols):
  ;;   s = Σ_{r = 0…red−1} A(i,r)·B(r,j)        (float32, r increasing, from 0: one fixed order)
  ;;   v = s·alpha (+ bias[j]);   C(i,j) = v, or C(i,j) += v when acc = 1
  ;; with A(i,r) at a + i·lda + r·sa and C(i,j) at c + i·ldc + 4j (byte strides), and B in panels of 8
  ;; columns: B(r, 8p+l) at b + p·ldbp + r·sb + 4l. A weight packed by $pack has ldbp = 32·red, sb = 32;
  ;; a plain row-major matrix with row stride s has ldbp = 32, sb = s.
  ;; Columns past `cols` in the last panel are computed from whatever B holds there and never stored.
  ;; The inner tile is 4 rows × 8 columns: per step of r, two loads of B, four broadcasts of A and 16
  ;; f32x4 mul/add, with the 8 running sums in registers.

  (func $gemm (export "gemm")
    (param $c i32) (param $ldc i32)
    (param $a i32) (param $lda i32) (param $sa i32)
    (param $b i32) (param $ldbp i32) (param $sb i32)
    (param $cols i32) (param $red i32) (param $alpha f32) (param $bias i32) (param $acc i32)
    (param $lo i32) (param $hi i32)
    (local $j i32) (local $n i32) (local $i i32) (local $bp i32) (local $bj i32)
    (local.set $bp (local.get $b))
    (block $done (loop $panels
      (br_if $done (i32.ge_s (local.get $j) (local.get $cols)))
      ;; n = min(8, cols − j) columns of this panel are stored
      (local.set $n (i32.sub (local.get $cols) (local.get $j)))
      (if (i32.gt_s (local.get $n) (i32.const 8)) (then (local.set $n (i32.const 8))))
      (local.set $bj (select (i32.add (local.get $bias) (i32.shl (local.get $j) (i32.const 2))) (i32.const 0)
                             (local.get $bias)))
      (local.set $i (local.get $lo))
      (block $rows4done (loop $rows4
        (br_if $rows4done (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $hi)))
        (call $tile4
          (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $ldc)
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $lda) (local.get $sa)
          (local.get $bp) (local.get $sb) (local.get $red)
          (local.get $alpha) (local.get $bj) (local.get $acc) (local.get $n))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows4)))
      (block $rows1done (loop $rows1
        (br_if $rows1done (i32.ge_s (local.get $i) (local.get $hi)))
        (call $tile1
          (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2))))
          (i32.add (local.get $a) (i32.mul (local.get $i) (local.get $lda))) (local.get $sa)
          (local.get $bp) (local.get $sb) (local.get $red)
          (local.get $alpha) (local.get $bj) (local.get $acc) (local.get $n))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows1)))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (local.set $bp (i32.add (local.get $bp) (local.get $ldbp)))
      (br $panels)))
  )

  ;; 4 rows × 8 columns of C. a: row 0 of A (rows lda apart, steps sa apart); b: this panel's row 0.
  (func $tile4
    (param $c i32) (param $ldc i32) (param $a i32) (param $lda i32) (param $sa i32)
    (param $b i32) (param $sb i32) (param $red i32)
    (param $alpha f32) (param $bias i32) (param $acc i32) (param $n i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $r i32) (local $k i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (local.set $a1 (i32.add (local.get $a) (local.get $lda)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
    (if (i32.gt_s (local.get $red) (i32.const 0)) (then
      (loop $steps
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $k))))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a1) (local.get $k))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a2) (local.get $k))))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a3) (local.get $k))))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $k (i32.add (local.get $k) (local.get $sa)))
        (local.set $b (i32.add (local.get $b) (local.get $sb)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $steps (i32.lt_s (local.get $r) (local.get $red))))))
    (call $store8 (local.get $c) (local.get $c00) (local.get $c01) (local.get $alpha) (local.get $bias) (local.get $acc) (local.get $n))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c10) (local.get $c11) (local.get $alpha) (local.get $bias) (local.get $acc) (local.get $n))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c20) (local.get $c21) (local.get $alpha) (local.get $bias) (local.get $acc) (local.get $n))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c30) (local.get $c31) (local.get $alpha) (local.get $bias) (local.get $acc) (local.get $n))
  )

  ;; $tile4 with A packed: the 4 rows' values of each step lie side by side, A(i, r) at ap + 32r + 4i (half of
  ;; a panel made by $pack), so a step loads them at once and broadcasts each lane, instead of four loads at
  ;; four addresses. Same sums in the same order as $tile4; `rows` (1-4) of the
  ;; 4 are stored (the others are computed from whatever the panel holds there).
  (func $tile4p
    (param $c i32) (param $ldc i32) (param $ap i32) (param $b i32) (param $sb i32) (param $red i32)
    (param $alpha f32) (param $rows i32) (param $n i32)
    (local $r i32) (local $av v128)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    (if (i32.gt_s (local.get $red) (i32.const 0)) (then
      (loop $steps
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $av (v128.load (local.get $ap)))
        (local.set $x (i8x16.shuffle 0 1 2 3 0 1 2 3 0 1 2 3 0 1 2 3 (local.get $av) (local.get $av)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (i8x16.shuffle 4 5 6 7 4 5 6 7 4 5 6 7 4 5 6 7 (local.get $av) (local.get $av)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (i8x16.shuffle 8 9 10 11 8 9 10 11 8 9 10 11 8 9 10 11 (local.get $av) (local.get $av)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (i8x16.shuffle 12 13 14 15 12 13 14 15 12 13 14 15 12 13 14 15 (local.get $av) (local.get $av)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $ap (i32.add (local.get $ap) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (local.get $sb)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $steps (i32.lt_s (local.get $r) (local.get $red))))))
    (call $store8 (local.get $c) (local.get $c00) (local.get $c01) (local.get $alpha) (i32.const 0) (i32.const 0) (local.get $n))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 1)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c10) (local.get $c11) (local.get $alpha) (i32.const 0) (i32.const 0) (local.get $n))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 2)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c20) (local.get $c21) (local.get $alpha) (i32.const 0) (i32.const 0) (local.get $n))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 3)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store8 (local.get $c) (local.get $c30) (local.get $c31) (local.get $alpha) (i32.const 0) (i32.const 0) (local.get $n))
  )

  ;; C (rows,cols) = A·B·alpha over [0, rows) × [0, cols), A packed by $pack in panels of 8 rows (ap: A(i, r)
  ;; at panel i/8, step r, lane i mod 8; 32·red bytes a panel) and B in panels of 8 columns (b; rows sb apart,
  ;; ldbp bytes a panel). Tiles of $tile4p: each half of an A panel against each B panel.
  (func $gemm_packed
    (param $c i32) (param $ldc i32) (param $ap i32) (param $b i32) (param $ldbp i32) (param $sb i32)
    (param $rows i32) (param $cols i32) (param $red i32) (param $alpha f32)
    (local $i i32) (local $j i32) (local $bp i32)
    (block $idone (loop $iloop
      (br_if $idone (i32.ge_s (local.get $i) (local.get $rows)))
      (local.set $j (i32.const 0))
      (local.set $bp (local.get $b))
      (block $jdone (loop $jloop
        (br_if $jdone (i32.ge_s (local.get $j) (local.get $cols)))
        (call $tile4p
          (i32.add (local.get $c) (i32.add (i32.mul (local.get $i) (local.get $ldc)) (i32.shl (local.get $j) (i32.const 2))))
          (local.get $ldc)
          ;; rows i…i+3: panel i/8, half (i/4) mod 2
          (i32.add (local.get $ap) (i32.add (i32.mul (i32.shr_u (local.get $i) (i32.const 3)) (i32.shl (local.get $red) (i32.const 5)))
                                            (i32.shl (i32.and (local.get $i) (i32.const 4)) (i32.const 2))))
          (local.get $bp) (local.get $sb) (local.get $red) (local.get $alpha)
          (i32.sub (local.get $rows) (local.get $i))
          (select (i32.const 8) (i32.sub (local.get $cols) (local.get $j)) (i32.gt_s (i32.sub (local.get $cols) (local.get $j)) (i32.const 8))))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (local.set $bp (i32.add (local.get $bp) (local.get $ldbp)))
        (br $jloop)))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $iloop)))
  )

  ;; 1 row × 8 columns: the same sums in the same order as a row of $tile4.
  (func $tile1
    (param $c i32) (param $a i32) (param $sa i32) (param $b i32) (param $sb i32) (param $red i32)
    (param $alpha f32) (param $bias i32) (param $acc i32) (param $n i32)
    (local $r i32) (local $c00 v128) (local $c01 v128) (local $x v128)
    (if (i32.gt_s (local.get $red) (i32.const 0)) (then
      (loop $steps
        (local.set $x (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (v128.load (local.get $b)))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (v128.load offset=16 (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (local.get $sa)))
        (local.set $b (i32.add (local.get $b) (local.get $sb)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br_if $steps (i32.lt_s (local.get $r) (local.get $red))))))
    (call $store8 (local.get $c) (local.get $c00) (local.get $c01) (local.get $alpha) (local.get $bias) (local.get $acc) (local.get $n))
  )

  ;; The end of one row of a tile: v = s·alpha (+ bias); C = v or C += v; only the first n of 8 columns.
  (func $store8
    (param $c i32) (param $s0 v128) (param $s1 v128)
    (param $alpha f32) (param $bias i32) (param $acc i32) (param $n i32)
    (local $v0 v128) (local $v1 v128)
    (local.set $v0 (f32x4.mul (local.get $s0) (f32x4.splat (local.get $alpha))))
    (local.set $v1 (f32x4.mul (local.get $s1) (f32x4.splat (local.get $alpha))))
    (if (local.get $bias) (then
      (local.set $v0 (f32x4.add (local.get $v0) (v128.load (local.get $bias))))
      (local.set $v1 (f32x4.add (local.get $v1) (v128.load offset=16 (local.get $bias))))))
    (if (local.get $acc) (then
      (local.set $v0 (f32x4.add (v128.load (local.get $c)) (local.get $v0)))
      (local.set $v1 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $v1)))))
    (if (i32.eq (local.get $n) (i32.const 8)) (then
      (v128.store (local.get $c) (local.get $v0))
      (v128.store offset=16 (local.get $c) (local.get $v1))
      (return)))
    ;; a partial panel (the matrix's last columns): lane by lane
    (f32.store (local.get $c) (f32x4.extract_lane 0 (local.get $v0)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 1)))
    (f32.store offset=4 (local.get $c) (f32x4.extract_lane 1 (local.get $v0)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 2)))
    (f32.store offset=8 (local.get $c) (f32x4.extract_lane 2 (local.get $v0)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 3)))
    (f32.store offset=12 (local.get $c) (f32x4.extract_lane 3 (local.get $v0)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 4)))
    (f32.store offset=16 (local.get $c) (f32x4.extract_lane 0 (local.get $v1)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 5)))
    (f32.store offset=20 (local.get $c) (f32x4.extract_lane 1 (local.get $v1)))
    (br_if 0 (i32.le_s (local.get $n) (i32.const 6)))
    (f32.store offset=24 (local.get $c) (f32x4.extract_lane 2 (local.get $v1)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; The GEMM of a Linear layer, the bulk of the work: out (M,N) = inp (M,K) · wᵀ + bias, computed as its
  ;; transpose outᵀ = w · inpᵀ so that w is read where it lies, row by row (no packed copy of the weights):
  ;; A = w (rows of output features), B = inpᵀ packed by $pack into xp ([p][k][8] = inp[8p+l][k]).
  ;; Each output is the float32 sum over k in increasing order, from 0, then + bias: what $gemm computes.
  ;; The work is cut into items — a block of 32 output features × a chunk of xp's columns — that the threads
  ;; running this call claim one at a time from the shared counter at `next` (an i32, 0 before the call), so a
  ;; thread that runs slower (a busy core, a late start) takes fewer items instead of holding the others up.
  ;; An item is whole tiles, each a whole sum, so which thread computes it never changes a bit. [lo, hi): the
  ;; output features of this call (a multiple of 4 apart; every thread is given the same range).
  (func (export "linear")
    (param $out i32) (param $w i32) (param $xp i32) (param $bias i32) (param $M i32) (param $K i32) (param $N i32)
    (param $next i32) (param $lo i32) (param $hi i32)
    (call $linear_modes (local.get $out) (local.get $w) (local.get $xp) (local.get $bias) (local.get $M) (local.get $K)
      (local.get $N) (local.get $next) (i32.const 0) (local.get $lo) (local.get $hi))
  )

  ;; "linear" with a choice of how the tiles store (the convolutions' GEMMs, kernels/wasm/conv.ts), mode:
  ;;   0  out (M,N) = …, row-major, as "linear";   2  out (M,N) += … (the sum, then added to what out holds)
  ;;   1  out (N,M) = …, its transpose: row n of w gives row n of out, 8 columns at once (bias[n] per row)
  ;;   3  out (N,M) += …
  ;; Each output is the same float32 sum over k as in mode 0; only where it goes (and the += ) differs.
  (func $linear_modes (export "linear_modes")
    (param $out i32) (param $w i32) (param $xp i32) (param $bias i32) (param $M i32) (param $K i32) (param $N i32)
    (param $next i32) (param $mode i32) (param $lo i32) (param $hi i32)
    (local $n i32) (local $n1 i32) (local $j0 i32) (local $j1 i32) (local $chunk i32) (local $blocks i32) (local $item i32)
    ;; xp is walked in chunks of columns small enough to stay in the core's cache (about 192 KiB: 64 columns
    ;; at K = 768, 16 at K = 3072) while a block of w's rows passes over them; without the chunks, each group
    ;; of 4 rows re-reads all of xp, which for a batch of images lies far out in memory. Items go chunk by
    ;; chunk, so the threads share the chunk they work on.
    (local.set $chunk (call $chunk_for (local.get $K)))
    (local.set $blocks (i32.shr_u (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.const 31)) (i32.const 5)))
    (if (i32.eqz (local.get $blocks)) (then (return)))
    (block $items_done (loop $items
      ;; item = chunk · blocks + block
      (local.set $item (i32.atomic.rmw.add (local.get $next) (i32.const 1)))
      (local.set $j0 (i32.mul (i32.div_u (local.get $item) (local.get $blocks)) (local.get $chunk)))
      (br_if $items_done (i32.ge_s (local.get $j0) (local.get $M)))
      (local.set $j1 (i32.add (local.get $j0) (local.get $chunk)))
      (if (i32.gt_s (local.get $j1) (local.get $M)) (then (local.set $j1 (local.get $M))))
      (local.set $n (i32.add (local.get $lo) (i32.shl (i32.rem_u (local.get $item) (local.get $blocks)) (i32.const 5))))
      (local.set $n1 (i32.add (local.get $n) (i32.const 32)))
      (if (i32.gt_s (local.get $n1) (local.get $hi)) (then (local.set $n1 (local.get $hi))))
      (call $gemm_item (local.get $out) (local.get $w) (local.get $xp) (local.get $bias) (local.get $M) (local.get $K)
        (local.get $N) (local.get $mode) (local.get $n) (local.get $n1) (local.get $j0) (local.get $j1))
      (br $items)))
  )

  ;; The columns of xp in a chunk for reduction length K: 49152 / K, a multiple of 8, at least 8.
  (func $chunk_for (param $K i32) (result i32)
    (local $chunk i32)
    (local.set $chunk (i32.and (i32.div_u (i32.const 49152) (local.get $K)) (i32.const -8)))
    (select (local.get $chunk) (i32.const 8) (i32.ge_s (local.get $chunk) (i32.const 8)))
  )

  ;; One item of "linear_modes": rows [n, n1) of w (4 at a time) × columns j in [j0, j1) of xp (its panels
  ;; of 8, panel j/8 at xp + 4K·j), stored as `mode` says.
  (func $gemm_item
    (param $out i32) (param $w i32) (param $xp i32) (param $bias i32) (param $M i32) (param $K i32) (param $N i32)
    (param $mode i32) (param $n i32) (param $n1 i32) (param $j0 i32) (param $j1 i32)
    (local $j i32) (local $rows i32) (local $cols i32) (local $a i32) (local $lda i32) (local $fixed i32)
    (local.set $lda (i32.shl (local.get $K) (i32.const 2)))
    ;; the tile: $tile4t, or its copy for this K with the row stride built in (see $tile4t_for)
    (local.set $fixed (call $tile4t_for (local.get $K)))
    (block $nd (loop $nl
      (br_if $nd (i32.ge_s (local.get $n) (local.get $n1)))
      (local.set $rows (i32.sub (local.get $n1) (local.get $n)))
      (if (i32.gt_s (local.get $rows) (i32.const 4)) (then (local.set $rows (i32.const 4))))
      (local.set $a (i32.add (local.get $w) (i32.mul (local.get $n) (local.get $lda))))
      (local.set $j (local.get $j0))
      (block $jd (loop $jl
        (br_if $jd (i32.ge_s (local.get $j) (local.get $j1)))
        (local.set $cols (i32.sub (local.get $M) (local.get $j)))
        (if (i32.gt_s (local.get $cols) (i32.const 8)) (then (local.set $cols (i32.const 8))))
        (call_indirect $tiles (type $tile4t_type)
          ;; out[j][n] (mode 0, 2) or out[n][j] (mode 1, 3), and the stride of the stored lanes or rows
          (select
            (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $n) (local.get $M)) (local.get $j)) (i32.const 2)))
            (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $j) (local.get $N)) (local.get $n)) (i32.const 2)))
            (i32.and (local.get $mode) (i32.const 1)))
          (i32.shl (select (local.get $M) (local.get $N) (i32.and (local.get $mode) (i32.const 1))) (i32.const 2))
          (local.get $a) (local.get $lda)
          (i32.add (local.get $xp) (i32.mul (local.get $j) (local.get $lda)))   ;; panel j/8: 32·K bytes = 8·lda
          (local.get $K)
          (select (i32.add (local.get $bias) (i32.shl (local.get $n) (i32.const 2))) (i32.const 0) (local.get $bias))
          (local.get $rows) (local.get $cols) (local.get $mode)
          ;; a copy reads 4 rows whatever `rows` says: a last group of fewer rows takes $tile4t (index 0)
          (select (local.get $fixed) (i32.const 0) (i32.eq (local.get $rows) (i32.const 4))))
        (local.set $j (i32.add (local.get $j) (i32.const 8)))
        (br $jl)))
      (local.set $n (i32.add (local.get $n) (i32.const 4)))
      (br $nl)))
  )

  ;; 4 rows of A (a, lda apart: only `rows` exist) × one 8-wide panel b of K steps; row i, lane l goes to
  ;; c + 4i + l·ldc (out transposed back), + bias[i].
  ;; build.js adds copies of this function for common K (768, 3072, …) in which rows 1-3 are read at constant
  ;; offsets from row 0, (v128.load32_splat offset=4K (i32.add (local.get $a) (local.get $k))) and so on,
  ;; instead of through $a1-$a3: three address additions fewer per step, which is most of what the loop does
  ;; besides its 8 multiply-adds (measured: 42 → 47 GFLOP/s on one core). Same instructions otherwise, so the
  ;; same bits. It also adds the table $tiles ($tile4t first, then the copies) and $tile4t_for (K → index).
  ;; @tile4t-copies
  ;; mode: as $linear_modes (0: lane l of row i at c + 4i + l·ldc; 1: row i at c + i·ldc, 8 lanes in a row;
  ;; + 2: added to what is there).
  (type $tile4t_type (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
  (func $tile4t (type $tile4t_type)
    (param $c i32) (param $ldc i32) (param $a i32) (param $lda i32) (param $b i32) (param $K i32)
    (param $bias i32) (param $rows i32) (param $cols i32) (param $mode i32)
    (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $k i32) (local $bend i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $x v128)
    ;; rows past the matrix's end repeat row 0 (computed, never stored), so nothing past w is read
    (local.set $a1 (select (i32.add (local.get $a) (local.get $lda)) (local.get $a) (i32.gt_s (local.get $rows) (i32.const 1))))
    (local.set $a2 (select (i32.add (local.get $a1) (local.get $lda)) (local.get $a) (i32.gt_s (local.get $rows) (i32.const 2))))
    (local.set $a3 (select (i32.add (local.get $a2) (local.get $lda)) (local.get $a) (i32.gt_s (local.get $rows) (i32.const 3))))
    ;; one step of k per turn: unrolling makes V8 interleave the steps' loads and spill registers
    (local.set $bend (i32.add (local.get $b) (i32.shl (local.get $K) (i32.const 5))))
    (if (i32.gt_s (local.get $K) (i32.const 0)) (then
      (loop $steps
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $x (v128.load32_splat (i32.add (local.get $a) (local.get $k))))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a1) (local.get $k))))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a2) (local.get $k))))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $x (v128.load32_splat (i32.add (local.get $a3) (local.get $k))))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $x) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $x) (local.get $b1))))
        (local.set $k (i32.add (local.get $k) (i32.const 4)))
        (local.set $b (i32.add (local.get $b) (i32.const 32)))
        (br_if $steps (i32.ne (local.get $b) (local.get $bend))))))
    ;; a whole tile of a convolution's forward (mode 1, no bias: 4 output channels × 8 positions): 8 stores here,
    ;; not through $store_rows (V8 does not inline wasm calls, and their 8 vector arguments go through the stack:
    ;; a third of the time at K = 64, RN50's 1×1 convolutions of 64 channels)
    (if (i32.and (i32.and (i32.eq (local.get $mode) (i32.const 1)) (i32.eqz (local.get $bias)))
                 (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8)))) (then
      (v128.store (local.get $c) (local.get $c00))
      (v128.store offset=16 (local.get $c) (local.get $c01))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c10))
      (v128.store offset=16 (local.get $c) (local.get $c11))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c20))
      (v128.store offset=16 (local.get $c) (local.get $c21))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c30))
      (v128.store offset=16 (local.get $c) (local.get $c31))
      (return)))
    ;; rows stored as they lie (modes 1, 3: a convolution's output channels)
    (if (i32.and (local.get $mode) (i32.const 1)) (then
      (call $store_rows (local.get $c) (local.get $ldc) (local.get $bias) (i32.and (local.get $mode) (i32.const 2))
        (local.get $rows) (local.get $cols) (local.get $c00) (local.get $c01) (local.get $c10) (local.get $c11)
        (local.get $c20) (local.get $c21) (local.get $c30) (local.get $c31))
      (return)))
    ;; a whole tile (every tile of a Linear but a matrix's last rows and columns): 8 stores of 4 values
    (if (i32.and (i32.eq (local.get $rows) (i32.const 4)) (i32.eq (local.get $cols) (i32.const 8))) (then
      (call $store4x4t (local.get $c) (local.get $ldc) (local.get $bias) (local.get $mode) (local.get $c00) (local.get $c10) (local.get $c20) (local.get $c30))
      (call $store4x4t (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 2))) (local.get $ldc) (local.get $bias) (local.get $mode)
        (local.get $c01) (local.get $c11) (local.get $c21) (local.get $c31))
      (return)))
    (call $store8t (local.get $c) (local.get $ldc) (local.get $c00) (local.get $c01) (local.get $bias) (local.get $cols) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 1)))
    (call $store8t (i32.add (local.get $c) (i32.const 4)) (local.get $ldc) (local.get $c10) (local.get $c11)
      (select (i32.add (local.get $bias) (i32.const 4)) (i32.const 0) (local.get $bias)) (local.get $cols) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 2)))
    (call $store8t (i32.add (local.get $c) (i32.const 8)) (local.get $ldc) (local.get $c20) (local.get $c21)
      (select (i32.add (local.get $bias) (i32.const 8)) (i32.const 0) (local.get $bias)) (local.get $cols) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 3)))
    (call $store8t (i32.add (local.get $c) (i32.const 12)) (local.get $ldc) (local.get $c30) (local.get $c31)
      (select (i32.add (local.get $bias) (i32.const 12)) (i32.const 0) (local.get $bias)) (local.get $cols) (local.get $mode))
  )

  ;; The rows of a tile as they lie (modes 1 and 3): row i, its 8 sums (+ the scalar bias[i] unless bias is 0),
  ;; at c + i·ldc; the first `rows` rows, the first `cols` columns; acc ≠ 0: added to what is there.
  (func $store_rows (param $c i32) (param $ldc i32) (param $bias i32) (param $acc i32) (param $rows i32) (param $cols i32)
    (param $s00 v128) (param $s01 v128) (param $s10 v128) (param $s11 v128)
    (param $s20 v128) (param $s21 v128) (param $s30 v128) (param $s31 v128)
    (call $store8r (local.get $c) (local.get $s00) (local.get $s01) (local.get $bias) (local.get $acc) (local.get $cols))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 1)))
    (call $store8r (i32.add (local.get $c) (local.get $ldc)) (local.get $s10) (local.get $s11)
      (select (i32.add (local.get $bias) (i32.const 4)) (i32.const 0) (local.get $bias)) (local.get $acc) (local.get $cols))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 2)))
    (call $store8r (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1))) (local.get $s20) (local.get $s21)
      (select (i32.add (local.get $bias) (i32.const 8)) (i32.const 0) (local.get $bias)) (local.get $acc) (local.get $cols))
    (br_if 0 (i32.le_s (local.get $rows) (i32.const 3)))
    (call $store8r (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3))) (local.get $s30) (local.get $s31)
      (select (i32.add (local.get $bias) (i32.const 12)) (i32.const 0) (local.get $bias)) (local.get $acc) (local.get $cols))
  )

  ;; 8 sums in a row at c (+ the scalar at `bias` unless 0; + what c holds when acc ≠ 0): the first `cols`.
  (func $store8r (param $c i32) (param $s0 v128) (param $s1 v128) (param $bias i32) (param $acc i32) (param $cols i32)
    (if (local.get $bias) (then
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load32_splat (local.get $bias))))
      (local.set $s1 (f32x4.add (local.get $s1) (v128.load32_splat (local.get $bias))))))
    (if (local.get $acc) (then
      (local.set $s0 (f32x4.add (v128.load (local.get $c)) (local.get $s0)))
      (local.set $s1 (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $s1)))))
    (if (i32.eq (local.get $cols) (i32.const 8)) (then
      (v128.store (local.get $c) (local.get $s0))
      (v128.store offset=16 (local.get $c) (local.get $s1))
      (return)))
    (f32.store (local.get $c) (f32x4.extract_lane 0 (local.get $s0)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 1)))
    (f32.store offset=4 (local.get $c) (f32x4.extract_lane 1 (local.get $s0)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 2)))
    (f32.store offset=8 (local.get $c) (f32x4.extract_lane 2 (local.get $s0)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 3)))
    (f32.store offset=12 (local.get $c) (f32x4.extract_lane 3 (local.get $s0)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 4)))
    (f32.store offset=16 (local.get $c) (f32x4.extract_lane 0 (local.get $s1)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 5)))
    (f32.store offset=20 (local.get $c) (f32x4.extract_lane 1 (local.get $s1)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 6)))
    (f32.store offset=24 (local.get $c) (f32x4.extract_lane 2 (local.get $s1)))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 7)))
    (f32.store offset=28 (local.get $c) (f32x4.extract_lane 3 (local.get $s1)))
  )

  ;; 4 rows i of 4 sums each, s_i[l], stored transposed: lane l goes to c + l·ldc as 4 floats (+ the 4 biases at
  ;; `bias`, unless 0): one 4×4 transpose, then 4 stores, instead of 16 single ones. Each value is $store8t's.
  ;; mode & 2: each added to what is there.
  (func $store4x4t (param $c i32) (param $ldc i32) (param $bias i32) (param $mode i32)
    (param $s0 v128) (param $s1 v128) (param $s2 v128) (param $s3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128) (local $u v128)
    (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s0) (local.get $s1)))     ;; a0 b0 a1 b1
    (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s0) (local.get $s1))) ;; a2 b2 a3 b3
    (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $s2) (local.get $s3)))     ;; c0 d0 c1 d1
    (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $s2) (local.get $s3))) ;; c2 d2 c3 d3
    (local.set $s0 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))     ;; a0 b0 c0 d0
    (local.set $s1 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2))) ;; a1 b1 c1 d1
    (local.set $s2 (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))     ;; a2 b2 c2 d2
    (local.set $s3 (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3))) ;; a3 b3 c3 d3
    (if (local.get $bias) (then
      (local.set $u (v128.load (local.get $bias)))
      (local.set $s0 (f32x4.add (local.get $s0) (local.get $u)))
      (local.set $s1 (f32x4.add (local.get $s1) (local.get $u)))
      (local.set $s2 (f32x4.add (local.get $s2) (local.get $u)))
      (local.set $s3 (f32x4.add (local.get $s3) (local.get $u)))))
    (if (i32.and (local.get $mode) (i32.const 2)) (then
      (local.set $s0 (f32x4.add (v128.load (local.get $c)) (local.get $s0)))
      (local.set $s1 (f32x4.add (v128.load (i32.add (local.get $c) (local.get $ldc))) (local.get $s1)))
      (local.set $s2 (f32x4.add (v128.load (i32.add (local.get $c) (i32.shl (local.get $ldc) (i32.const 1)))) (local.get $s2)))
      (local.set $s3 (f32x4.add (v128.load (i32.add (local.get $c) (i32.mul (local.get $ldc) (i32.const 3)))) (local.get $s3)))))
    (v128.store (local.get $c) (local.get $s0))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s1))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s2))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (v128.store (local.get $c) (local.get $s3))
  )

  ;; 8 sums (+ the scalar bias at `bias`, unless 0) stored ldc bytes apart: the first `cols` of them (mode & 2: added).
  (func $store8t (param $c i32) (param $ldc i32) (param $s0 v128) (param $s1 v128) (param $bias i32) (param $cols i32) (param $mode i32)
    (if (local.get $bias) (then
      (local.set $s0 (f32x4.add (local.get $s0) (v128.load32_splat (local.get $bias))))
      (local.set $s1 (f32x4.add (local.get $s1) (v128.load32_splat (local.get $bias))))))
    (call $store1 (local.get $c) (f32x4.extract_lane 0 (local.get $s0)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 1)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 1 (local.get $s0)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 2)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 2 (local.get $s0)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 3)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 3 (local.get $s0)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 4)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 0 (local.get $s1)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 5)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 1 (local.get $s1)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 6)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 2 (local.get $s1)) (local.get $mode))
    (br_if 0 (i32.le_s (local.get $cols) (i32.const 7)))
    (local.set $c (i32.add (local.get $c) (local.get $ldc)))
    (call $store1 (local.get $c) (f32x4.extract_lane 3 (local.get $s1)) (local.get $mode))
  )

  ;; One float at c: v, or (mode & 2) v added to what is there.
  (func $store1 (param $c i32) (param $v f32) (param $mode i32)
    (if (i32.and (local.get $mode) (i32.const 2)) (then (local.set $v (f32.add (f32.load (local.get $c)) (local.get $v)))))
    (f32.store (local.get $c) (local.get $v))
  )

  ;; Packs B(r, j) = src[j·ldj + r·ldr] (bytes), r < rows, j < cols, into panels of 8 columns at dst:
  ;; dst[p][r][l] = B(r, 8p+l), zero where 8p+l ≥ cols. A Linear's input x (M,K) as B = xᵀ: ldj = 4K, ldr = 4.
  ;; Whole panels of the two common layouts (ldr = 4 or ldj = 4) are copied four or eight values at a time.
  (func $pack (export "pack")
    (param $dst i32) (param $src i32) (param $ldj i32) (param $ldr i32) (param $rows i32) (param $cols i32)
    (local $j i32) (local $r i32) (local $l i32) (local $s i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (block $done (loop $panels
      (br_if $done (i32.ge_s (local.get $j) (local.get $cols)))
      (local.set $r (i32.const 0))
      ;; A whole panel of a matrix whose rows r are consecutive floats (ldr = 4, a Linear's input): 4 values
      ;; of r from each of the 8 columns, two 4×4 transposes ($store4x4t); the lanes below finish rows mod 4.
      (if (i32.and (i32.eq (local.get $ldr) (i32.const 4)) (i32.le_s (i32.add (local.get $j) (i32.const 8)) (local.get $cols))) (then
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $j) (local.get $ldj))))
        (block $qdone (loop $quads
          (br_if $qdone (i32.gt_s (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
          (local.set $l (i32.const 0))
          (loop $halves ;; columns 0-3, then 4-7 of the panel
            (local.set $v0 (v128.load (local.get $s)))
            (local.set $v1 (v128.load (i32.add (local.get $s) (local.get $ldj))))
            (local.set $v2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $ldj) (i32.const 1)))))
            (local.set $v3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $ldj) (i32.const 3)))))
            ;; row r+i of the panel: lane i of each column's 4 values, 32 bytes apart
            (call $store4x4t (local.get $dst) (i32.const 32) (i32.const 0) (i32.const 0)
              (local.get $v0) (local.get $v1) (local.get $v2) (local.get $v3))
            (local.set $s (i32.add (local.get $s) (i32.shl (local.get $ldj) (i32.const 2))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (local.set $l (i32.add (local.get $l) (i32.const 1)))
            (br_if $halves (i32.lt_s (local.get $l) (i32.const 2))))
          ;; back to column 0, four rows on
          (local.set $s (i32.add (i32.sub (local.get $s) (i32.shl (local.get $ldj) (i32.const 3))) (i32.const 16)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 96)))
          (local.set $r (i32.add (local.get $r) (i32.const 4)))
          (br $quads)))))
      ;; A whole panel of a matrix whose columns j are consecutive floats (ldj = 4: v of an attention head):
      ;; each row of the panel is 8 floats in a row, two copies.
      (if (i32.and (i32.eq (local.get $ldj) (i32.const 4)) (i32.le_s (i32.add (local.get $j) (i32.const 8)) (local.get $cols))) (then
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $j) (i32.const 2))))
        (block $cdone (loop $copies
          (br_if $cdone (i32.ge_s (local.get $r) (local.get $rows)))
          (v128.store (local.get $dst) (v128.load (local.get $s)))
          (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s)))
          (local.set $s (i32.add (local.get $s) (local.get $ldr)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $copies)))))
      (block $rdone (loop $rloop
        (br_if $rdone (i32.ge_s (local.get $r) (local.get $rows)))
        (local.set $s (i32.add (local.get $src) (i32.add (i32.mul (local.get $j) (local.get $ldj))
                                                          (i32.mul (local.get $r) (local.get $ldr)))))
        (local.set $l (i32.const 0))
        (loop $lanes
          ;; (a column past the end is never read: it might lie past the end of memory)
          (if (i32.lt_s (i32.add (local.get $j) (local.get $l)) (local.get $cols))
            (then (f32.store (local.get $dst) (f32.load (local.get $s))))
            (else (f32.store (local.get $dst) (f32.const 0))))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (local.set $s (i32.add (local.get $s) (local.get $ldj)))
          (local.set $l (i32.add (local.get $l) (i32.const 1)))
          (br_if $lanes (i32.lt_s (local.get $l) (i32.const 8))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rloop)))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $panels)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; Convolutions (kernels/wasm/conv.ts), one image at a time, NCHW. im2col of x (C,H,W) for a kh×kw kernel,
  ;; stride s, padding p: col(k, q) = x[c, oy·s − p + ky, ox·s − p + kx] (0 outside x) for k = (c·kh + ky)·kw + kx
  ;; and q = oy·Wo + ox, written at dst + (q>>3)·qs8 + (q&7)·ql + (k>>3)·ks8 + (k&7)·kl (bytes): the caller's
  ;; layout (panels of 8 positions for "linear_modes", a plain matrix, its transpose). Rows k in [lo, hi).
  (func (export "im2col")
    (param $dst i32) (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
    (param $s i32) (param $p i32) (param $qs8 i32) (param $ql i32) (param $ks8 i32) (param $kl i32)
    (param $lo i32) (param $hi i32)
    (local $kb i32) (local $kend i32) (local $k i32) (local $c0 i32) (local $ky0 i32) (local $kx0 i32)
    (local $c i32) (local $ky i32) (local $kx i32) (local $Ho i32) (local $Wo i32) (local $r i32)
    (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32) (local $q i32) (local $qa i32) (local $v f32)
    (local.set $Ho (i32.add (i32.div_s (i32.sub (i32.add (local.get $H) (i32.shl (local.get $p) (i32.const 1))) (local.get $kh)) (local.get $s)) (i32.const 1)))
    (local.set $Wo (i32.add (i32.div_s (i32.sub (i32.add (local.get $W) (i32.shl (local.get $p) (i32.const 1))) (local.get $kw)) (local.get $s)) (i32.const 1)))
    ;; blocks of 8 rows k; within a block, position by position, the 8 rows: writes stay close together in
    ;; every layout the callers use (a row-by-row walk strides through memory at a power of two)
    (local.set $kb (local.get $lo))
    (block $bdone (loop $blocks
      (br_if $bdone (i32.ge_s (local.get $kb) (local.get $hi)))
      (local.set $kend (i32.add (local.get $kb) (i32.const 8)))
      (if (i32.gt_s (local.get $kend) (local.get $hi)) (then (local.set $kend (local.get $hi))))
      ;; (c0, ky0, kx0) of row kb
      (local.set $c0 (i32.div_u (local.get $kb) (i32.mul (local.get $kh) (local.get $kw))))
      (local.set $r (i32.sub (local.get $kb) (i32.mul (local.get $c0) (i32.mul (local.get $kh) (local.get $kw)))))
      (local.set $ky0 (i32.div_u (local.get $r) (local.get $kw)))
      (local.set $kx0 (i32.sub (local.get $r) (i32.mul (local.get $ky0) (local.get $kw))))
      (local.set $q (i32.const 0))
      (local.set $oy (i32.const 0))
      (local.set $ox (i32.const 0))
      (block $qdone (loop $qs
        (br_if $qdone (i32.ge_s (local.get $oy) (local.get $Ho)))
        (local.set $qa (i32.add (local.get $dst) (i32.add (i32.mul (i32.shr_u (local.get $q) (i32.const 3)) (local.get $qs8))
                                                        (i32.mul (i32.and (local.get $q) (i32.const 7)) (local.get $ql)))))
        (local.set $c (local.get $c0))
        (local.set $ky (local.get $ky0))
        (local.set $kx (local.get $kx0))
        (local.set $k (local.get $kb))
        (loop $ks
          (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $s)) (local.get $p)) (local.get $ky)))
          (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox) (local.get $s)) (local.get $p)) (local.get $kx)))
          (local.set $v (f32.const 0))
          (if (i32.and (i32.lt_u (local.get $iy) (local.get $H)) (i32.lt_u (local.get $ix) (local.get $W)))
            (then (local.set $v (f32.load (i32.add (local.get $x) (i32.shl
              (i32.add (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (local.get $iy)) (local.get $W)) (local.get $ix))
              (i32.const 2)))))))
          (f32.store (i32.add (local.get $qa) (i32.add (i32.mul (i32.shr_u (local.get $k) (i32.const 3)) (local.get $ks8))
                                                      (i32.mul (i32.and (local.get $k) (i32.const 7)) (local.get $kl))))
            (local.get $v))
          ;; the next row k: (c, ky, kx) moves on
          (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
          (if (i32.eq (local.get $kx) (local.get $kw)) (then
            (local.set $kx (i32.const 0))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (if (i32.eq (local.get $ky) (local.get $kh)) (then
              (local.set $ky (i32.const 0))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))))))
          (local.set $k (i32.add (local.get $k) (i32.const 1)))
          (br_if $ks (i32.lt_s (local.get $k) (local.get $kend))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
        (if (i32.eq (local.get $ox) (local.get $Wo)) (then
          (local.set $ox (i32.const 0))
          (local.set $oy (i32.add (local.get $oy) (i32.const 1)))))
        (br $qs)))
      (local.set $kb (local.get $kend))
      (br $blocks)))
  )

  ;; One panel of "im2col_panels" whose 8 positions (ox0…ox0+7 of output row oy) lie in one row, at stride 1:
  ;; for each (c, ky, kx), in the order of k, the 8 floats x[c, oy − p + ky, ox0 − p + kx + l] at d, 32 bytes a
  ;; row: copied as they lie where all 8 are inside x's row (kx in [kxa, kxb)), the loads masked lane by lane
  ;; where the row reaches into the padding (they read up to p floats before or after it: allocated memory,
  ;; masked off), zeros where the input row is padding. The same values as the general path of the caller.
  (func $panel_s1 (param $d i32) (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
    (param $p i32) (param $oy i32) (param $ox0 i32)
    (local $c i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $row i32) (local $a i32)
    (local $kxa i32) (local $kxb i32) (local $plane i32) (local $cols v128)
    (local.set $kxa (i32.sub (local.get $p) (local.get $ox0)))
    (local.set $kxb (i32.sub (i32.add (local.get $W) (local.get $p)) (i32.add (local.get $ox0) (i32.const 7))))
    (local.set $plane (i32.shl (i32.mul (local.get $H) (local.get $W)) (i32.const 2)))
    ;; x[c, oy − p, ox0 − p] for c = 0 (outside x where the row or column is padding: then not read through)
    (local.set $row (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (i32.sub (local.get $oy) (local.get $p)) (local.get $W))
                                                             (i32.sub (local.get $ox0) (local.get $p))) (i32.const 2))))
    (loop $cs
      (local.set $ky (i32.const 0))
      (local.set $a (local.get $row))
      (loop $kys
        (local.set $iy (i32.add (i32.sub (local.get $oy) (local.get $p)) (local.get $ky)))
        (local.set $kx (i32.const 0))
        (loop $kxs
          (if (i32.ge_u (local.get $iy) (local.get $H))
            (then
              (v128.store (local.get $d) (v128.const i64x2 0 0))
              (v128.store offset=16 (local.get $d) (v128.const i64x2 0 0)))
            (else (if (i32.and (i32.ge_s (local.get $kx) (local.get $kxa)) (i32.lt_s (local.get $kx) (local.get $kxb)))
              (then
                (v128.store (local.get $d) (v128.load (local.get $a)))
                (v128.store offset=16 (local.get $d) (v128.load offset=16 (local.get $a))))
              (else
                ;; lane l's column ox0 − p + kx + l, kept where inside 0…W−1
                (local.set $cols (i32x4.add (i32x4.splat (i32.add (i32.sub (local.get $ox0) (local.get $p)) (local.get $kx)))
                                            (v128.const i32x4 0 1 2 3)))
                (v128.store (local.get $d) (v128.and (v128.load (local.get $a)) (v128.and
                  (i32x4.ge_s (local.get $cols) (v128.const i32x4 0 0 0 0)) (i32x4.lt_s (local.get $cols) (i32x4.splat (local.get $W))))))
                (local.set $cols (i32x4.add (local.get $cols) (v128.const i32x4 4 4 4 4)))
                (v128.store offset=16 (local.get $d) (v128.and (v128.load offset=16 (local.get $a)) (v128.and
                  (i32x4.ge_s (local.get $cols) (v128.const i32x4 0 0 0 0)) (i32x4.lt_s (local.get $cols) (i32x4.splat (local.get $W))))))))))
          (local.set $d (i32.add (local.get $d) (i32.const 32)))
          (local.set $a (i32.add (local.get $a) (i32.const 4)))
          (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
          (br_if $kxs (i32.lt_s (local.get $kx) (local.get $kw))))
        ;; the next input row: kw floats on already, W − kw more
        (local.set $a (i32.add (local.get $a) (i32.shl (i32.sub (local.get $W) (local.get $kw)) (i32.const 2))))
        (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
        (br_if $kys (i32.lt_s (local.get $ky) (local.get $kh))))
      (local.set $row (i32.add (local.get $row) (local.get $plane)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $cs (i32.lt_s (local.get $c) (local.get $C))))
  )

  ;; im2col into the panels "linear_modes" reads (the forward's col): panel g of 8 positions q = 8g…8g+7 holds, for
  ;; each k in turn, their 8 values: dst[g][k][l] = col(k, 8g + l) (0 for q ≥ Ho·Wo). Panels g in [lo, hi), each
  ;; written front to back. 8 positions in one output row at stride 1: $panel_s1; at stride 2: 16-byte loads (masked
  ;; at the padding); else (panels across rows, other strides) a gather of 8 lanes by computed addresses.
  (func $im2col_panels (export "im2col_panels")
    (param $dst i32) (param $x i32) (param $C i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
    (param $s i32) (param $p i32) (param $lo i32) (param $hi i32)
    (local $Ho i32) (local $Wo i32) (local $P i32) (local $Kc i32) (local $g i32) (local $q0 i32) (local $oy i32)
    (local $ox0 i32) (local $d i32) (local $c i32) (local $ky i32) (local $kx i32) (local $iy i32) (local $ix i32)
    (local $row i32) (local $inrow i32) (local $inpanel i32) (local $l i32) (local $oyl i32) (local $oxl i32) (local $v f32)
    (local $a i32) (local $v0 v128) (local $v1 v128) (local $cols v128) (local $cols1 v128)
    (local $oyv v128) (local $oyv1 v128) (local $oxv v128) (local $oxv1 v128) (local $iyv v128) (local $iyv1 v128)
    (local $m0 v128) (local $m1 v128)
    (local.set $Ho (i32.add (i32.div_s (i32.sub (i32.add (local.get $H) (i32.shl (local.get $p) (i32.const 1))) (local.get $kh)) (local.get $s)) (i32.const 1)))
    (local.set $Wo (i32.add (i32.div_s (i32.sub (i32.add (local.get $W) (i32.shl (local.get $p) (i32.const 1))) (local.get $kw)) (local.get $s)) (i32.const 1)))
    (local.set $P (i32.mul (local.get $Ho) (local.get $Wo)))
    (local.set $Kc (i32.mul (local.get $C) (i32.mul (local.get $kh) (local.get $kw))))
    (local.set $g (local.get $lo))
    (block $gdone (loop $panels
      (br_if $gdone (i32.ge_s (local.get $g) (local.get $hi)))
      (local.set $q0 (i32.shl (local.get $g) (i32.const 3)))
      (local.set $oy (i32.div_u (local.get $q0) (local.get $Wo)))
      (local.set $ox0 (i32.sub (local.get $q0) (i32.mul (local.get $oy) (local.get $Wo))))
      ;; the 8 positions lie in one output row, and stride 1 or 2 reads them from one stretch of x's row
      (local.set $inpanel (i32.and (i32.le_u (i32.sub (local.get $s) (i32.const 1)) (i32.const 1))
                                   (i32.le_s (i32.add (local.get $ox0) (i32.const 8)) (local.get $Wo))))
      (local.set $d (i32.add (local.get $dst) (i32.mul (local.get $g) (i32.shl (local.get $Kc) (i32.const 5)))))
      ;; the common case (RN50's 3×3 layers at 56 and 112 px): its own function, with few locals for V8 to keep in
      ;; registers — here the loop ran about 14 cycles a row of the panel, most of the 3×3 layers' im2col time
      (if (i32.and (local.get $inpanel) (i32.eq (local.get $s) (i32.const 1))) (then
        (call $panel_s1 (local.get $d) (local.get $x) (local.get $C) (local.get $H) (local.get $W) (local.get $kh) (local.get $kw)
          (local.get $p) (local.get $oy) (local.get $ox0))
        (local.set $g (i32.add (local.get $g) (i32.const 1)))
        (br $panels)))
      ;; for the gather: each lane's oy_l·s − p and ox_l·s − p (positions past the end get a row far outside)
      (local.set $oyl (local.get $oy))
      (local.set $oxl (local.get $ox0))
      (local.set $l (i32.const 0))
      (loop $lanes
        (local.set $iy (select (i32.sub (i32.mul (local.get $oyl) (local.get $s)) (local.get $p)) (i32.const -1073741824)
          (i32.lt_s (i32.add (local.get $q0) (local.get $l)) (local.get $P))))
        (local.set $ix (i32.sub (i32.mul (local.get $oxl) (local.get $s)) (local.get $p)))
        (if (i32.lt_u (local.get $l) (i32.const 4))
          (then
            (local.set $oyv (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $oyv) (i32x4.splat (local.get $iy))))
            (local.set $oxv (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $oxv) (i32x4.splat (local.get $ix)))))
          (else
            (local.set $oyv1 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $oyv1) (i32x4.splat (local.get $iy))))
            (local.set $oxv1 (i8x16.shuffle 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 (local.get $oxv1) (i32x4.splat (local.get $ix))))))
        (local.set $oxl (i32.add (local.get $oxl) (i32.const 1)))
        (if (i32.eq (local.get $oxl) (local.get $Wo)) (then
          (local.set $oxl (i32.const 0))
          (local.set $oyl (i32.add (local.get $oyl) (i32.const 1)))))
        (local.set $l (i32.add (local.get $l) (i32.const 1)))
        (br_if $lanes (i32.lt_s (local.get $l) (i32.const 8))))
      (local.set $c (i32.const 0))
      (block $cdone (loop $cs
        (br_if $cdone (i32.ge_s (local.get $c) (local.get $C)))
        (local.set $ky (i32.const 0))
        (block $kydone (loop $kys
          (br_if $kydone (i32.ge_s (local.get $ky) (local.get $kh)))
          (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $s)) (local.get $p)) (local.get $ky)))
          (local.set $inrow (i32.lt_u (local.get $iy) (local.get $H)))
          (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (local.get $iy)) (local.get $W)) (i32.const 2))))
          (local.set $kx (i32.const 0))
          (block $kxdone (loop $kxs
            (br_if $kxdone (i32.ge_s (local.get $kx) (local.get $kw)))
            (local.set $ix (i32.add (i32.sub (i32.mul (local.get $ox0) (local.get $s)) (local.get $p)) (local.get $kx)))
            (if (i32.and (local.get $inpanel) (local.get $inrow))
              ;; stride 2 (stride 1 went to $panel_s1 above): 16-byte loads from x[ix…] on, the even lanes taken,
              ;; and the lanes whose column ix + 2l lies outside 0…W−1 cleared (their loads may reach up to p values
              ;; before or after the row: allocated memory, the bits masked off)
              (then
                (local.set $a (i32.add (local.get $row) (i32.shl (local.get $ix) (i32.const 2))))
                (local.set $v0 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
                  (v128.load (local.get $a)) (v128.load offset=16 (local.get $a))))
                (local.set $v1 (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27
                  (v128.load offset=32 (local.get $a)) (v128.load offset=48 (local.get $a))))
                (local.set $cols (i32x4.add (i32x4.splat (local.get $ix)) (v128.const i32x4 0 2 4 6)))
                (local.set $cols1 (i32x4.add (local.get $cols) (v128.const i32x4 8 8 8 8)))
                (v128.store (local.get $d) (v128.and (local.get $v0) (v128.and
                  (i32x4.ge_s (local.get $cols) (v128.const i32x4 0 0 0 0)) (i32x4.lt_s (local.get $cols) (i32x4.splat (local.get $W))))))
                (v128.store offset=16 (local.get $d) (v128.and (local.get $v1) (v128.and
                  (i32x4.ge_s (local.get $cols1) (v128.const i32x4 0 0 0 0)) (i32x4.lt_s (local.get $cols1) (i32x4.splat (local.get $W)))))))
              (else (if (i32.and (local.get $inpanel) (i32.eqz (local.get $inrow)))
              ;; the 8 positions' row of x lies in the padding: zeros
              (then
                (v128.store (local.get $d) (v128.const i64x2 0 0))
                (v128.store offset=16 (local.get $d) (v128.const i64x2 0 0)))
              (else
                ;; a gather: lane l reads x[c, iy_l, ix_l] with iy_l = oy_l·s − p + ky, ix_l = ox_l·s − p + kx (the
                ;; panel's rows and columns precomputed below), or 0 where (iy_l, ix_l) lies in the padding or the
                ;; position is past the end (its row set far outside)
                (local.set $iyv (i32x4.add (local.get $oyv) (i32x4.splat (local.get $ky))))
                (local.set $iyv1 (i32x4.add (local.get $oyv1) (i32x4.splat (local.get $ky))))
                (local.set $cols (i32x4.add (local.get $oxv) (i32x4.splat (local.get $kx))))
                (local.set $cols1 (i32x4.add (local.get $oxv1) (i32x4.splat (local.get $kx))))
                (local.set $m0 (v128.and (i32x4.lt_u (local.get $iyv) (i32x4.splat (local.get $H))) (i32x4.lt_u (local.get $cols) (i32x4.splat (local.get $W)))))
                (local.set $m1 (v128.and (i32x4.lt_u (local.get $iyv1) (i32x4.splat (local.get $H))) (i32x4.lt_u (local.get $cols1) (i32x4.splat (local.get $W)))))
                ;; byte addresses, the plane's start where the lane is masked (any valid address)
                (local.set $a (i32.add (local.get $x) (i32.shl (i32.mul (local.get $c) (i32.mul (local.get $H) (local.get $W))) (i32.const 2))))
                (local.set $v0 (v128.bitselect
                  (i32x4.add (i32x4.splat (local.get $a)) (i32x4.shl (i32x4.add (i32x4.mul (local.get $iyv) (i32x4.splat (local.get $W))) (local.get $cols)) (i32.const 2)))
                  (i32x4.splat (local.get $a)) (local.get $m0)))
                (local.set $v1 (v128.bitselect
                  (i32x4.add (i32x4.splat (local.get $a)) (i32x4.shl (i32x4.add (i32x4.mul (local.get $iyv1) (i32x4.splat (local.get $W))) (local.get $cols1)) (i32.const 2)))
                  (i32x4.splat (local.get $a)) (local.get $m1)))
                (v128.store (local.get $d) (v128.and (local.get $m0)
                  (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
                    (f32.load (i32x4.extract_lane 0 (local.get $v0))))
                    (f32.load (i32x4.extract_lane 1 (local.get $v0))))
                    (f32.load (i32x4.extract_lane 2 (local.get $v0))))
                    (f32.load (i32x4.extract_lane 3 (local.get $v0))))))
                (v128.store offset=16 (local.get $d) (v128.and (local.get $m1)
                  (f32x4.replace_lane 3 (f32x4.replace_lane 2 (f32x4.replace_lane 1 (f32x4.splat
                    (f32.load (i32x4.extract_lane 0 (local.get $v1))))
                    (f32.load (i32x4.extract_lane 1 (local.get $v1))))
                    (f32.load (i32x4.extract_lane 2 (local.get $v1))))
                    (f32.load (i32x4.extract_lane 3 (local.get $v1))))))))))
            (local.set $d (i32.add (local.get $d) (i32.const 32)))
            (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
            (br $kxs)))
          (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
          (br $kys)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cs)))
      (local.set $g (i32.add (local.get $g) (i32.const 1)))
      (br $panels)))
  )

  ;; The forward of a convolution (kernels/wasm/conv.ts) with im2col done chunk by chunk inside the GEMM: for each
  ;; of N images, y_n (O,P) = W (O,Kc) · col_n (Kc,P) + bias, stored row by row (as "linear_modes" mode 1 over
  ;; "im2col_panels"' panels; images C·H·W and O·P floats apart). An item is one image's chunk of `chunk`
  ;; positions (a multiple of 8) × a block of `block` output channels (a multiple of 4); the thread that claims
  ;; it writes the chunk's panels into its own buffer `buf` (chunk·Kc floats, at most 192 KiB: it stays in the
  ;; core's cache) — by "im2col_panels", or for a 1×1 stride-1 unpadded kernel (col = x) by $pack — and runs
  ;; the block's channels over them. im2col of the whole image first instead writes Kc·P floats to memory and
  ;; reads them back (7 MB for RN50's 3×3 layer at 56 px: 16% of its time, 29% at 112 px), on the calling
  ;; thread alone for a 1×1 kernel; one call for all the images spares the threads a hand-over per image.
  ;; conv.ts takes blocks smaller than O only where there are too few chunks to share between the threads (one
  ;; 7 × 7 map), as each block writes its chunk again. Same tiles, same sums, so the same bits. next: the item
  ;; counter (i32, 0 before the call); [lo, hi): the output channels, every thread is given [0, O).
  (func (export "conv_panels")
    (param $y i32) (param $w i32) (param $x i32) (param $bias i32) (param $N i32) (param $C i32) (param $H i32) (param $W i32)
    (param $kh i32) (param $kw i32) (param $s i32) (param $p i32) (param $chunk i32) (param $block i32) (param $buf i32)
    (param $next i32) (param $lo i32) (param $hi i32)
    (local $Kc i32) (local $P i32) (local $blocks i32) (local $chunks i32) (local $item i32) (local $img i32)
    (local $j0 i32) (local $j1 i32) (local $n i32) (local $n1 i32) (local $xp i32) (local $xn i32) (local $yn i32)
    (local.set $Kc (i32.mul (local.get $C) (i32.mul (local.get $kh) (local.get $kw))))
    (local.set $P (i32.mul
      (i32.add (i32.div_s (i32.sub (i32.add (local.get $H) (i32.shl (local.get $p) (i32.const 1))) (local.get $kh)) (local.get $s)) (i32.const 1))
      (i32.add (i32.div_s (i32.sub (i32.add (local.get $W) (i32.shl (local.get $p) (i32.const 1))) (local.get $kw)) (local.get $s)) (i32.const 1))))
    (local.set $blocks (i32.div_u (i32.add (i32.sub (local.get $hi) (local.get $lo)) (i32.sub (local.get $block) (i32.const 1))) (local.get $block)))
    (local.set $chunks (i32.div_u (i32.add (local.get $P) (i32.sub (local.get $chunk) (i32.const 1))) (local.get $chunk)))
    (if (i32.eqz (local.get $blocks)) (then (return)))
    (block $items_done (loop $items
      ;; item = (image · chunks + chunk) · blocks + block
      (local.set $item (i32.atomic.rmw.add (local.get $next) (i32.const 1)))
      (local.set $img (i32.div_u (local.get $item) (i32.mul (local.get $chunks) (local.get $blocks))))
      (br_if $items_done (i32.ge_u (local.get $img) (local.get $N)))
      (local.set $xn (i32.add (local.get $x) (i32.shl (i32.mul (local.get $img) (i32.mul (local.get $C) (i32.mul (local.get $H) (local.get $W)))) (i32.const 2))))
      (local.set $yn (i32.add (local.get $y) (i32.shl (i32.mul (local.get $img) (i32.mul (local.get $hi) (local.get $P))) (i32.const 2))))
      (local.set $j0 (i32.mul (i32.rem_u (i32.div_u (local.get $item) (local.get $blocks)) (local.get $chunks)) (local.get $chunk)))
      (local.set $j1 (i32.add (local.get $j0) (local.get $chunk)))
      (if (i32.gt_s (local.get $j1) (local.get $P)) (then (local.set $j1 (local.get $P))))
      ;; the chunk's panels into the buffer; xp: where panel 0 would lie, for the tiles' addressing (panel j/8 at
      ;; xp + 4·Kc·j; i32 arithmetic, which wraps)
      (local.set $xp (i32.sub (local.get $buf) (i32.shl (i32.mul (local.get $j0) (local.get $Kc)) (i32.const 2))))
      (if (i32.and (i32.eq (i32.mul (local.get $kh) (local.get $kw)) (i32.const 1)) (i32.and (i32.eq (local.get $s) (i32.const 1)) (i32.eqz (local.get $p))))
        (then (call $pack (local.get $buf) (i32.add (local.get $xn) (i32.shl (local.get $j0) (i32.const 2)))
          (i32.const 4) (i32.shl (local.get $P) (i32.const 2)) (local.get $C) (i32.sub (local.get $j1) (local.get $j0))))
        (else (call $im2col_panels (local.get $xp)
          (local.get $xn) (local.get $C) (local.get $H) (local.get $W) (local.get $kh) (local.get $kw) (local.get $s) (local.get $p)
          (i32.shr_u (local.get $j0) (i32.const 3)) (i32.shr_u (i32.add (local.get $j1) (i32.const 7)) (i32.const 3)))))
      ;; the block's output channels over them, as "linear_modes" (mode 1)
      (local.set $n (i32.add (local.get $lo) (i32.mul (i32.rem_u (local.get $item) (local.get $blocks)) (local.get $block))))
      (local.set $n1 (i32.add (local.get $n) (local.get $block)))
      (if (i32.gt_s (local.get $n1) (local.get $hi)) (then (local.set $n1 (local.get $hi))))
      (call $gemm_item (local.get $yn) (local.get $w) (local.get $xp) (local.get $bias) (local.get $P) (local.get $Kc) (local.get $hi)
        (i32.const 1) (local.get $n) (local.get $n1) (local.get $j0) (local.get $j1))
      (br $items)))
  )

  ;; dst (cols, rows) = srcᵀ for src (rows, cols), both row-major, bit for bit: 4 × 4 blocks (four 16-byte loads
  ;; from 4 rows, transposed and stored by $store4x4t as $pack does), the edges one value at a time. The
  ;; input gradient's Wᵀ and dy_nᵀ (kernels/wasm/conv.ts), where im2col's general copy took 3 ns a value. Source
  ;; rows [lo, hi) (a multiple of 4 apart).
  (func (export "transpose")
    (param $dst i32) (param $src i32) (param $rows i32) (param $cols i32) (param $lo i32) (param $hi i32)
    (local $r i32) (local $c i32) (local $s i32) (local $d i32) (local $ld i32) (local $lr i32)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $ld (i32.shl (local.get $cols) (i32.const 2)))   ;; a source row's bytes
    (local.set $lr (i32.shl (local.get $rows) (i32.const 2)))   ;; a destination row's bytes
    (local.set $r (local.get $lo))
    (block $rdone (loop $rs
      (br_if $rdone (i32.ge_s (local.get $r) (local.get $hi)))
      (local.set $c (i32.const 0))
      (if (i32.le_s (i32.add (local.get $r) (i32.const 4)) (local.get $hi)) (then
        (block $cdone (loop $cs
          (br_if $cdone (i32.gt_s (i32.add (local.get $c) (i32.const 4)) (local.get $cols)))
          (local.set $s (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
          (local.set $t0 (v128.load (local.get $s)))
          (local.set $t1 (v128.load (i32.add (local.get $s) (local.get $ld))))
          (local.set $t2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $ld) (i32.const 1)))))
          (local.set $t3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $ld) (i32.const 3)))))
          ;; column c + i of the 4 rows = lane i of each: $store4x4t's transpose, stored lr bytes apart
          (call $store4x4t
            (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
            (local.get $lr) (i32.const 0) (i32.const 0) (local.get $t0) (local.get $t1) (local.get $t2) (local.get $t3))
          (local.set $c (i32.add (local.get $c) (i32.const 4)))
          (br $cs)))))
      ;; the rest of these 4 rows (or of a last row short of 4), one value at a time
      (local.set $s (local.get $r))
      (block $edone (loop $es
        (br_if $edone (i32.or (i32.ge_s (local.get $s) (local.get $hi)) (i32.ge_s (local.get $s) (i32.add (local.get $r) (i32.const 4)))))
        (local.set $d (local.get $c))
        (block $fdone (loop $fs
          (br_if $fdone (i32.ge_s (local.get $d) (local.get $cols)))
          (i32.store (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $d) (local.get $rows)) (local.get $s)) (i32.const 2)))
            (i32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $s) (local.get $cols)) (local.get $d)) (i32.const 2)))))
          (local.set $d (i32.add (local.get $d) (i32.const 1)))
          (br $fs)))
        (local.set $s (i32.add (local.get $s) (i32.const 1)))
        (br $es)))
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $rs)))
  )

  ;; Its adjoint, added in: dx[c, iy, ix] += col(k, q) for every (k, q) im2col would have read x[c, iy, ix] into,
  ;; col a plain (C·kh·kw, Ho·Wo) matrix. Channels c in [lo, hi); for each, (ky, kx) in increasing order, then
  ;; q: one fixed order of the additions into each dx value, whatever the split.
  (func (export "col2im")
    (param $dx i32) (param $col i32) (param $C i32) (param $H i32) (param $W i32) (param $kh i32) (param $kw i32)
    (param $s i32) (param $p i32) (param $lo i32) (param $hi i32)
    (local $c i32) (local $ky i32) (local $kx i32) (local $Ho i32) (local $Wo i32) (local $src i32)
    (local $oy i32) (local $ox i32) (local $iy i32) (local $ix i32) (local $row i32) (local $a i32) (local $oxb i32)
    (local.set $Ho (i32.add (i32.div_s (i32.sub (i32.add (local.get $H) (i32.shl (local.get $p) (i32.const 1))) (local.get $kh)) (local.get $s)) (i32.const 1)))
    (local.set $Wo (i32.add (i32.div_s (i32.sub (i32.add (local.get $W) (i32.shl (local.get $p) (i32.const 1))) (local.get $kw)) (local.get $s)) (i32.const 1)))
    (local.set $c (local.get $lo))
    (block $cdone (loop $cs
      (br_if $cdone (i32.ge_s (local.get $c) (local.get $hi)))
      ;; col row k = (c·kh + ky)·kw + kx, its Ho·Wo values in a row
      (local.set $src (i32.add (local.get $col) (i32.shl (i32.mul (i32.mul (local.get $c) (i32.mul (local.get $kh) (local.get $kw)))
                                                                   (i32.mul (local.get $Ho) (local.get $Wo))) (i32.const 2))))
      (local.set $ky (i32.const 0))
      (block $kydone (loop $kys
        (br_if $kydone (i32.ge_s (local.get $ky) (local.get $kh)))
        (local.set $kx (i32.const 0))
        (block $kxdone (loop $kxs
          (br_if $kxdone (i32.ge_s (local.get $kx) (local.get $kw)))
          (local.set $oy (i32.const 0))
          (block $ydone (loop $ys
            (br_if $ydone (i32.ge_s (local.get $oy) (local.get $Ho)))
            (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $s)) (local.get $p)) (local.get $ky)))
            (if (i32.lt_u (local.get $iy) (local.get $H)) (then
              (local.set $row (i32.add (local.get $dx) (i32.shl (i32.mul (i32.add (i32.mul (local.get $c) (local.get $H)) (local.get $iy)) (local.get $W)) (i32.const 2))))
              (local.set $ix (i32.sub (local.get $kx) (local.get $p)))
              (local.set $ox (i32.const 0))
              ;; stride 1: the columns ox whose ix = ox − p + kx lies in 0…W−1 are one stretch [oxa, oxb), and their
              ;; dx values lie side by side: four at a time (each value still gets one addition here, in the same
              ;; order over (ky, kx) as below), then the rest of the row one by one
              (if (i32.eq (local.get $s) (i32.const 1)) (then
                ;; oxa = max(0, p − kx), oxb = min(Wo, W + p − kx)
                (local.set $ox (i32.sub (local.get $p) (local.get $kx)))
                (if (i32.lt_s (local.get $ox) (i32.const 0)) (then (local.set $ox (i32.const 0))))
                (local.set $oxb (i32.sub (i32.add (local.get $W) (local.get $p)) (local.get $kx)))
                (if (i32.gt_s (local.get $oxb) (local.get $Wo)) (then (local.set $oxb (local.get $Wo))))
                (block $vdone (loop $vs
                  (br_if $vdone (i32.gt_s (i32.add (local.get $ox) (i32.const 4)) (local.get $oxb)))
                  (local.set $a (i32.add (local.get $row) (i32.shl (i32.add (i32.sub (local.get $ox) (local.get $p)) (local.get $kx)) (i32.const 2))))
                  (v128.store (local.get $a) (f32x4.add (v128.load (local.get $a))
                    (v128.load (i32.add (local.get $src) (i32.shl (local.get $ox) (i32.const 2))))))
                  (local.set $ox (i32.add (local.get $ox) (i32.const 4)))
                  (br $vs)))
                ;; (the columns before oxa are padding: the loop below goes on from ox)
                (local.set $ix (i32.add (i32.sub (local.get $ox) (local.get $p)) (local.get $kx)))))
              (block $xdone (loop $xs
                (br_if $xdone (i32.ge_s (local.get $ox) (local.get $Wo)))
                (if (i32.lt_u (local.get $ix) (local.get $W)) (then
                  (local.set $a (i32.add (local.get $row) (i32.shl (local.get $ix) (i32.const 2))))
                  (f32.store (local.get $a) (f32.add (f32.load (local.get $a))
                    (f32.load (i32.add (local.get $src) (i32.shl (local.get $ox) (i32.const 2))))))))
                (local.set $ix (i32.add (local.get $ix) (local.get $s)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
                (br $xs)))))
            (local.set $src (i32.add (local.get $src) (i32.shl (local.get $Wo) (i32.const 2))))
            (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
            (br $ys)))
          (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
          (br $kxs)))
        (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
        (br $kys)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br $cs)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; exp on four lanes: exp(x) = 2ⁿ·exp(x − n·ln2), n = round(x·log2 e), |x − n·ln2| ≤ ln2/2, with the
  ;; degree-6 Taylor polynomial (truncation ≤ 1.2e−7 relative) and ln2 split in two for an exact reduction.
  ;; x is clamped to [−87.33, 88.37] so 2ⁿ stays a normal float: below, exp gives ≈ 1e−38 instead of 0.
  ;; NaN stays NaN (pmin/pmax keep their first operand when a comparison fails).
  ;; n is rounded by adding 1.5·2²³: the sum's float rounding is round-half-even to an integer (as
  ;; f32x4.nearest), and its low mantissa bits hold n, from which 2ⁿ's exponent bits come without a float →
  ;; int conversion (wasm's saturating one costs V8 several instructions). Measured: 3.3 → 2.3 ns a value.
  (func $exp4 (param $x v128) (result v128)
    (local $t v128) (local $n v128) (local $r v128) (local $p v128)
    (local.set $x (f32x4.pmin (f32x4.pmax (local.get $x) (f32x4.splat (f32.const -87.33))) (f32x4.splat (f32.const 88.37))))
    (local.set $t (f32x4.add (f32x4.mul (local.get $x) (f32x4.splat (f32.const 1.44269504))) (f32x4.splat (f32.const 12582912))))
    (local.set $n (f32x4.sub (local.get $t) (f32x4.splat (f32.const 12582912))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (f32x4.splat (f32.const 0.693359375)))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (f32x4.splat (f32.const -2.12194440e-4)))))
    (local.set $p (f32x4.splat (f32.const 0.00138888889)))                                     ;; 1/720
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.00833333333))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.0416666667))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.166666667))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 0.5))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (f32x4.splat (f32.const 1))))
    ;; 2ⁿ from its exponent bits: (n + 127) << 23, where t's bits are those of 1.5·2²³ plus n (the shift
    ;; drops 1.5·2²³'s own bits: its low 9 are zero)
    (f32x4.mul (local.get $p) (i32x4.shl (i32x4.add (local.get $t) (i32x4.splat (i32.const 127))) (i32.const 23)))
  )

  (func $exp (param $x f32) (result f32)
    (f32x4.extract_lane 0 (call $exp4 (f32x4.splat (local.get $x))))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; Softmax of one attention row in place: row[j] = exp(row[j] − max)/Σ over j < seen, and 0 for
  ;; seen ≤ j < N (keys a causal mask hides). The sum runs over lanes of four, then the tail, in one order.
  (func $softmax (param $row i32) (param $seen i32) (param $N i32)
    (local $j i32) (local $p i32) (local $max f32) (local $x f32) (local $sum f32) (local $s4 v128)
    (local $m4 v128) (local $e v128) (local $seen4 i32)
    ;; the maximum: four lanes at a time (pmax keeps the running value where a comparison fails, as the
    ;; scalar x > max does for NaN), then the lanes, then the tail
    (local.set $seen4 (i32.and (local.get $seen) (i32.const -4)))
    (local.set $m4 (f32x4.splat (f32.const -inf)))
    (block $d0 (loop $l0
      (br_if $d0 (i32.ge_s (local.get $j) (local.get $seen4)))
      (local.set $m4 (f32x4.pmax (local.get $m4) (v128.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l0)))
    (local.set $max (f32x4.extract_lane 0 (local.get $m4)))
    (if (f32.gt (f32x4.extract_lane 1 (local.get $m4)) (local.get $max)) (then (local.set $max (f32x4.extract_lane 1 (local.get $m4)))))
    (if (f32.gt (f32x4.extract_lane 2 (local.get $m4)) (local.get $max)) (then (local.set $max (f32x4.extract_lane 2 (local.get $m4)))))
    (if (f32.gt (f32x4.extract_lane 3 (local.get $m4)) (local.get $max)) (then (local.set $max (f32x4.extract_lane 3 (local.get $m4)))))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $j) (local.get $seen)))
      (local.set $x (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))))
      (if (f32.gt (local.get $x) (local.get $max)) (then (local.set $max (local.get $x))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l1)))
    (local.set $m4 (f32x4.splat (local.get $max)))
    (local.set $j (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $j) (local.get $seen4)))
      (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $e (call $exp4 (f32x4.sub (v128.load (local.get $p)) (local.get $m4))))
      (v128.store (local.get $p) (local.get $e))
      (local.set $s4 (f32x4.add (local.get $s4) (local.get $e)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l2)))
    (local.set $sum (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s4)) (f32x4.extract_lane 1 (local.get $s4)))
      (f32.add (f32x4.extract_lane 2 (local.get $s4)) (f32x4.extract_lane 3 (local.get $s4)))))
    (block $d3 (loop $l3
      (br_if $d3 (i32.ge_s (local.get $j) (local.get $seen)))
      (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $x (call $exp (f32.sub (f32.load (local.get $p)) (local.get $max))))
      (f32.store (local.get $p) (local.get $x))
      (local.set $sum (f32.add (local.get $sum) (local.get $x)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l3)))
    ;; normalise, then zero the masked keys
    (local.set $m4 (f32x4.splat (local.get $sum)))
    (local.set $j (i32.const 0))
    (block $d4 (loop $l4
      (br_if $d4 (i32.ge_s (local.get $j) (local.get $seen4)))
      (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
      (v128.store (local.get $p) (f32x4.div (v128.load (local.get $p)) (local.get $m4)))
      (local.set $j (i32.add (local.get $j) (i32.const 4)))
      (br $l4)))
    (block $d5 (loop $l5
      (br_if $d5 (i32.ge_s (local.get $j) (local.get $N)))
      (local.set $p (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2))))
      (f32.store (local.get $p)
        (select (f32.div (f32.load (local.get $p)) (local.get $sum)) (f32.const 0) (i32.lt_s (local.get $j) (local.get $seen))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l5)))
  )

  ;; Softmax backward of one row in place: ds_j = att_j·(datt_j − Σ_i att_i·datt_i) for j < seen, else 0.
  (func $softmax_back (param $datt i32) (param $att i32) (param $seen i32) (param $N i32)
    (local $j i32) (local $dot f32) (local $pa i32) (local $pd i32)
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $j) (local.get $seen)))
      (local.set $pa (i32.add (local.get $att) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $pd (i32.add (local.get $datt) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $dot (f32.add (local.get $dot) (f32.mul (f32.load (local.get $pa)) (f32.load (local.get $pd)))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l1)))
    (local.set $j (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $j) (local.get $N)))
      (local.set $pa (i32.add (local.get $att) (i32.shl (local.get $j) (i32.const 2))))
      (local.set $pd (i32.add (local.get $datt) (i32.shl (local.get $j) (i32.const 2))))
      (f32.store (local.get $pd)
        (select (f32.mul (f32.load (local.get $pa)) (f32.sub (f32.load (local.get $pd)) (local.get $dot)))
                (f32.const 0) (i32.lt_s (local.get $j) (local.get $seen))))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l2)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; The attention core for units u = b·H + h in [lo, hi) (one image, one head each), as nn/attention.ts:
  ;; att (B,H,nq,N) = softmax(q·kᵀ·scale) over the first nq queries, out (B,nq,D) = att·v.
  ;; qkv (B,N,3D) rows [q | k | v]. ws: this thread's scratch for the head's operands in panels of 8 ($pack):
  ;; kᵀ (⌈N/8⌉·8·hd floats), q (⌈nq/8⌉·8·hd), v (⌈hd/8⌉·8·N) and att (⌈nq/8⌉·8·N). Both products run on
  ;; $tile4p, each sum over increasing d (scores) or j (att·v), so the bits do not depend on the packing.
  (func (export "attention")
    (param $out i32) (param $att i32) (param $qkv i32) (param $ws i32)
    (param $N i32) (param $nq i32) (param $H i32) (param $hd i32) (param $causal i32) (param $scale f32)
    (param $lo i32) (param $hi i32)
    (local $u i32) (local $b i32) (local $h i32) (local $D4 i32) (local $row3 i32) (local $base i32)
    (local $arow i32) (local $t i32) (local $hoff i32) (local $kt i32) (local $qp i32) (local $vp i32) (local $ap i32)
    (local.set $D4 (i32.shl (i32.mul (local.get $H) (local.get $hd)) (i32.const 2)))  ;; 4D bytes
    (local.set $row3 (i32.mul (local.get $D4) (i32.const 3)))                          ;; a qkv row, bytes
    (local.set $kt (local.get $ws))
    (local.set $qp (i32.add (local.get $kt) (i32.shl (i32.mul (call $up8 (local.get $N)) (local.get $hd)) (i32.const 2))))
    (local.set $vp (i32.add (local.get $qp) (i32.shl (i32.mul (call $up8 (local.get $nq)) (local.get $hd)) (i32.const 2))))
    (local.set $ap (i32.add (local.get $vp) (i32.shl (i32.mul (call $up8 (local.get $hd)) (local.get $N)) (i32.const 2))))
    (local.set $u (local.get $lo))
    (block $done (loop $units
      (br_if $done (i32.ge_s (local.get $u) (local.get $hi)))
      (local.set $b (i32.div_s (local.get $u) (local.get $H)))
      (local.set $h (i32.rem_s (local.get $u) (local.get $H)))
      (local.set $hoff (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))  ;; head h's columns, bytes
      (local.set $base (i32.add (i32.add (local.get $qkv) (i32.mul (i32.mul (local.get $b) (local.get $N)) (local.get $row3)))
                                (local.get $hoff)))
      (local.set $arow (i32.add (local.get $att) (i32.shl (i32.mul (local.get $u) (i32.mul (local.get $nq) (local.get $N))) (i32.const 2))))
      ;; scores (nq,N) = q·kᵀ·scale, written into att: A = q (query t, step d), B = kᵀ (step d, key j)
      (call $pack (local.get $qp) (local.get $base) (local.get $row3) (i32.const 4) (local.get $hd) (local.get $nq))
      (call $pack (local.get $kt) (i32.add (local.get $base) (local.get $D4)) (local.get $row3) (i32.const 4) (local.get $hd) (local.get $N))
      (call $gemm_packed (local.get $arow) (i32.shl (local.get $N) (i32.const 2)) (local.get $qp)
        (local.get $kt) (i32.shl (local.get $hd) (i32.const 5)) (i32.const 32)
        (local.get $nq) (local.get $N) (local.get $hd) (local.get $scale))
      (local.set $t (i32.const 0))
      (block $sdone (loop $rows
        (br_if $sdone (i32.ge_s (local.get $t) (local.get $nq)))
        (call $softmax (i32.add (local.get $arow) (i32.shl (i32.mul (local.get $t) (local.get $N)) (i32.const 2)))
          (select (i32.add (local.get $t) (i32.const 1)) (local.get $N) (local.get $causal)) (local.get $N))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      ;; out (nq,hd) of head h = att (nq,N) · v (N,hd): A = att (query t, step j), B = v (step j, column d)
      (call $pack (local.get $ap) (local.get $arow) (i32.shl (local.get $N) (i32.const 2)) (i32.const 4) (local.get $N) (local.get $nq))
      (call $pack (local.get $vp) (i32.add (local.get $base) (i32.shl (local.get $D4) (i32.const 1))) (i32.const 4) (local.get $row3)
        (local.get $N) (local.get $hd))
      (call $gemm_packed
        (i32.add (local.get $out) (i32.add (i32.mul (i32.mul (local.get $b) (local.get $nq)) (local.get $D4)) (local.get $hoff)))
        (local.get $D4) (local.get $ap)
        (local.get $vp) (i32.shl (local.get $N) (i32.const 5)) (i32.const 32)
        (local.get $nq) (local.get $hd) (local.get $N) (f32.const 1))
      (local.set $u (i32.add (local.get $u) (i32.const 1)))
      (br $units)))
  )

  ;; n rounded up to a multiple of 8
  (func $up8 (param $n i32) (result i32)
    (i32.and (i32.add (local.get $n) (i32.const 7)) (i32.const -8))
  )

  ;; Its backward for units [lo, hi), as nn/attention.ts: dqkv (B,N,3D) +=, datt (B,H,nq,N) scratch.
  ;; forward was s = q·kᵀ·scale, att = softmax(s), out = att·v; so
  ;;   datt = dout·vᵀ,  dv += attᵀ·dout,  ds = att⊙(datt − rowsum(att⊙datt)),  dq += ds·k·scale,  dk += dsᵀ·q·scale
  ;; vt: this thread's scratch for vᵀ in panels (⌈N/8⌉·8·hd floats).
  (func (export "attention_backward")
    (param $dqkv i32) (param $datt i32) (param $dout i32) (param $att i32) (param $qkv i32) (param $vt i32)
    (param $N i32) (param $nq i32) (param $H i32) (param $hd i32) (param $causal i32) (param $scale f32)
    (param $lo i32) (param $hi i32)
    (local $u i32) (local $b i32) (local $h i32) (local $D4 i32) (local $row3 i32) (local $hoff i32)
    (local $base i32) (local $dbase i32) (local $arow i32) (local $drow i32) (local $dorow i32) (local $t i32)
    (local.set $D4 (i32.shl (i32.mul (local.get $H) (local.get $hd)) (i32.const 2)))
    (local.set $row3 (i32.mul (local.get $D4) (i32.const 3)))
    (local.set $u (local.get $lo))
    (block $done (loop $units
      (br_if $done (i32.ge_s (local.get $u) (local.get $hi)))
      (local.set $b (i32.div_s (local.get $u) (local.get $H)))
      (local.set $h (i32.rem_s (local.get $u) (local.get $H)))
      (local.set $hoff (i32.shl (i32.mul (local.get $h) (local.get $hd)) (i32.const 2)))  ;; head h's columns, bytes
      (local.set $base (i32.add (local.get $qkv) (i32.mul (i32.mul (local.get $b) (local.get $N)) (local.get $row3))))
      (local.set $dbase (i32.add (local.get $dqkv) (i32.mul (i32.mul (local.get $b) (local.get $N)) (local.get $row3))))
      (local.set $arow (i32.add (local.get $att) (i32.shl (i32.mul (local.get $u) (i32.mul (local.get $nq) (local.get $N))) (i32.const 2))))
      (local.set $drow (i32.add (local.get $datt) (i32.shl (i32.mul (local.get $u) (i32.mul (local.get $nq) (local.get $N))) (i32.const 2))))
      (local.set $dorow (i32.add (local.get $dout) (i32.add (i32.mul (i32.mul (local.get $b) (local.get $nq)) (local.get $D4)) (local.get $hoff))))
      ;; out = att·v: datt (nq,N) = dout (nq,hd) · vᵀ
      (call $pack (local.get $vt)
        (i32.add (local.get $base) (i32.add (i32.shl (local.get $D4) (i32.const 1)) (local.get $hoff)))
        (local.get $row3) (i32.const 4) (local.get $hd) (local.get $N))
      (call $gemm (local.get $drow) (i32.shl (local.get $N) (i32.const 2))
        (local.get $dorow) (local.get $D4) (i32.const 4)
        (local.get $vt) (i32.shl (local.get $hd) (i32.const 5)) (i32.const 32)
        (local.get $N) (local.get $hd) (f32.const 1) (i32.const 0) (i32.const 0)
        (i32.const 0) (local.get $nq))
      ;; and dv (N,hd) += attᵀ (N,nq) · dout (nq,hd)
      (call $gemm (i32.add (local.get $dbase) (i32.add (i32.shl (local.get $D4) (i32.const 1)) (local.get $hoff))) (local.get $row3)
        (local.get $arow) (i32.const 4) (i32.shl (local.get $N) (i32.const 2))
        (local.get $dorow) (i32.const 32) (local.get $D4)
        (local.get $hd) (local.get $nq) (f32.const 1) (i32.const 0) (i32.const 1)
        (i32.const 0) (local.get $N))
      ;; att = softmax(s): datt becomes ds, row by row
      (local.set $t (i32.const 0))
      (block $sdone (loop $rows
        (br_if $sdone (i32.ge_s (local.get $t) (local.get $nq)))
        (call $softmax_back
          (i32.add (local.get $drow) (i32.shl (i32.mul (local.get $t) (local.get $N)) (i32.const 2)))
          (i32.add (local.get $arow) (i32.shl (i32.mul (local.get $t) (local.get $N)) (i32.const 2)))
          (select (i32.add (local.get $t) (i32.const 1)) (local.get $N) (local.get $causal)) (local.get $N))
        (local.set $t (i32.add (local.get $t) (i32.const 1)))
        (br $rows)))
      ;; s = q·kᵀ·scale: dq (nq,hd) += ds (nq,N) · k (N,hd) · scale
      (call $gemm (i32.add (local.get $dbase) (local.get $hoff)) (local.get $row3)
        (local.get $drow) (i32.shl (local.get $N) (i32.const 2)) (i32.const 4)
        (i32.add (local.get $base) (i32.add (local.get $D4) (local.get $hoff))) (i32.const 32) (local.get $row3)
        (local.get $hd) (local.get $N) (local.get $scale) (i32.const 0) (i32.const 1)
        (i32.const 0) (local.get $nq))
      ;; and dk (N,hd) += dsᵀ (N,nq) · q (nq,hd) · scale
      (call $gemm (i32.add (local.get $dbase) (i32.add (local.get $D4) (local.get $hoff))) (local.get $row3)
        (local.get $drow) (i32.const 4) (i32.shl (local.get $N) (i32.const 2))
        (i32.add (local.get $base) (local.get $hoff)) (i32.const 32) (local.get $row3)
        (local.get $hd) (local.get $nq) (local.get $scale) (i32.const 0) (i32.const 1)
        (i32.const 0) (local.get $N))
      (local.set $u (i32.add (local.get $u) (i32.const 1)))
      (br $units)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; LayerNorm of rows [lo, hi), as nn/layernorm.ts: mean and variance summed in float64 (two lanes, then
  ;; the two lanes added), rstd = 1/√(var + eps); out = (x − mean)·rstd·w + b in float32.
  ;; C must be a multiple of 4.
  (func (export "layernorm")
    (param $out i32) (param $mean i32) (param $rstd i32) (param $inp i32) (param $w i32) (param $bb i32)
    (param $C i32) (param $eps f64) (param $lo i32) (param $hi i32)
    (local $n i32) (local $row i32) (local $orow i32) (local $c i32) (local $x v128) (local $d v128)
    (local $s v128) (local $m f64) (local $r f64) (local $m4 v128) (local $r4 v128) (local $C4 i32)
    (local.set $C4 (i32.shl (local.get $C) (i32.const 2)))
    (local.set $n (local.get $lo))
    (block $done (loop $rows
      (br_if $done (i32.ge_s (local.get $n) (local.get $hi)))
      (local.set $row (i32.add (local.get $inp) (i32.mul (local.get $n) (local.get $C4))))
      (local.set $orow (i32.add (local.get $out) (i32.mul (local.get $n) (local.get $C4))))
      ;; mean: Σ x in float64
      (local.set $s (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s (local.get $c) (local.get $C4)))
        (local.set $x (v128.load (i32.add (local.get $row) (local.get $c))))
        (local.set $s (f64x2.add (local.get $s) (f64x2.promote_low_f32x4 (local.get $x))))
        (local.set $s (f64x2.add (local.get $s)
          (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l1)))
      (local.set $m (f64.div (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s)))
                             (f64.convert_i32_s (local.get $C))))
      ;; biased variance: Σ (x − mean)² in float64
      (local.set $m4 (f64x2.splat (local.get $m)))
      (local.set $s (v128.const i64x2 0 0))
      (local.set $c (i32.const 0))
      (block $d2 (loop $l2
        (br_if $d2 (i32.ge_s (local.get $c) (local.get $C4)))
        (local.set $x (v128.load (i32.add (local.get $row) (local.get $c))))
        (local.set $d (f64x2.sub (f64x2.promote_low_f32x4 (local.get $x)) (local.get $m4)))
        (local.set $s (f64x2.add (local.get $s) (f64x2.mul (local.get $d) (local.get $d))))
        (local.set $d (f64x2.sub (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $x) (local.get $x)))
                                 (local.get $m4)))
        (local.set $s (f64x2.add (local.get $s) (f64x2.mul (local.get $d) (local.get $d))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l2)))
      (local.set $r (f64.div (f64.const 1)
        (f64.sqrt (f64.add (f64.div (f64.add (f64x2.extract_lane 0 (local.get $s)) (f64x2.extract_lane 1 (local.get $s)))
                                    (f64.convert_i32_s (local.get $C)))
                           (local.get $eps)))))
      (f32.store (i32.add (local.get $mean) (i32.shl (local.get $n) (i32.const 2))) (f32.demote_f64 (local.get $m)))
      (f32.store (i32.add (local.get $rstd) (i32.shl (local.get $n) (i32.const 2))) (f32.demote_f64 (local.get $r)))
      ;; out = (x − mean)·rstd·w + b
      (local.set $m4 (f32x4.splat (f32.demote_f64 (local.get $m))))
      (local.set $r4 (f32x4.splat (f32.demote_f64 (local.get $r))))
      (local.set $c (i32.const 0))
      (block $d3 (loop $l3
        (br_if $d3 (i32.ge_s (local.get $c) (local.get $C4)))
        (v128.store (i32.add (local.get $orow) (local.get $c))
          (f32x4.add
            (f32x4.mul (f32x4.mul (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $c))) (local.get $m4)) (local.get $r4))
                       (v128.load (i32.add (local.get $w) (local.get $c))))
            (v128.load (i32.add (local.get $bb) (local.get $c)))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l3)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $rows)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; The residual connection, as nn/residual.ts: out (B,Ny,C) = x (B,Nx,C) over its first Ny tokens per image
  ;; + y (B,Ny,C), for rows r = b·Ny + t in [lo, hi). float32 sums, as the reference's (rounded once).
  (func (export "residual")
    (param $out i32) (param $x i32) (param $y i32) (param $Nx i32) (param $Ny i32) (param $C i32)
    (param $lo i32) (param $hi i32)
    (local $r i32) (local $c i32) (local $row i32) (local $xrow i32) (local $C4 i32) (local $Cb i32)
    (local.set $Cb (i32.shl (local.get $C) (i32.const 2)))
    (local.set $C4 (i32.and (local.get $Cb) (i32.const -16)))  ;; bytes done four at a time
    (local.set $r (local.get $lo))
    (block $done (loop $rows
      (br_if $done (i32.ge_s (local.get $r) (local.get $hi)))
      (local.set $row (i32.mul (local.get $r) (local.get $Cb)))
      ;; x's row: image r / Ny, token r mod Ny
      (local.set $xrow (i32.add (local.get $x) (i32.mul (local.get $Cb)
        (i32.add (i32.mul (i32.div_u (local.get $r) (local.get $Ny)) (local.get $Nx)) (i32.rem_u (local.get $r) (local.get $Ny))))))
      (local.set $c (i32.const 0))
      (block $d4 (loop $l4
        (br_if $d4 (i32.ge_s (local.get $c) (local.get $C4)))
        (v128.store (i32.add (local.get $out) (i32.add (local.get $row) (local.get $c)))
          (f32x4.add (v128.load (i32.add (local.get $xrow) (local.get $c)))
                     (v128.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c))))))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $l4)))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_s (local.get $c) (local.get $Cb)))
        (f32.store (i32.add (local.get $out) (i32.add (local.get $row) (local.get $c)))
          (f32.add (f32.load (i32.add (local.get $xrow) (local.get $c)))
                   (f32.load (i32.add (local.get $y) (i32.add (local.get $row) (local.get $c))))))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $l1)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $rows)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; BatchNorm2d in eval mode, then optionally a residual sum and a ReLU, in one pass over planes p in [lo, hi)
  ;; (NCHW: plane p = n·C + c holds HW values of channel c = p mod C), with the reference's arithmetic so that
  ;; the bits are the same as nn/batchnorm.ts, nn/residual.ts and nn/relu.ts run one after the other:
  ;;   y = f32((x − mean[c])·s + b[c]) in float64, s = w[c]/√(var[c] + eps)   (batchnormForward)
  ;;   y = y + add   (float32, where $add ≠ 0)                                  (residualForward)
  ;;   y = 0 < y ? y : 0   (where $relu ≠ 0: NaN and −0 give +0, as x > 0 ? x : 0)  (reluForward)
  (func (export "bn_act")
    (param $y i32) (param $x i32) (param $w i32) (param $b i32) (param $mean i32) (param $var i32) (param $add i32)
    (param $C i32) (param $HW i32) (param $eps f64) (param $relu i32) (param $lo i32) (param $hi i32)
    (local $p i32) (local $c4 i32) (local $i i32) (local $end i32) (local $end4 i32)
    (local $s f64) (local $m f64) (local $bb f64) (local $s2 v128) (local $m2 v128) (local $b2 v128)
    (local $v v128) (local $r v128) (local $f f32)
    (local.set $p (local.get $lo))
    (block $done (loop $planes
      (br_if $done (i32.ge_s (local.get $p) (local.get $hi)))
      (local.set $c4 (i32.shl (i32.rem_u (local.get $p) (local.get $C)) (i32.const 2)))
      (local.set $s (f64.div (f64.promote_f32 (f32.load (i32.add (local.get $w) (local.get $c4))))
        (f64.sqrt (f64.add (f64.promote_f32 (f32.load (i32.add (local.get $var) (local.get $c4)))) (local.get $eps)))))
      (local.set $m (f64.promote_f32 (f32.load (i32.add (local.get $mean) (local.get $c4)))))
      (local.set $bb (f64.promote_f32 (f32.load (i32.add (local.get $b) (local.get $c4)))))
      (local.set $s2 (f64x2.splat (local.get $s)))
      (local.set $m2 (f64x2.splat (local.get $m)))
      (local.set $b2 (f64x2.splat (local.get $bb)))
      ;; byte offsets of the plane: [i, end), four values at a time up to end4
      (local.set $i (i32.shl (i32.mul (local.get $p) (local.get $HW)) (i32.const 2)))
      (local.set $end (i32.add (local.get $i) (i32.shl (local.get $HW) (i32.const 2))))
      (local.set $end4 (i32.add (local.get $i) (i32.and (i32.shl (local.get $HW) (i32.const 2)) (i32.const -16))))
      (block $d4 (loop $l4
        (br_if $d4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $v (v128.load (i32.add (local.get $x) (local.get $i))))
        ;; lanes 0-1 and 2-3 in float64, each rounded once to float32
        (local.set $r (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4 (local.get $v))
            (local.get $m2)) (local.get $s2)) (local.get $b2)))
          (f32x4.demote_f64x2_zero (f64x2.add (f64x2.mul (f64x2.sub (f64x2.promote_low_f32x4
            (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v)))
            (local.get $m2)) (local.get $s2)) (local.get $b2)))))
        (if (local.get $add)
          (then (local.set $r (f32x4.add (local.get $r) (v128.load (i32.add (local.get $add) (local.get $i)))))))
        (if (local.get $relu)
          (then (local.set $r (f32x4.pmax (v128.const f32x4 0 0 0 0) (local.get $r)))))
        (v128.store (i32.add (local.get $y) (local.get $i)) (local.get $r))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $l4)))
      (block $d1 (loop $l1
        (br_if $d1 (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $f (f32.demote_f64 (f64.add (f64.mul (f64.sub (f64.promote_f32 (f32.load (i32.add (local.get $x) (local.get $i))))
          (local.get $m)) (local.get $s)) (local.get $bb))))
        (if (local.get $add)
          (then (local.set $f (f32.add (local.get $f) (f32.load (i32.add (local.get $add) (local.get $i)))))))
        (if (local.get $relu)
          (then (local.set $f (select (local.get $f) (f32.const 0) (f32.gt (local.get $f) (f32.const 0))))))
        (f32.store (i32.add (local.get $y) (local.get $i)) (local.get $f))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $l1)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $planes)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; Average pooling, kernel = stride = k, no padding, as nn/avgpool.ts: planes [lo, hi) of H × W →
  ;; floor(H/k) × floor(W/k), each window summed in float64 row by row (the reference's order), times 1/k², rounded once.
  (func (export "avgpool")
    (param $y i32) (param $x i32) (param $H i32) (param $W i32) (param $k i32) (param $lo i32) (param $hi i32)
    (local $p i32) (local $Ho i32) (local $Wo i32) (local $oy i32) (local $ox i32) (local $ky i32) (local $kx i32)
    (local $row i32) (local $out i32) (local $s f64) (local $inv f64) (local $Wb i32) (local $inv2 v128)
    (local $a0 v128) (local $a1 v128) (local $c0 v128) (local $c1 v128) (local $ev v128) (local $od v128)
    (local $ce v128) (local $co v128) (local $lo2 v128) (local $hi2 v128)
    (local.set $Ho (i32.div_u (local.get $H) (local.get $k)))
    (local.set $Wo (i32.div_u (local.get $W) (local.get $k)))
    (local.set $inv (f64.div (f64.const 1) (f64.convert_i32_u (i32.mul (local.get $k) (local.get $k)))))
    (local.set $inv2 (f64x2.splat (local.get $inv)))
    (local.set $out (i32.add (local.get $y) (i32.shl (i32.mul (local.get $lo) (i32.mul (local.get $Ho) (local.get $Wo))) (i32.const 2))))
    (local.set $p (local.get $lo))
    (block $done (loop $planes
      (br_if $done (i32.ge_s (local.get $p) (local.get $hi)))
      (local.set $oy (i32.const 0))
      (block $dy (loop $ly
        (br_if $dy (i32.ge_s (local.get $oy) (local.get $Ho)))
        (local.set $ox (i32.const 0))
        (if (i32.eq (local.get $k) (i32.const 2)) (then
          ;; k = 2, four outputs at a time: a, b the even and odd values of rows 2oy, c, d of 2oy + 1, and
          ;; (((0 + a) + b) + c) + d in float64 (the loop's order below; 0 + a turns −0 into +0), times 1/4, rounded once
          (local.set $row (i32.add (local.get $x) (i32.shl (i32.mul (i32.add (i32.mul (local.get $p) (local.get $H))
            (i32.shl (local.get $oy) (i32.const 1))) (local.get $W)) (i32.const 2))))
          (local.set $Wb (i32.shl (local.get $W) (i32.const 2)))
          (block $d4 (loop $l4
            (br_if $d4 (i32.gt_s (i32.add (local.get $ox) (i32.const 4)) (local.get $Wo)))
            (local.set $a0 (v128.load (local.get $row)))
            (local.set $a1 (v128.load offset=16 (local.get $row)))
            (local.set $c0 (v128.load (i32.add (local.get $row) (local.get $Wb))))
            (local.set $c1 (v128.load offset=16 (i32.add (local.get $row) (local.get $Wb))))
            (local.set $ev (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $a0) (local.get $a1)))
            (local.set $od (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $a0) (local.get $a1)))
            (local.set $ce (i8x16.shuffle 0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27 (local.get $c0) (local.get $c1)))
            (local.set $co (i8x16.shuffle 4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31 (local.get $c0) (local.get $c1)))
            (local.set $lo2 (f64x2.mul (f64x2.add (f64x2.add (f64x2.add
              (f64x2.add (v128.const f64x2 0 0) (f64x2.promote_low_f32x4 (local.get $ev))) (f64x2.promote_low_f32x4 (local.get $od)))
              (f64x2.promote_low_f32x4 (local.get $ce))) (f64x2.promote_low_f32x4 (local.get $co))) (local.get $inv2)))
            (local.set $ev (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ev) (local.get $ev)))
            (local.set $od (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $od) (local.get $od)))
            (local.set $ce (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $ce) (local.get $ce)))
            (local.set $co (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $co) (local.get $co)))
            (local.set $hi2 (f64x2.mul (f64x2.add (f64x2.add (f64x2.add
              (f64x2.add (v128.const f64x2 0 0) (f64x2.promote_low_f32x4 (local.get $ev))) (f64x2.promote_low_f32x4 (local.get $od)))
              (f64x2.promote_low_f32x4 (local.get $ce))) (f64x2.promote_low_f32x4 (local.get $co))) (local.get $inv2)))
            (v128.store (local.get $out) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
              (f32x4.demote_f64x2_zero (local.get $lo2)) (f32x4.demote_f64x2_zero (local.get $hi2))))
            (local.set $out (i32.add (local.get $out) (i32.const 16)))
            (local.set $row (i32.add (local.get $row) (i32.const 32)))
            (local.set $ox (i32.add (local.get $ox) (i32.const 4)))
            (br $l4)))))
        (block $dx (loop $lx
          (br_if $dx (i32.ge_s (local.get $ox) (local.get $Wo)))
          (local.set $s (f64.const 0))
          (local.set $ky (i32.const 0))
          (block $dky (loop $lky
            (br_if $dky (i32.ge_s (local.get $ky) (local.get $k)))
            ;; x[p, oy·k + ky, ox·k] in bytes
            (local.set $row (i32.add (local.get $x) (i32.shl (i32.add
              (i32.mul (i32.add (i32.mul (local.get $p) (local.get $H)) (i32.add (i32.mul (local.get $oy) (local.get $k)) (local.get $ky))) (local.get $W))
              (i32.mul (local.get $ox) (local.get $k))) (i32.const 2))))
            (local.set $kx (i32.const 0))
            (block $dkx (loop $lkx
              (br_if $dkx (i32.ge_s (local.get $kx) (local.get $k)))
              (local.set $s (f64.add (local.get $s) (f64.promote_f32 (f32.load (i32.add (local.get $row) (i32.shl (local.get $kx) (i32.const 2)))))))
              (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
              (br $lkx)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $lky)))
          (f32.store (local.get $out) (f32.demote_f64 (f64.mul (local.get $s) (local.get $inv))))
          (local.set $out (i32.add (local.get $out) (i32.const 4)))
          (local.set $ox (i32.add (local.get $ox) (i32.const 1)))
          (br $lx)))
        (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
        (br $ly)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $planes)))
  )

  ;; ---------------------------------------------------------------------------------------------------
  ;; quick_gelu(x) = x·σ(1.702x) over elements [lo, hi) (lo a multiple of 4), as nn/gelu.ts.
  (func (export "quick_gelu")
    (param $out i32) (param $inp i32) (param $lo i32) (param $hi i32)
    (local $i i32) (local $x v128) (local $x1 f32)
    (local.set $i (local.get $lo))
    (block $d1 (loop $l1
      (br_if $d1 (i32.gt_s (i32.add (local.get $i) (i32.const 4)) (local.get $hi)))
      (local.set $x (v128.load (i32.add (local.get $inp) (i32.shl (local.get $i) (i32.const 2)))))
      (v128.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (f32x4.div (local.get $x)
          (f32x4.add (f32x4.splat (f32.const 1))
            (call $exp4 (f32x4.mul (local.get $x) (f32x4.splat (f32.const -1.702)))))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l1)))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_s (local.get $i) (local.get $hi)))
      (local.set $x1 (f32.load (i32.add (local.get $inp) (i32.shl (local.get $i) (i32.const 2)))))
      (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2)))
        (f32.div (local.get $x1) (f32.add (f32.const 1) (call $exp (f32.mul (local.get $x1) (f32.const -1.702))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l2)))
  )

  ;; its backward: dinp += dout·(s + 1.702·x·s·(1 − s)), s = σ(1.702x)
  (func (export "quick_gelu_backward")
    (param $dinp i32) (param $dout i32) (param $inp i32) (param $lo i32) (param $hi i32)
    (local $i i32) (local $p i32) (local $x v128) (local $s v128) (local $one v128)
    (local.set $one (f32x4.splat (f32.const 1)))
    (local.set $i (local.get $lo))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_s (local.get $i) (local.get $hi)))
      (local.set $p (i32.shl (local.get $i) (i32.const 2)))
      (if (i32.le_s (i32.add (local.get $i) (i32.const 4)) (local.get $hi))
        (then
          (local.set $x (v128.load (i32.add (local.get $inp) (local.get $p))))
          (local.set $s (f32x4.div (local.get $one) (f32x4.add (local.get $one)
            (call $exp4 (f32x4.mul (local.get $x) (f32x4.splat (f32.const -1.702)))))))
          (v128.store (i32.add (local.get $dinp) (local.get $p))
            (f32x4.add (v128.load (i32.add (local.get $dinp) (local.get $p)))
              (f32x4.mul (v128.load (i32.add (local.get $dout) (local.get $p)))
                (f32x4.add (local.get $s)
                  (f32x4.mul (f32x4.mul (f32x4.mul (f32x4.splat (f32.const 1.702)) (local.get $x)) (local.get $s))
                             (f32x4.sub (local.get $one) (local.get $s)))))))
          (local.set $i (i32.add (local.get $i) (i32.const 4))))
        (else
          ;; the tail, one lane at a time through lane 0
          (local.set $x (v128.load32_splat (i32.add (local.get $inp) (local.get $p))))
          (local.set $s (f32x4.div (local.get $one) (f32x4.add (local.get $one)
            (call $exp4 (f32x4.mul (local.get $x) (f32x4.splat (f32.const -1.702)))))))
          (f32.store (i32.add (local.get $dinp) (local.get $p))
            (f32.add (f32.load (i32.add (local.get $dinp) (local.get $p)))
              (f32.mul (f32.load (i32.add (local.get $dout) (local.get $p)))
                (f32x4.extract_lane 0
                  (f32x4.add (local.get $s)
                    (f32x4.mul (f32x4.mul (f32x4.mul (f32x4.splat (f32.const 1.702)) (local.get $x)) (local.get $s))
                               (f32x4.sub (local.get $one) (local.get $s))))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))))
      (br $l1)))
  )
)
