//! Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit RGB, byte for byte, on all cores.
//!
//! `SamPredictor` resizes with Pillow, so any other resize moves the masks (a one-level difference on
//! some pixels already costs IoU 0.997 on photos). This module computes exactly what Pillow's
//! `Resample.c` computes: the same double-precision filter windows, the same 22-bit fixed-point
//! weights, two passes (horizontal then vertical, or the other way round where Pillow 13 does so)
//! with the result rounded to 8 bits in between. Integer sums do not depend on the order of their
//! terms, so each pass is free to run in whatever order is fast:
//!
//! - the horizontal pass works on strips of [`LANES`] rows, transposed so that one vector holds the
//!   same column of every row in the strip; each tap is then one widening multiply-add for all of them;
//! - the vertical pass accumulates whole rows, which is contiguous and vectorizes as it is;
//! - the output rows are split into one band per core, and each band runs both passes for the input
//!   rows it needs (the few rows two bands share are computed twice), so the threads never wait for
//!   each other.
//!
//! The kernels are plain Rust that the compiler vectorizes; on x86-64 the same code is also compiled
//! for AVX2 and picked at run time.

/// Fixed-point precision of Pillow's 8-bit resampling (`32 - 8 - 2`).
const PILLOW_PRECISION_BITS: u32 = 22;
/// Rows per strip of the horizontal pass: one 256-bit vector of `i32`.
const LANES: usize = 8;

/// Whose 8-bit bilinear resize to reproduce. Both are Pillow's algorithm; they differ in the
/// fixed-point precision of the weights and in the order of the two passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Pillow 13's `Image.resize(size, BILINEAR)`: 22-bit weights; vertical pass first for images
    /// taller than 2:1 (see [`vertical_first`]).
    Pillow,
    /// torch's CPU `interpolate(mode="bilinear", antialias=True)` on a `uint8` tensor (what
    /// torchvision's `v2.Resize` runs on `uint8` images, `UpSampleKernelAVXAntialias.h`): int16
    /// weights with as many fraction bits as the largest weight of the axis allows (at most 22),
    /// always horizontal first.
    TorchUint8,
}

/// Pillow's filter windows along one axis: for each output index, the first input index and the
/// fixed-point weights of the inputs from there on.
#[derive(Debug)]
struct Windows {
    /// `(first input index, number of taps)` per output index.
    bounds: Vec<(usize, usize)>,
    /// `out_len x taps` fixed-point weights; the unused tail of each window is zero.
    weights: Vec<i32>,
    taps: usize,
    /// Fraction bits of the fixed-point weights.
    precision: u32,
}

impl Windows {
    /// Pillow's `precompute_coeffs` for the bilinear (triangle) filter, then
    /// `normalize_coeffs_8bpc`: the same double-precision arithmetic, operation for operation.
    fn bilinear(in_len: usize, out_len: usize, flavor: Flavor) -> Self {
        let scale = in_len as f64 / out_len as f64;
        let filter_scale = scale.max(1.0);
        // The triangle filter's support is 1; it grows with the downscale factor, which is what
        // makes shrinking antialiased.
        let support = filter_scale;
        let taps = support.ceil() as usize * 2 + 1;
        let inverse_scale = 1.0 / filter_scale;
        let mut bounds = Vec::with_capacity(out_len);
        let mut normalized = vec![0.0f64; out_len * taps];
        for (out, k) in normalized.chunks_exact_mut(taps).enumerate() {
            let center = (out as f64 + 0.5) * scale;
            // C's `(int)` truncates toward zero; a negative start is clamped to 0 right after.
            let min = ((center - support + 0.5) as i64).max(0) as usize;
            let max = ((center + support + 0.5) as i64).min(in_len as i64) as usize;
            let n = max.saturating_sub(min);
            let mut total = 0.0;
            for (x, kx) in k[..n].iter_mut().enumerate() {
                let t = ((x + min) as f64 - center + 0.5) * inverse_scale;
                *kx = (1.0 - t.abs()).max(0.0);
                total += *kx;
            }
            if total != 0.0 {
                k[..n].iter_mut().for_each(|kx| *kx /= total);
            }
            bounds.push((min, n));
        }
        let precision = match flavor {
            Flavor::Pillow => PILLOW_PRECISION_BITS,
            Flavor::TorchUint8 => torch_int16_precision(&normalized),
        };
        let weights = normalized
            .iter()
            .map(|&w| {
                let scaled = w * f64::from(1u32 << precision);
                if scaled < 0.0 {
                    (-0.5 + scaled) as i32
                } else {
                    (0.5 + scaled) as i32
                }
            })
            .collect();
        Self {
            bounds,
            weights,
            taps,
            precision,
        }
    }

