//! Mask → COCO polygons: one polygon per connected outer contour, traced along pixel edges, and kept
//! only when it reproduces the mask (pycocotools' rasterization) within 1% IoU.

use imageproc::contours::{BorderType, find_contours};

use imageproc::geometry::approximate_polygon_dp;
use imageproc::point::Point;

use super::mask::Mask;
use super::rle::Rle;

mod join;
mod outline;

use outline::fill_holes;
pub use outline::{Outlines, SPECK_PX, YoloOutline, labelme_polygons, yolo_outline};

/// Polygons may change the mask by at most this much (1 - IoU).
pub const MAX_POLYGON_LOSS: f64 = 0.01;

/// Douglas-Peucker tolerance in pixels: drops staircase vertices, keeps the shape.
const SIMPLIFY_EPSILON: f64 = 0.5;

/// What became of a mask asked to be polygons.
#[derive(Clone, Debug, PartialEq)]
pub enum PolygonResult {
    /// `[[x1, y1, x2, y2, ...], ...]` in COCO pixel coordinates (pixel `i` spans `[i, i + 1]`).
    Polygons(Vec<Vec<f64>>),
    /// The mask has holes, which COCO polygons cannot express.
    Holes,
    /// The polygons would change the mask too much (thin or tiny parts); the IoU they would reach.
    Lossy(f64),
    /// An empty mask has no polygon.
    Empty,
}

/// The contours of a mask (imageproc's Suzuki-Abe tracing), with the mask framed by one pixel of
/// background first: imageproc finds no outer border along the image's edges, so a part touching
/// them would otherwise come back as a hole or not at all. Coordinates are the mask's.
fn contours(mask: &Mask) -> Vec<imageproc::contours::Contour<i32>> {
    let (w, h) = (mask.width(), mask.height());
    let framed = image::GrayImage::from_fn(w + 2, h + 2, |x, y| {
        let inside = x >= 1 && y >= 1 && x <= w && y <= h && mask.get(x - 1, y - 1);
        image::Luma([if inside { 255 } else { 0 }])
    });
    let mut found = find_contours::<i32>(&framed);
    for contour in &mut found {
        for p in &mut contour.points {
            p.x -= 1;
            p.y -= 1;
        }
    }
    found
}

/// Traces the outer contours of a mask into polygons and checks them against the mask.
pub fn polygons_from_rle(rle: &Rle) -> PolygonResult {
    if rle.area() == 0 {
        return PolygonResult::Empty;
    }
    let mask = rle.to_mask();
    let contours = contours(&mask);
    if contours.iter().any(|c| c.border_type == BorderType::Hole) {
        return PolygonResult::Holes;
    }
    let polygons = outer_polygons(
        &mask,
        contours.iter().map(|c| c.points.as_slice()),
        SIMPLIFY_EPSILON,
    );
    if polygons.is_empty() {
        return PolygonResult::Lossy(0.0);
    }
    let iou = Rle::from_polygons(rle.height, rle.width, &polygons)
        .map_or(0.0, |r| r.to_mask().iou(&mask));
    if 1.0 - iou > MAX_POLYGON_LOSS {
        return PolygonResult::Lossy(iou);
    }
    PolygonResult::Polygons(polygons)
}

/// Outer contours (pixel centres of boundary pixels) moved half a pixel outwards onto the pixel
/// edges, then simplified.
fn outer_polygons<'a>(
    mask: &Mask,
    contours: impl Iterator<Item = &'a [Point<i32>]>,
    epsilon: f64,
) -> Vec<Vec<f64>> {
    let inside = |x: i32, y: i32| x >= 0 && y >= 0 && mask.get(x as u32, y as u32);
    let mut polygons = Vec::new();
    for points in contours {
        if points.len() < 3 {
            continue;
        }
        let edge_points: Vec<Point<f64>> = points
            .iter()
            .map(|p| {
                let mut nx = 0;
                let mut ny = 0;
                for (dx, dy) in [(-1, 0), (1, 0), (0, -1), (0, 1)] {
                    if !inside(p.x + dx, p.y + dy) {
                        nx += dx;
                        ny += dy;
                    }
                }
                let x = f64::from(p.x) + 0.5 + 0.5 * f64::from(nx.signum());
                let y = f64::from(p.y) + 0.5 + 0.5 * f64::from(ny.signum());
                Point::new(x, y)
            })
            .collect();
        let simplified = approximate_polygon_dp(&edge_points, epsilon, true);
        if simplified.len() < 3 {
            continue;
        }
        polygons.push(simplified.iter().flat_map(|p| [p.x, p.y]).collect());
    }
    polygons
}

