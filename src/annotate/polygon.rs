//! Mask → COCO polygons: one polygon per connected outer contour, traced along pixel edges, and kept
//! only when it reproduces the mask (pycocotools' rasterization) within 1% IoU.

use imageproc::contours::{BorderType, find_contours};
use imageproc::geometry::approximate_polygon_dp;
use imageproc::point::Point;

use super::mask::Mask;
use super::rle::Rle;

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

/// Traces the outer contours of a mask into polygons and checks them against the mask.
pub fn polygons_from_rle(rle: &Rle) -> PolygonResult {
    if rle.area() == 0 {
        return PolygonResult::Empty;
    }
    let mask = rle.to_mask();
    let contours = find_contours::<i32>(&mask.to_gray());
    if contours.iter().any(|c| c.border_type == BorderType::Hole) {
        return PolygonResult::Holes;
    }
    let polygons = outer_polygons(&mask, contours.iter().map(|c| c.points.as_slice()));
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

/// The outer outlines of a mask as polygons, ignoring holes and without the fidelity check
/// (for formats that have no other way to say it).
pub fn outer_outlines(rle: &Rle) -> Vec<Vec<f64>> {
    let mask = rle.to_mask();
    let contours = find_contours::<i32>(&mask.to_gray());
    outer_polygons(
        &mask,
        contours
            .iter()
            .filter(|c| c.border_type == BorderType::Outer)
            .map(|c| c.points.as_slice()),
    )
}

/// Outer contours (pixel centres of boundary pixels) moved half a pixel outwards onto the pixel
/// edges, then simplified.
fn outer_polygons<'a>(
    mask: &Mask,
    contours: impl Iterator<Item = &'a [Point<i32>]>,
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
        let simplified = approximate_polygon_dp(&edge_points, SIMPLIFY_EPSILON, true);
        if simplified.len() < 3 {
            continue;
        }
        polygons.push(simplified.iter().flat_map(|p| [p.x, p.y]).collect());
    }
    polygons
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