    /// The rounding offset every sum starts from.
    fn half(&self) -> i32 {
        1 << (self.precision - 1)
    }

    fn window(&self, out: usize) -> (usize, &[i32]) {
        let (min, n) = self.bounds[out];
        (min, &self.weights[out * self.taps..][..n])
    }

    /// The input indices that output indices `range` read, as `first..end`.
    fn inputs_of(&self, range: std::ops::Range<usize>) -> std::ops::Range<usize> {
        if range.is_empty() {
            return 0..0;
        }
        let first = self.bounds[range.start].0;
        let (last_min, last_n) = self.bounds[range.end - 1];
        first..(last_min + last_n).max(first)
    }
}

/// torch's `_compute_indices_int16_weights_aa`: the most fraction bits (below 22) for which the
/// largest weight, with one more bit, still fits in an `i16`.
fn torch_int16_precision(weights: &[f64]) -> u32 {
    let max = weights.iter().copied().fold(weights[0], f64::max);
    (0..22)
        .find(|&p| (0.5 + max * f64::from(1u32 << (p + 1))) as i32 >= 1 << 15)
        .unwrap_or(22)
}

/// `(acc >> precision)` clamped to a byte: Pillow's `clip8`.
#[inline(always)]
fn clip8(acc: i32, precision: u32) -> u8 {
    (acc >> precision).clamp(0, 255) as u8
}

/// Work buffers of one thread, kept between images so that resizing allocates nothing after the
/// first image of a size.
#[derive(Default)]
pub struct Scratch {
    /// The rows between the two passes: the band's input rows resized horizontally, or the band's
    /// rows resized vertically when that pass runs first.
    rows: Vec<u8>,
    /// One strip of input rows, transposed: `in_w * 3` groups of [`LANES`] bytes.
    strip: Vec<[u8; LANES]>,
    /// One strip of horizontally resized rows, transposed: `out_w * 3` groups.
    strip_out: Vec<[u8; LANES]>,
    /// One output row's sums in the vertical pass.
    sums: Vec<i32>,
}

/// Resizes `src` (`in_w x in_h` RGB, rows packed) to `out_w x out_h` into `dst`, exactly as Pillow's
/// `Image.resize((out_w, out_h), Image.BILINEAR)`, on up to `threads` threads. `scratch` holds one
/// entry per thread and grows as needed.
///
/// # Panics
/// If `src` is shorter than `in_w * in_h * 3` bytes or `dst` than `out_w * out_h * 3` (callers size
/// both from the same dimensions).
pub fn resize_rgb(
    src: &[u8],
    (in_w, in_h): (usize, usize),
    dst: &mut [u8],
    (out_w, out_h): (usize, usize),
    flavor: Flavor,
    threads: usize,
    scratch: &mut Vec<Scratch>,
) {
    let (in_stride, out_stride) = (in_w * 3, out_w * 3);
    let src = &src[..in_stride * in_h];
    let dst = &mut dst[..out_stride * out_h];
    if out_stride == 0 || out_h == 0 {
        return;
    }
    let horizontal = (in_w != out_w).then(|| Windows::bilinear(in_w, out_w, flavor));
    let vertical = Windows::bilinear(in_h, out_h, flavor);

    let threads = threads.clamp(1, out_h);
    let band = out_h.div_ceil(threads);
    scratch.resize_with(threads.max(scratch.len()), Scratch::default);
    let job = Job {
        src,
        in_stride,
        out_stride,
        horizontal: horizontal.as_ref(),
        vertical: &vertical,
        vertical_first: flavor == Flavor::Pillow && vertical_first((in_w, in_h), (out_w, out_h)),
    };
    let mut bands = dst
        .chunks_mut(band * out_stride)
        .zip(scratch.iter_mut())
        .enumerate();
    std::thread::scope(|scope| {
        // The calling thread takes the first band itself.
        let first = bands.next();
        for (b, (out, scratch)) in bands {
            let job = &job;
            scope.spawn(move || job.band(b * band, out, scratch));
        }
        if let Some((_, (out, scratch))) = first {
            job.band(0, out, scratch);
        }
    });
}

/// Pillow 13's order of the passes (`ImagingResampleInner`): vertical first when the height shrinks
/// by more than twice as many pixels as the width does.
fn vertical_first((in_w, in_h): (usize, usize), (out_w, out_h): (usize, usize)) -> bool {
    let shrink = |from: usize, to: usize| from as i64 - to as i64;
    let (dx, dy) = (shrink(in_w, out_w), shrink(in_h, out_h));
    dy > 0 && dy > 2 * dx
}

