//! The x86-64 kernels: SSE2 (always there) for the transposes, AVX2 (checked at run time) for the
//! multiply-adds.

use super::{LANES, Windows};
use std::arch::x86_64::*;

/// [`super::transpose_in`] for 16 columns at a time: 8 loads, 24 unpacks, 8 stores. Returns how
/// many columns it did; the caller does the rest.
#[target_feature(enable = "sse2")]
pub fn transpose_in(lanes: &[&[u8]; LANES], strip: &mut [[u8; LANES]]) -> usize {
    let done = strip.len() / 16 * 16;
    for (i, out) in strip[..done].chunks_exact_mut(16).enumerate() {
        let at = i * 16;
        let r: [__m128i; LANES] = std::array::from_fn(|k| {
            let bytes: &[u8; 16] = lanes[k][at..at + 16].try_into().expect("16 bytes");
            // SAFETY: `bytes` is 16 readable bytes; the load is unaligned.
            unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
        });
        // Pairs of rows, then quads, then all eight, column by column.
        let t = [
            _mm_unpacklo_epi8(r[0], r[1]),
            _mm_unpackhi_epi8(r[0], r[1]),
            _mm_unpacklo_epi8(r[2], r[3]),
            _mm_unpackhi_epi8(r[2], r[3]),
            _mm_unpacklo_epi8(r[4], r[5]),
            _mm_unpackhi_epi8(r[4], r[5]),
            _mm_unpacklo_epi8(r[6], r[7]),
            _mm_unpackhi_epi8(r[6], r[7]),
        ];
        let u = [
            _mm_unpacklo_epi16(t[0], t[2]),
            _mm_unpackhi_epi16(t[0], t[2]),
            _mm_unpacklo_epi16(t[1], t[3]),
            _mm_unpackhi_epi16(t[1], t[3]),
            _mm_unpacklo_epi16(t[4], t[6]),
            _mm_unpackhi_epi16(t[4], t[6]),
            _mm_unpacklo_epi16(t[5], t[7]),
            _mm_unpackhi_epi16(t[5], t[7]),
        ];
        let w = [
            _mm_unpacklo_epi32(u[0], u[4]),
            _mm_unpackhi_epi32(u[0], u[4]),
            _mm_unpacklo_epi32(u[1], u[5]),
            _mm_unpackhi_epi32(u[1], u[5]),
            _mm_unpacklo_epi32(u[2], u[6]),
            _mm_unpackhi_epi32(u[2], u[6]),
            _mm_unpacklo_epi32(u[3], u[7]),
            _mm_unpackhi_epi32(u[3], u[7]),
        ];
        for (pair, w) in out.chunks_exact_mut(2).zip(w) {
            // SAFETY: two groups are 16 writable bytes; the store is unaligned.
            unsafe { _mm_storeu_si128(pair.as_mut_ptr().cast(), w) };
        }
    }
    done
}

/// [`super::transpose_out`] for a full strip, 16 columns at a time. Returns how many columns it
/// did; the caller does the rest.
#[target_feature(enable = "sse2")]
pub fn transpose_out(strip: &[[u8; LANES]], rows: &mut [&mut [u8]; LANES]) -> usize {
    let len = rows
        .iter()
        .map(|r| r.len())
        .min()
        .unwrap_or(0)
        .min(strip.len());
    let done = len / 16 * 16;
    for (i, groups) in strip[..done].chunks_exact(16).enumerate() {
        // Each load holds two columns of all eight rows; interleaving its halves gives, per row,
        // the two columns as one 16-bit element. What is left is an 8x8 transpose of those.
        let s: [__m128i; LANES] = std::array::from_fn(|k| {
            // SAFETY: two groups are 16 readable bytes; the load is unaligned.
            let w = unsafe { _mm_loadu_si128(groups[2 * k..].as_ptr().cast()) };
            _mm_unpacklo_epi8(w, _mm_srli_si128::<8>(w))
        });
        let a = [
            _mm_unpacklo_epi16(s[0], s[1]),
            _mm_unpackhi_epi16(s[0], s[1]),
            _mm_unpacklo_epi16(s[2], s[3]),
            _mm_unpackhi_epi16(s[2], s[3]),
            _mm_unpacklo_epi16(s[4], s[5]),
            _mm_unpackhi_epi16(s[4], s[5]),
            _mm_unpacklo_epi16(s[6], s[7]),
            _mm_unpackhi_epi16(s[6], s[7]),
        ];
        let b = [
            _mm_unpacklo_epi32(a[0], a[2]),
            _mm_unpackhi_epi32(a[0], a[2]),
            _mm_unpacklo_epi32(a[1], a[3]),
            _mm_unpackhi_epi32(a[1], a[3]),
            _mm_unpacklo_epi32(a[4], a[6]),
            _mm_unpackhi_epi32(a[4], a[6]),
            _mm_unpacklo_epi32(a[5], a[7]),
            _mm_unpackhi_epi32(a[5], a[7]),
        ];
        let out = [
            _mm_unpacklo_epi64(b[0], b[4]),
            _mm_unpackhi_epi64(b[0], b[4]),
            _mm_unpacklo_epi64(b[1], b[5]),
            _mm_unpackhi_epi64(b[1], b[5]),
            _mm_unpacklo_epi64(b[2], b[6]),
            _mm_unpackhi_epi64(b[2], b[6]),
            _mm_unpacklo_epi64(b[3], b[7]),
            _mm_unpackhi_epi64(b[3], b[7]),
        ];
        for (row, v) in rows.iter_mut().zip(out) {
            let bytes: &mut [u8; 16] = (&mut row[i * 16..i * 16 + 16])
                .try_into()
                .expect("16 bytes");
            // SAFETY: `bytes` is 16 writable bytes; the store is unaligned.
            unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), v) };
        }
    }
    done
}

/// [`super::horizontal_strip_portable`] with one 8-lane multiply-add per tap and channel.
#[target_feature(enable = "avx2")]
pub fn horizontal_strip(strip: &[[u8; LANES]], windows: &Windows, out: &mut [[u8; LANES]]) {
    let half = _mm256_set1_epi32(windows.half());
    let shift = _mm_cvtsi32_si128(windows.precision as i32);
    // After the packs, lanes 0..4 sit in the first dword of each 128-bit half.
    let firsts = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);
    for (x, px) in out.chunks_exact_mut(3).enumerate() {
        let (min, weights) = windows.window(x);
        let input = &strip[min * 3..(min + weights.len()) * 3];
        let mut sums = [half; 3];
        for (pixel, &w) in input.chunks_exact(3).zip(weights) {
            let w = _mm256_set1_epi32(w);
            for (sum, group) in sums.iter_mut().zip(pixel) {
                // SAFETY: `group` is 8 readable bytes.
                let v = unsafe { _mm_loadl_epi64(group.as_ptr().cast()) };
                let v = _mm256_cvtepu8_epi32(v);
                *sum = _mm256_add_epi32(*sum, _mm256_mullo_epi32(v, w));
            }
        }
        for (o, sum) in px.iter_mut().zip(sums) {
            // clip8: the shift, then saturating packs to i16 and to u8.
            let v = _mm256_sra_epi32(sum, shift);
            let v = _mm256_packs_epi32(v, v);
            let v = _mm256_packus_epi16(v, v);
            let v = _mm256_permutevar8x32_epi32(v, firsts);
            *o = _mm_cvtsi128_si64(_mm256_castsi256_si128(v)).to_le_bytes();
        }
    }
}
