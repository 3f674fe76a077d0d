//! Outlines for formats that hold no holes and, for YOLO, one polygon per object: the mask's holes
//! filled, parts too small to matter left out (both reported), vertices on the boundary pixels.

use imageproc::contours::BorderType;

use super::contours;
use super::join::{Joined, Ring, join};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;

/// Parts of a YOLO outline smaller than this many pixels are dropped as specks (and reported).
pub const SPECK_PX: u64 = 10;

/// One object as YOLO segmentation holds it: one polygon, vertices at the centres of the boundary
/// pixels (Ultralytics rasterizes with `cv2.fillPoly` on coordinates truncated to integers, boundary
/// included, so that is what reproduces the pixels), the parts joined there and back along the
/// shortest links (see [`join`]); and what the format could not hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct YoloOutline {
    /// `[x1, y1, x2, y2, ...]` in pixels (not normalized).
    pub points: Vec<f64>,
    /// Holes filled (YOLO polygons have none): how many, and their pixels.
    pub holes: (usize, u64),
    /// Parts left out: under [`SPECK_PX`], or smaller than the line that would join them to the
    /// rest (which the rasterizer would draw): how many, and their pixels.
    pub specks: (usize, u64),
}

/// The YOLO outline of a mask; `None` for an empty one.
pub fn yolo_outline(rle: &Rle) -> Option<YoloOutline> {
    let FilledParts {
        parts,
        holes,
        specks,
    } = filled_parts(rle)?;
    let rings = parts
        .into_iter()
        .map(|p| Ring {
            points: p.points.iter().map(|&[x, y]| [x + 0.5, y + 0.5]).collect(),
            area: p.area,
        })
        .collect();
    let Joined {
        mut points,
        left_out,
    } = join(rings, true);
    // Fewer than three vertices would read as a box line; a one- or two-pixel part repeats them.
    while !points.is_empty() && points.len() < 3 {
        points.push(points[points.len() - 1]);
    }
    Some(YoloOutline {
        points: points.into_iter().flatten().collect(),
        holes,
        specks: (specks.0 + left_out.0, specks.1 + left_out.1),
    })
}

/// A mask as labelme polygons: one per part (labelme groups a multi-part object by `group_id`),
/// vertices on the boundary pixels (labelme's `shape_to_mask` fills with the outline included), at
/// least three each; holes filled and specks left out as for YOLO. `None` for an empty mask.
pub fn labelme_polygons(rle: &Rle) -> Option<Outlines> {
    let FilledParts {
        parts,
        holes,
        specks,
    } = filled_parts(rle)?;
    let polygons = parts
        .into_iter()
        .map(|p| {
            let mut points = p.points;
            while points.len() < 3 {
                points.push(points[points.len() - 1]);
            }
            points
        })
        .collect();
    Some(Outlines {
        polygons,
        holes,
        specks,
    })
}

/// A mask as separate polygons, and what they could not hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Outlines {
    /// `[[x, y], ...]` per part, in pixels.
    pub polygons: Vec<Vec<[f64; 2]>>,
    /// Holes filled: how many, and their pixels.
    pub holes: (usize, u64),
    /// Parts under [`SPECK_PX`] left out: how many, and their pixels.
    pub specks: (usize, u64),
}

/// A hole-filled mask's parts, and what filling and leaving out specks changed.
struct FilledParts {
    /// Largest first; boundary pixels in pixel coordinates.
    parts: Vec<Part>,
    holes: (usize, u64),
    specks: (usize, u64),
}