/// What every band of one resize shares.
struct Job<'a> {
    src: &'a [u8],
    in_stride: usize,
    out_stride: usize,
    /// `None` when the width does not change (Pillow skips that pass; it would be the identity).
    horizontal: Option<&'a Windows>,
    vertical: &'a Windows,
    /// See [`vertical_first`]: the rounding to 8 bits between the passes makes the order visible in
    /// the bytes.
    vertical_first: bool,
}

impl Job<'_> {
    /// Output rows `first_y..` (as many as `out` holds), both passes in Pillow's order.
    fn band(&self, first_y: usize, out: &mut [u8], scratch: &mut Scratch) {
        let ys = first_y..first_y + out.len() / self.out_stride;
        let inputs = self.vertical.inputs_of(ys.clone());
        let src = &self.src[inputs.start * self.in_stride..inputs.end * self.in_stride];
        let Scratch {
            rows,
            strip,
            strip_out,
            sums,
        } = scratch;
        match self.horizontal {
            None => vertical_pass(src, inputs.start, self.vertical, ys, out, sums),
            Some(horizontal) if self.vertical_first => {
                rows.resize(ys.len() * self.in_stride, 0);
                vertical_pass(src, inputs.start, self.vertical, ys, rows, sums);
                let stride = (self.in_stride, self.out_stride);
                horizontal_pass(rows, out, stride, horizontal, strip, strip_out);
            }
            Some(horizontal) => {
                rows.resize(inputs.len() * self.out_stride, 0);
                let stride = (self.in_stride, self.out_stride);
                horizontal_pass(src, rows, stride, horizontal, strip, strip_out);
                vertical_pass(rows, inputs.start, self.vertical, ys, out, sums);
            }
        }
    }
}

/// The vertical pass for output rows `ys` into `dst`: `src` holds the input rows from `first_row`
/// on, each as long as an output row.
fn vertical_pass(
    src: &[u8],
    first_row: usize,
    windows: &Windows,
    ys: std::ops::Range<usize>,
    dst: &mut [u8],
    sums: &mut Vec<i32>,
) {
    let stride = dst.len() / ys.len().max(1);
    sums.resize(stride, 0);
    for (y, out_row) in ys.zip(dst.chunks_exact_mut(stride.max(1))) {
        let (min, weights) = windows.window(y);
        let taps = weights.iter().enumerate().map(|(j, &w)| {
            let at = (min - first_row + j) * stride;
            (&src[at..at + stride], w)
        });
        vertical_row(taps, (windows.half(), windows.precision), sums, out_row);
    }
}

/// The horizontal pass over whole rows: `src` rows of `in_stride` bytes into `dst` rows of
/// `out_stride` bytes, [`LANES`] rows at a time.
fn horizontal_pass(
    src: &[u8],
    dst: &mut [u8],
    (in_stride, out_stride): (usize, usize),
    windows: &Windows,
    strip: &mut Vec<[u8; LANES]>,
    strip_out: &mut Vec<[u8; LANES]>,
) {
    strip.resize(in_stride, [0; LANES]);
    strip_out.resize(out_stride, [0; LANES]);
    for (src, dst) in src
        .chunks(in_stride * LANES)
        .zip(dst.chunks_mut(out_stride * LANES))
    {
        let rows: Vec<&[u8]> = src.chunks_exact(in_stride).collect();
        transpose_in(&rows, strip);
        horizontal_strip(strip, windows, strip_out);
        transpose_out(strip_out, dst, out_stride);
    }
}

/// Interleaves up to [`LANES`] rows into `strip` (`strip[i][r] = rows[r][i]`); missing rows repeat
/// the first one, and their results are dropped.
fn transpose_in(rows: &[&[u8]], strip: &mut [[u8; LANES]]) {
    let row = |r: usize| rows.get(r).unwrap_or(&rows[0]);
    let lanes: [&[u8]; LANES] = std::array::from_fn(|r| &row(r)[..strip.len()]);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: every x86-64 CPU has SSE2.
    let done = unsafe { x86::transpose_in(&lanes, strip) };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (i, group) in strip.iter_mut().enumerate().skip(done) {
        *group = std::array::from_fn(|r| lanes[r][i]);
    }
}

