//! `Mask`: a binary mask at image resolution, with the COCO measures (area, bbox) and PNG I/O.
//!
//! This is the working form of one mask (one byte per pixel, row-major); datasets store masks
//! compactly as RLE.

use image::GrayImage;

/// A binary mask in image space.
#[derive(Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    /// Row-major, one byte per pixel: 1 inside, 0 outside.
    data: Vec<u8>,
}

impl std::fmt::Debug for Mask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Mask({}x{}, area {})",
            self.width,
            self.height,
            self.area()
        )
    }
}

impl Mask {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            data: vec![0; width as usize * height as usize],
        }
    }

    /// Builds a mask from a predicate over the row-major pixel index.
    pub fn from_fn(width: u32, height: u32, inside: impl Fn(usize) -> bool) -> Self {
        let n = width as usize * height as usize;
        Self {
            width,
            height,
            data: (0..n).map(|i| u8::from(inside(i))).collect(),
        }
    }

    /// A mask from row-major bytes, 1 inside and 0 outside (the form `as_bytes` gives). Missing bytes
    /// are outside, extra ones dropped.
    pub fn from_bits(width: u32, height: u32, mut data: Vec<u8>) -> Self {
        debug_assert!(data.iter().all(|&v| v <= 1), "mask bytes are 0 or 1");
        data.resize(width as usize * height as usize, 0);
        Self {
            width,
            height,
            data,
        }
    }

    /// Pixels above 127 are inside.
    pub fn from_gray(image: &GrayImage) -> Self {
        Self {
            width: image.width(),
            height: image.height(),
            data: image.as_raw().iter().map(|&v| u8::from(v > 127)).collect(),
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.data[y as usize * self.width as usize + x as usize] != 0
    }

    pub fn set(&mut self, x: u32, y: u32, inside: bool) {
        if x < self.width && y < self.height {
            self.data[y as usize * self.width as usize + x as usize] = u8::from(inside);
        }
    }

    /// Row-major bytes, 1 inside and 0 outside.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Number of pixels inside (COCO `area` of a mask).
    pub fn area(&self) -> u64 {
        self.data.iter().map(|&v| u64::from(v)).sum()
    }

    /// COCO bbox `[x, y, w, h]` of the pixels inside, as `pycocotools.mask.toBBox` gives it;
    /// all zeros for an empty mask.
    pub fn bbox(&self) -> [u32; 4] {
        let w = self.width as usize;
        let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
        for (y, row) in self.data.chunks_exact(w.max(1)).enumerate() {
            if let Some(first) = row.iter().position(|&v| v != 0) {
                let last = row.iter().rposition(|&v| v != 0).unwrap_or(first);
                x0 = x0.min(first);
                x1 = x1.max(last);
                y0 = y0.min(y);
                y1 = y;
            }
        }
        if x0 == usize::MAX {
            return [0; 4];
        }
        [
            x0 as u32,
            y0 as u32,
            (x1 - x0 + 1) as u32,
            (y1 - y0 + 1) as u32,
        ]
    }

    /// Intersection over union with another mask of the same size (1 when both are empty).
    pub fn iou(&self, other: &Mask) -> f64 {
        assert_eq!(
            (self.width, self.height),
            (other.width, other.height),
            "mask sizes differ"
        );
        let (mut inter, mut union) = (0u64, 0u64);
        for (&a, &b) in self.data.iter().zip(&other.data) {
            inter += u64::from(a & b);
            union += u64::from(a | b);
        }
        if union == 0 {
            1.0
        } else {
            inter as f64 / union as f64
        }
    }

    /// Paints (or erases) a round brush along the segment `from → to`, in image pixels.
    pub fn paint_segment(&mut self, from: [f32; 2], to: [f32; 2], radius: f32, inside: bool) {
        let length = ((to[0] - from[0]).powi(2) + (to[1] - from[1]).powi(2)).sqrt();
        let steps = (length / (radius * 0.5).max(0.5)).ceil().max(1.0) as usize;
        for s in 0..=steps {
            let t = s as f32 / steps as f32;
            let cx = from[0] + (to[0] - from[0]) * t;
            let cy = from[1] + (to[1] - from[1]) * t;
            let (x0, x1) = (
                (cx - radius).floor().max(0.0) as u32,
                (cx + radius).ceil().max(0.0) as u32,
            );
            let (y0, y1) = (
                (cy - radius).floor().max(0.0) as u32,
                (cy + radius).ceil().max(0.0) as u32,
            );
            for y in y0..=y1.min(self.height().saturating_sub(1)) {
                for x in x0..=x1.min(self.width().saturating_sub(1)) {
                    let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                    if dx * dx + dy * dy <= radius * radius {
                        self.set(x, y, inside);
                    }
                }
            }
        }
    }

    /// 8-bit image: 255 inside, 0 outside.
    pub fn to_gray(&self) -> GrayImage {
        GrayImage::from_raw(
            self.width,
            self.height,
            self.data.iter().map(|&v| v * 255).collect(),
        )
        .expect("buffer size matches dimensions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brush_paints_and_erases() {
        let mut mask = Mask::new(20, 20);
        mask.paint_segment([5.0, 10.0], [15.0, 10.0], 2.0, true);
        assert!(mask.get(10, 10) && mask.get(5, 10) && !mask.get(10, 15));
        mask.paint_segment([10.0, 10.0], [10.0, 10.0], 1.0, false);
        assert!(!mask.get(10, 10) && mask.get(6, 10));
    }

    #[test]
    fn area_and_bbox_like_pycocotools() {
        let mut m = Mask::new(5, 4);
        assert_eq!(m.bbox(), [0, 0, 0, 0]);
        m.set(1, 2, true);
        m.set(3, 1, true);
        assert_eq!(m.area(), 2);
        assert_eq!(m.bbox(), [1, 1, 3, 2]);
        let mut single = Mask::new(5, 4);
        single.set(4, 3, true);
        assert_eq!(single.bbox(), [4, 3, 1, 1]);
    }

    #[test]
    fn gray_round_trip_and_iou() {
        let m = Mask::from_fn(4, 4, |i| i % 3 == 0);
        let back = Mask::from_gray(&m.to_gray());
        assert_eq!(m, back);
        assert_eq!(m.iou(&back), 1.0);
        assert_eq!(m.iou(&Mask::new(4, 4)), 0.0);
    }
}