/// Polygons (`[x, y]` vertices) as one, for formats with one outline per object: linked along the
/// shortest links and walked there and back (see `join`); none is left out.
pub fn join_polygons(polygons: &[Vec<[f64; 2]>]) -> Vec<[f64; 2]> {
    let rings = polygons
        .iter()
        .filter(|p| !p.is_empty())
        .map(|p| {
            let flat: Vec<f64> = p.iter().flatten().copied().collect();
            join::Ring {
                points: p.clone(),
                area: shoelace(&flat).round() as u64,
            }
        })
        .collect();
    join::join(rings, false).points
}

/// The default detail of [`editable_polygons`]: Douglas-Peucker tolerance in image pixels.
pub const EDIT_TOLERANCE: f64 = 1.0;

/// A mask as polygons to edit: one per part, on the pixel edges (so pycocotools rasterizes them back
/// to the same pixels), simplified with Douglas-Peucker at `tolerance` image pixels. Holes are filled
/// (COCO polygons have none); parts that simplify to fewer than three vertices are left out as specks.
/// `None` for an empty mask.
pub fn editable_polygons(rle: &Rle, tolerance: f64) -> Option<Outlines> {
    if rle.area() == 0 {
        return None;
    }
    let (filled, holes) = fill_holes(&rle.to_mask());
    let contours = contours(&filled);
    let outer: Vec<&[Point<i32>]> = contours
        .iter()
        .filter(|c| c.border_type == BorderType::Outer)
        .map(|c| c.points.as_slice())
        .collect();
    let mut polygons = Vec::new();
    let mut specks = (0, 0);
    for points in outer {
        let simplified = outer_polygons(&filled, std::iter::once(points), tolerance.max(0.05));
        match simplified.into_iter().next() {
            Some(flat) => polygons.push(flat.chunks_exact(2).map(|p| [p[0], p[1]]).collect()),
            // One or two pixels trace no polygon: their pixel edges are one.
            None if points.len() < 3 && tolerance < 1.0 => {
                let (x0, x1) = (
                    points.iter().map(|p| p.x).min(),
                    points.iter().map(|p| p.x).max(),
                );
                let (y0, y1) = (
                    points.iter().map(|p| p.y).min(),
                    points.iter().map(|p| p.y).max(),
                );
                if let (Some(x0), Some(x1), Some(y0), Some(y1)) = (x0, x1, y0, y1) {
                    let (x0, y0) = (f64::from(x0), f64::from(y0));
                    let (x1, y1) = (f64::from(x1) + 1.0, f64::from(y1) + 1.0);
                    polygons.push(vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]);
                }
            }
            None => {
                specks.0 += 1;
                // Straight runs only: the exact pixel-edge outline, whose area is the part's.
                let traced = outer_polygons(&filled, std::iter::once(points), 1e-9);
                specks.1 += traced
                    .first()
                    .map_or(1, |flat| shoelace(flat).round() as u64)
                    .max(1);
            }
        }
    }
    Some(Outlines {
        polygons,
        holes,
        specks,
    })
}