/// Writes the strip's rows back out (`dst` holds up to [`LANES`] rows of `stride` bytes).
fn transpose_out(strip: &[[u8; LANES]], dst: &mut [u8], stride: usize) {
    let mut rows: Vec<&mut [u8]> = dst.chunks_exact_mut(stride).collect();
    #[cfg(target_arch = "x86_64")]
    let done = match <&mut [&mut [u8]; LANES]>::try_from(rows.as_mut_slice()) {
        // SAFETY: every x86-64 CPU has SSE2.
        Ok(full) => unsafe { x86::transpose_out(strip, full) },
        Err(_) => 0,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    for (r, row) in rows.iter_mut().enumerate() {
        for (o, group) in row.iter_mut().zip(strip).skip(done) {
            *o = group[r];
        }
    }
}

/// Every output column of one strip: for each output pixel, the weighted sum of its window of input
/// pixels, all [`LANES`] rows at once.
fn horizontal_strip(strip: &[[u8; LANES]], windows: &Windows, out: &mut [[u8; LANES]]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, which is all the function's target feature asks for.
        return unsafe { x86::horizontal_strip(strip, windows, out) };
    }
    horizontal_strip_portable(strip, windows, out);
}

#[inline(always)]
fn horizontal_strip_portable(strip: &[[u8; LANES]], windows: &Windows, out: &mut [[u8; LANES]]) {
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        let (min, weights) = windows.window(x);
        let mut sums = [[windows.half(); LANES]; 3];
        for (input, &w) in strip[min * 3..].chunks_exact(3).zip(weights) {
            for (sum, channel) in sums.iter_mut().zip(input) {
                for (s, &v) in sum.iter_mut().zip(channel) {
                    *s += i32::from(v) * w;
                }
            }
        }
        for (o, sum) in px.iter_mut().zip(&sums) {
            *o = sum.map(|s| clip8(s, windows.precision));
        }
    }
}

/// One output row of the vertical pass: the weighted sum of whole rows, accumulated row by row so
/// that the inner loop runs over contiguous memory.
fn vertical_row<'a>(
    taps: impl Iterator<Item = (&'a [u8], i32)>,
    fixed: (i32, u32),
    sums: &mut [i32],
    out: &mut [u8],
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: as in `horizontal_strip`.
        return unsafe { vertical_row_avx2(taps, fixed, sums, out) };
    }
    vertical_row_portable(taps, fixed, sums, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn vertical_row_avx2<'a>(
    taps: impl Iterator<Item = (&'a [u8], i32)>,
    fixed: (i32, u32),
    sums: &mut [i32],
    out: &mut [u8],
) {
    vertical_row_portable(taps, fixed, sums, out);
}

#[inline(always)]
fn vertical_row_portable<'a>(
    taps: impl Iterator<Item = (&'a [u8], i32)>,
    (half, precision): (i32, u32),
    sums: &mut [i32],
    out: &mut [u8],
) {
    sums.fill(half);
    for (row, w) in taps {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += i32::from(v) * w;
        }
    }
    for (o, &s) in out.iter_mut().zip(sums.iter()) {
        *o = clip8(s, precision);
    }
}