/// The parts of a mask with its holes filled, as their boundary pixels (pixel coordinates), largest
/// first; the holes (how many, pixels) and the parts under [`SPECK_PX`] left out (how many, pixels).
/// `None` for an empty mask.
fn filled_parts(rle: &Rle) -> Option<FilledParts> {
    if rle.area() == 0 {
        return None;
    }
    let mask = rle.to_mask();
    let (filled, holes) = fill_holes(&mask);
    let gray = filled.to_gray();
    let labels = imageproc::region_labelling::connected_components(
        &gray,
        imageproc::region_labelling::Connectivity::Eight,
        image::Luma([0u8]),
    );
    let mut sizes = vec![0u64; 1];
    for label in labels.pixels() {
        let l = label.0[0] as usize;
        if l >= sizes.len() {
            sizes.resize(l + 1, 0);
        }
        sizes[l] += 1;
    }
    let mut specks = (0usize, 0u64);
    let mut parts: Vec<Part> = Vec::new();
    for contour in contours(&filled) {
        if contour.border_type != BorderType::Outer {
            continue;
        }
        let Some(first) = contour.points.first() else {
            continue;
        };
        let size = sizes[labels.get_pixel(first.x as u32, first.y as u32).0[0] as usize];
        if size < SPECK_PX {
            specks.0 += 1;
            specks.1 += size;
            continue;
        }
        parts.push(Part {
            points: contour
                .points
                .iter()
                .map(|p| [f64::from(p.x), f64::from(p.y)])
                .collect(),
            area: size,
        });
    }
    parts.sort_by_key(|p| std::cmp::Reverse(p.area));
    Some(FilledParts {
        parts,
        holes,
        specks,
    })
}

/// `mask` with every background region that does not reach the border filled (4-connected
/// background, as the 8-connected foreground's holes are), and (how many, how many pixels).
pub(super) fn fill_holes(mask: &Mask) -> (Mask, (usize, u64)) {
    let (w, h) = (mask.width() as usize, mask.height() as usize);
    // 0 = background not reached (yet), 1 = foreground, 2 = background reached from the border,
    // 3 = a hole.
    let mut state: Vec<u8> = mask.as_bytes().iter().map(|&v| u8::from(v != 0)).collect();
    let border: Vec<usize> = (0..w)
        .flat_map(|x| [x, (h - 1) * w + x])
        .chain((0..h).flat_map(|y| [y * w, y * w + w - 1]))
        .collect();
    flood(&mut state, (w, h), border, 2);
    let mut holes = (0usize, 0u64);
    for start in 0..state.len() {
        if state[start] == 0 {
            holes.0 += 1;
            holes.1 += flood(&mut state, (w, h), vec![start], 3);
        }
    }
    let filled = Mask::from_fn(w as u32, h as u32, |i| state[i] != 2);
    (filled, holes)
}

/// Marks the 4-connected region of unreached (0) pixels around `starts` with `mark`; how many.
fn flood(state: &mut [u8], (w, h): (usize, usize), mut stack: Vec<usize>, mark: u8) -> u64 {
    let mut count = 0;
    while let Some(i) = stack.pop() {
        if state[i] != 0 {
            continue;
        }
        state[i] = mark;
        count += 1;
        let (x, y) = (i % w, i / w);
        if x > 0 {
            stack.push(i - 1);
        }
        if x + 1 < w {
            stack.push(i + 1);
        }
        if y > 0 {
            stack.push(i - w);
        }
        if y + 1 < h {
            stack.push(i + w);
        }
    }
    count
}

/// One connected part of a mask: its boundary pixels' centres and its pixels.
struct Part {
    points: Vec<[f64; 2]>,
    area: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yolo_outline_fills_holes_drops_specks_and_reaches_the_border() {
        // A ring touching the image's left edge, and a 2-pixel speck.
        let mask = Mask::from_fn(20, 12, |i| {
            let (x, y) = (i % 20, i / 20);
            let ring =
                x < 8 && (1..9).contains(&y) && !((2..5).contains(&x) && (3..6).contains(&y));
            ring || (y == 10 && (15..17).contains(&x))
        });
        let outline = yolo_outline(&Rle::from_mask(&mask)).unwrap();
        assert_eq!(outline.holes, (1, 9));
        assert_eq!(outline.specks, (1, 2));
        // Pixel centres of the 8x8 square's boundary, from x = 0.5 (the left edge).
        let xs: Vec<f64> = outline.points.chunks(2).map(|p| p[0]).collect();
        let ys: Vec<f64> = outline.points.chunks(2).map(|p| p[1]).collect();
        assert_eq!(xs.iter().copied().fold(f64::INFINITY, f64::min), 0.5);
        assert_eq!(xs.iter().copied().fold(0.0, f64::max), 7.5);
        assert_eq!(ys.iter().copied().fold(f64::INFINITY, f64::min), 1.5);
        assert_eq!(ys.iter().copied().fold(0.0, f64::max), 8.5);
        assert!(yolo_outline(&Rle::from_mask(&Mask::new(4, 4))).is_none());
    }
}