/// The area enclosed by a flat `[x1, y1, x2, y2, ...]` polygon.
fn shoelace(flat: &[f64]) -> f64 {
    let n = flat.len() / 2;
    let twice: f64 = (0..n)
        .map(|i| {
            let j = (i + 1) % n;
            flat[2 * i] * flat[2 * j + 1] - flat[2 * j] * flat[2 * i + 1]
        })
        .sum();
    twice.abs() / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rle(width: u32, height: u32, inside: impl Fn(u32, u32) -> bool) -> Rle {
        Rle::from_mask(&Mask::from_fn(width, height, |i| {
            inside(i as u32 % width, i as u32 / width)
        }))
    }

    #[test]
    fn a_rectangle_becomes_its_pixel_edges() {
        let r = rle(20, 10, |x, y| (3..13).contains(&x) && (2..7).contains(&y));
        let PolygonResult::Polygons(polygons) = polygons_from_rle(&r) else {
            panic!("expected polygons");
        };
        assert_eq!(polygons.len(), 1);
        let back = Rle::from_polygons(10, 20, &polygons).unwrap();
        assert_eq!(back.to_mask(), r.to_mask());
    }

    #[test]
    fn a_disc_is_reproduced_within_one_percent() {
        let r = rle(64, 48, |x, y| {
            let (dx, dy) = (x as f64 - 30.0, y as f64 - 22.0);
            dx * dx + dy * dy < 18.0 * 18.0
        });
        match polygons_from_rle(&r) {
            PolygonResult::Polygons(p) => {
                let iou = Rle::from_polygons(48, 64, &p)
                    .unwrap()
                    .to_mask()
                    .iou(&r.to_mask());
                assert!(iou > 0.99, "{iou}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn editable_polygons_follow_the_detail_and_fill_holes() {
        // A disc with a hole and a lone pixel.
        let r = rle(64, 48, |x, y| {
            let d = (x as f64 - 30.0).powi(2) + (y as f64 - 22.0).powi(2);
            (d < 18.0 * 18.0 && d > 16.0) || (x, y) == (60, 44)
        });
        let fine = editable_polygons(&r, 0.5).unwrap();
        let coarse = editable_polygons(&r, 4.0).unwrap();
        assert_eq!(fine.holes.0, 1);
        assert_eq!(fine.polygons.len(), 2, "the disc and the pixel");
        assert!(coarse.polygons[0].len() < fine.polygons[0].len() / 2);
        let flat: Vec<Vec<f64>> = fine
            .polygons
            .iter()
            .map(|p| p.iter().flatten().copied().collect())
            .collect();
        let filled = rle(64, 48, |x, y| {
            (x as f64 - 30.0).powi(2) + (y as f64 - 22.0).powi(2) < 18.0 * 18.0
                || (x, y) == (60, 44)
        });
        let iou = Rle::from_polygons(48, 64, &flat)
            .unwrap()
            .to_mask()
            .iou(&filled.to_mask());
        assert!(iou > 0.98, "{iou}");
        // At a coarse detail the lone pixel (a 1x1 square) no longer holds three vertices.
        let very_coarse = editable_polygons(&r, 8.0).unwrap();
        assert!(very_coarse.polygons.iter().all(|p| p.len() >= 3));
        assert!(editable_polygons(&rle(4, 4, |_, _| false), 1.0).is_none());
    }

    #[test]
    fn holes_thin_lines_and_empty_masks_keep_rle() {
        let ring = rle(30, 30, |x, y| {
            (5..25).contains(&x)
                && (5..25).contains(&y)
                && !((12..18).contains(&x) && (12..18).contains(&y))
        });
        assert_eq!(polygons_from_rle(&ring), PolygonResult::Holes);
        let line = rle(30, 5, |_, y| y == 2);
        assert!(matches!(polygons_from_rle(&line), PolygonResult::Lossy(_)));
        assert_eq!(
            polygons_from_rle(&rle(4, 4, |_, _| false)),
            PolygonResult::Empty
        );
    }

    #[test]
    fn separate_parts_give_separate_polygons() {
        let r = rle(40, 20, |x, y| {
            (2..10).contains(&y) && ((2..12).contains(&x) || (20..35).contains(&x))
        });
        let PolygonResult::Polygons(polygons) = polygons_from_rle(&r) else {
            panic!("expected polygons");
        };
        assert_eq!(polygons.len(), 2);
    }
}