/// The x86-64 kernels: SSE2 (always there) for the transposes, AVX2 (checked at run time) for the
/// multiply-adds.
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests {
    use super::*;

    /// The scalar definition, tap by tap, as `Resample.c` writes it: one pass over one axis.
    fn pass(
        src: &[u8],
        (w, h): (usize, usize),
        out_len: usize,
        along_x: bool,
        flavor: Flavor,
    ) -> Vec<u8> {
        let (in_len, other) = if along_x { (w, h) } else { (h, w) };
        if in_len == out_len {
            return src.to_vec();
        }
        let windows = Windows::bilinear(in_len, out_len, flavor);
        let at = |o: usize, i: usize, c: usize| {
            let (x, y) = if along_x { (i, o) } else { (o, i) };
            src[(y * w + x) * 3 + c]
        };
        let mut out = vec![0; out_len * other * 3];
        for o in 0..other {
            for i in 0..out_len {
                let (min, k) = windows.window(i);
                for c in 0..3 {
                    let acc = k.iter().enumerate().fold(windows.half(), |acc, (j, &k)| {
                        acc + i32::from(at(o, min + j, c)) * k
                    });
                    let (x, y) = if along_x { (i, o) } else { (o, i) };
                    let out_w = if along_x { out_len } else { w };
                    out[(y * out_w + x) * 3 + c] = clip8(acc, windows.precision);
                }
            }
        }
        out
    }

    fn reference(
        src: &[u8],
        (in_w, in_h): (usize, usize),
        (out_w, out_h): (usize, usize),
        flavor: Flavor,
    ) -> Vec<u8> {
        if flavor == Flavor::Pillow && vertical_first((in_w, in_h), (out_w, out_h)) {
            let temp = pass(src, (in_w, in_h), out_h, false, flavor);
            pass(&temp, (in_w, out_h), out_w, true, flavor)
        } else {
            let temp = pass(src, (in_w, in_h), out_w, true, flavor);
            pass(&temp, (out_w, in_h), out_h, false, flavor)
        }
    }

    fn noise(w: usize, h: usize) -> Vec<u8> {
        (0..w * h * 3)
            .map(|i| {
                let x = (i as u32).wrapping_mul(2_654_435_761);
                (x ^ (x >> 15)) as u8
            })
            .collect()
    }

    #[test]
    fn fast_paths_equal_the_scalar_definition() {
        let sizes = [
            ((7, 5), (3, 2)),
            ((7, 5), (11, 9)),
            ((37, 23), (10, 6)),
            ((20, 33), (20, 7)),
            ((33, 20), (9, 20)),
            ((1, 40), (1, 17)),
            ((300, 17), (64, 4)),
            ((3, 500), (1, 102)),
            ((40, 300), (45, 50)),
            ((97, 199), (79, 162)),
            ((117, 210), (78, 137)),
            ((5, 5), (5, 5)),
        ];
        let flavors = [Flavor::Pillow, Flavor::TorchUint8];
        for (((in_w, in_h), (out_w, out_h)), flavor) in
            sizes.into_iter().flat_map(|s| flavors.map(|f| (s, f)))
        {
            let src = noise(in_w, in_h);
            let expected = reference(&src, (in_w, in_h), (out_w, out_h), flavor);
            for threads in [1, 2, 3, 16] {
                let mut dst = vec![0; out_w * out_h * 3];
                let mut scratch = Vec::new();
                resize_rgb(
                    &src,
                    (in_w, in_h),
                    &mut dst,
                    (out_w, out_h),
                    flavor,
                    threads,
                    &mut scratch,
                );
                assert_eq!(
                    dst, expected,
                    "{in_w}x{in_h} -> {out_w}x{out_h}, {flavor:?}, {threads} threads"
                );
            }
        }
    }

    #[test]
    fn portable_kernels_equal_the_dispatched_ones() {
        let windows = Windows::bilinear(50, 13, Flavor::TorchUint8);
        // 50 pixels x 3 channels, LANES rows each.
        let strip: Vec<[u8; LANES]> = noise(50 * LANES, 1)
            .chunks_exact(LANES)
            .map(|c| c.try_into().unwrap())
            .collect();
        let (mut a, mut b) = (vec![[0; LANES]; 39], vec![[0; LANES]; 39]);
        horizontal_strip(&strip, &windows, &mut a);
        horizontal_strip_portable(&strip, &windows, &mut b);
        assert_eq!(a, b);
    }

    #[test]
    fn pass_order_is_pillows() {
        // Pillow 13.0 picks vertical first for the first three, horizontal first for the rest.
        assert!(vertical_first((3, 5000), (1, 1024)));
        assert!(vertical_first((97, 199), (79, 162)));
        assert!(vertical_first((100, 200), (120, 100)));
        assert!(!vertical_first((117, 210), (78, 137)));
        assert!(!vertical_first((4000, 2667), (1024, 683)));
        assert!(!vertical_first((100, 200), (50, 300)));
    }

    #[test]
    fn windows_have_pillows_size_and_sum() {
        // 7 -> 3: support 7/3, so ksize 7; the weights of a window sum to 1.0 in 22-bit fixed point.
        let w = Windows::bilinear(7, 3, Flavor::Pillow);
        assert_eq!(w.taps, 7);
        let sum: i32 = w.window(1).1.iter().sum();
        assert!((sum - (1 << PILLOW_PRECISION_BITS)).abs() <= 2, "{sum}");
    }

    #[test]
    fn torch_weights_fit_in_i16() {
        // The most bits for which the largest weight still fits with one bit to spare: upscaling
        // leaves 14 or 15, shrinking (small weights) more.
        for ((from, to), bits) in [((3, 10), 14..=15), ((4000, 1008), 16..=22)] {
            let w = Windows::bilinear(from, to, Flavor::TorchUint8);
            let max = *w.weights.iter().max().unwrap();
            assert!(bits.contains(&w.precision), "{from}->{to}: {}", w.precision);
            assert!(
                max < 1 << 15 && 2 * max >= (1 << 15) - 1,
                "{from}->{to}: {max}"
            );
        }
    }
}
