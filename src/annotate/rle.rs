//! `Rle`: COCO run-length encoding of a mask, the compact form datasets hold masks in.
//!
//! Encoding, decoding, the compressed `counts` string, polygon rasterization, area and bbox are
//! `hotcoco`'s, which follows pycocotools' `maskApi.c` (our tests check it against pycocotools itself).

use super::mask::Mask;

/// Why run-length data is not a valid mask.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RleError {
    #[error("size {height}x{width} is too large for COCO RLE (more than 2^32 pixels)")]
    TooLarge { height: u32, width: u32 },
    #[error("counts add up to {sum} pixels, but a {height}x{width} mask has {expected}")]
    WrongSum {
        sum: u64,
        expected: u64,
        height: u32,
        width: u32,
    },
    #[error("counts string is malformed: {0}")]
    BadString(String),
    #[error("polygon cannot be rasterized: {0}")]
    BadPolygon(String),
}

/// A binary mask as column-major runs, alternating background and foreground, starting with
/// background (pycocotools' layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rle {
    pub height: u32,
    pub width: u32,
    pub counts: Vec<u32>,
}

impl Rle {
    /// Encodes a mask (as `pycocotools.mask.encode` of the same pixels).
    pub fn from_mask(mask: &Mask) -> Self {
        let (w, h) = (mask.width() as usize, mask.height() as usize);
        let rows = mask.as_bytes();
        let mut column_major = vec![0u8; w * h];
        for (y, row) in rows.chunks_exact(w.max(1)).enumerate() {
            for (x, &v) in row.iter().enumerate() {
                column_major[x * h + y] = v;
            }
        }
        match hotcoco::mask::encode(&column_major, mask.height(), mask.width()) {
            Ok(rle) => Self::from_hotcoco(rle),
            // Only possible beyond 2^32 pixels, which no decodable image reaches.
            Err(_) => Self {
                height: mask.height(),
                width: mask.width(),
                counts: vec![],
            },
        }
    }

    /// Validates uncompressed counts (COCO's `{"size": [h, w], "counts": [..]}`).
    pub fn from_counts(height: u32, width: u32, counts: Vec<u32>) -> Result<Self, RleError> {
        let expected = u64::from(height) * u64::from(width);
        if expected > u64::from(u32::MAX) {
            return Err(RleError::TooLarge { height, width });
        }
        let sum: u64 = counts.iter().map(|&c| u64::from(c)).sum();
        if sum != expected {
            return Err(RleError::WrongSum {
                sum,
                expected,
                height,
                width,
            });
        }
        Ok(Self {
            height,
            width,
            counts,
        })
    }

    /// Parses a compressed counts string (pycocotools' LEB128-like format).
    pub fn from_string(height: u32, width: u32, counts: &str) -> Result<Self, RleError> {
        let rle = hotcoco::mask::rle_from_string(counts, height, width)
            .map_err(|e| RleError::BadString(e.to_string()))?;
        Self::from_counts(height, width, rle.counts)
    }

    /// Rasterizes polygons `[[x1, y1, x2, y2, ...], ...]` as pycocotools' `frPyObjects` + `merge` do.
    pub fn from_polygons(height: u32, width: u32, polygons: &[Vec<f64>]) -> Result<Self, RleError> {
        let rle = hotcoco::mask::fr_polys(polygons, height, width)
            .map_err(|e| RleError::BadPolygon(e.to_string()))?;
        Ok(Self::from_hotcoco(rle))
    }

    fn from_hotcoco(rle: hotcoco::Rle) -> Self {
        Self {
            height: rle.h,
            width: rle.w,
            counts: rle.counts,
        }
    }

    fn to_hotcoco(&self) -> hotcoco::Rle {
        hotcoco::Rle {
            h: self.height,
            w: self.width,
            counts: self.counts.clone(),
        }
    }

    /// The compressed counts string, byte-identical to `pycocotools.mask.encode`'s.
    pub fn to_compressed(&self) -> String {
        hotcoco::mask::rle_to_string(&self.to_hotcoco())
    }

    /// Decodes into a row-major mask.
    pub fn to_mask(&self) -> Mask {
        let (w, h) = (self.width as usize, self.height as usize);
        let mut mask = Mask::new(self.width, self.height);
        let mut index = 0usize;
        let mut inside = false;
        for &count in &self.counts {
            let end = (index + count as usize).min(w * h);
            if inside {
                for i in index..end {
                    mask.set((i / h) as u32, (i % h) as u32, true);
                }
            }
            index = end;
            inside = !inside;
        }
        mask
    }

    /// `pycocotools.mask.area`.
    pub fn area(&self) -> u64 {
        self.counts
            .iter()
            .skip(1)
            .step_by(2)
            .map(|&c| u64::from(c))
            .sum()
    }

    /// `pycocotools.mask.toBBox`: `[x, y, w, h]`.
    pub fn bbox(&self) -> [f64; 4] {
        hotcoco::mask::to_bbox(&self.to_hotcoco())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mask = Mask::from_fn(7, 5, |i| i % 4 == 1 || i == 34);
        let rle = Rle::from_mask(&mask);
        assert_eq!(rle.to_mask(), mask);
        assert_eq!(rle.area(), mask.area());
        let b = mask.bbox();
        assert_eq!(
            rle.bbox(),
            [b[0] as f64, b[1] as f64, b[2] as f64, b[3] as f64]
        );
        let back = Rle::from_string(5, 7, &rle.to_compressed()).unwrap();
        assert_eq!(back, rle);
    }

    #[test]
    fn wrong_sums_are_refused() {
        assert!(matches!(
            Rle::from_counts(2, 3, vec![1, 2, 2]),
            Err(RleError::WrongSum {
                sum: 5,
                expected: 6,
                ..
            })
        ));
        assert!(Rle::from_counts(2, 3, vec![1, 2, 3]).is_ok());
        assert!(Rle::from_string(2, 3, "1").is_err());
    }
}
