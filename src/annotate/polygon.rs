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

/// Parts of a YOLO outline smaller than this many pixels are dropped as specks (and reported).
pub const SPECK_PX: u64 = 10;

/// One object as YOLO segmentation holds it: one polygon, vertices at the centres of the boundary
/// pixels (Ultralytics rasterizes with `cv2.fillPoly` on coordinates truncated to integers, boundary
/// included, so that is what reproduces the pixels), the parts joined as Ultralytics'
/// `merge_multi_segment` joins them; and what the format could not hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct YoloOutline {
    /// `[x1, y1, x2, y2, ...]` in pixels (not normalized).
    pub points: Vec<f64>,
    /// Holes filled (YOLO polygons have none): how many, and their pixels.
    pub holes: (usize, u64),
    /// Parts under [`SPECK_PX`] left out: how many, and their pixels.
    pub specks: (usize, u64),
}

/// The YOLO outline of a mask; `None` for an empty one.
pub fn yolo_outline(rle: &Rle) -> Option<YoloOutline> {
    let FilledParts {
        parts,
        holes,
        specks,
    } = filled_parts(rle)?;
    // The rasterizer draws every link (a line one pixel wide, there and back), so the parts are
    // chained nearest first, from the largest: short links.
    let parts: Vec<Vec<[f64; 2]>> = nearest_first(parts)
        .into_iter()
        .map(|p| p.points.iter().map(|&[x, y]| [x + 0.5, y + 0.5]).collect())
        .collect();
    // Fewer than three vertices would read as a box line; a one- or two-pixel part repeats them.
    let mut points = merge_parts(&parts);
    while !points.is_empty() && points.len() < 3 {
        points.push(points[points.len() - 1]);
    }
    Some(YoloOutline {
        points: points.into_iter().flatten().collect(),
        holes,
        specks,
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
fn fill_holes(mask: &Mask) -> (Mask, (usize, u64)) {
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

impl Part {
    fn bbox(&self) -> [f64; 4] {
        self.points.iter().fold(
            [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ],
            |b, q| {
                [
                    b[0].min(q[0]),
                    b[1].min(q[1]),
                    b[2].max(q[0]),
                    b[3].max(q[1]),
                ]
            },
        )
    }
}

/// The distance between two boxes (0 when they overlap).
fn gap(a: [f64; 4], b: [f64; 4]) -> f64 {
    let dx = (a[0] - b[2]).max(b[0] - a[2]).max(0.0);
    let dy = (a[1] - b[3]).max(b[1] - a[3]).max(0.0);
    dx.hypot(dy)
}

/// `parts` reordered into a chain: the largest first, then each time the part whose bounding box is
/// nearest to the last one's.
fn nearest_first(mut parts: Vec<Part>) -> Vec<Part> {
    let Some(largest) = (0..parts.len()).max_by_key(|&i| parts[i].area) else {
        return parts;
    };
    let mut chain = vec![parts.swap_remove(largest)];
    let mut boxes: Vec<[f64; 4]> = parts.iter().map(Part::bbox).collect();
    while !parts.is_empty() {
        let here = chain.last().expect("not empty").bbox();
        let next = (0..parts.len())
            .min_by(|&i, &j| gap(here, boxes[i]).total_cmp(&gap(here, boxes[j])))
            .expect("not empty");
        boxes.swap_remove(next);
        chain.push(parts.swap_remove(next));
    }
    chain
}

/// Joins closed parts into one closed path the way Ultralytics' `merge_multi_segment` does: each
/// part is linked to the next at their closest pair of vertices; the path runs through every part
/// to the last one and comes back along the same links, so each link is walked there and back and
/// encloses nothing, whatever the fill rule.
pub fn merge_parts(parts: &[Vec<[f64; 2]>]) -> Vec<[f64; 2]> {
    let parts: Vec<&Vec<[f64; 2]>> = parts.iter().filter(|p| !p.is_empty()).collect();
    let Some(&first) = parts.first() else {
        return Vec::new();
    };
    if parts.len() == 1 {
        return first.clone();
    }
    // links[i]: (vertex of part i, vertex of part i + 1) closest to each other.
    let links: Vec<(usize, usize)> = parts
        .windows(2)
        .map(|pair| {
            let mut best = (f64::INFINITY, 0, 0);
            for (a, p) in pair[0].iter().enumerate() {
                for (b, q) in pair[1].iter().enumerate() {
                    let d = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                    if d < best.0 {
                        best = (d, a, b);
                    }
                }
            }
            (best.1, best.2)
        })
        .collect();
    // The vertices of `part` from `from` forward (cyclically) to `to`, both included; all round
    // and back to `from` when they are the same vertex and `round` is set.
    let walk = |part: &[[f64; 2]], from: usize, to: usize, round: bool| -> Vec<[f64; 2]> {
        let n = part.len();
        let steps = match (to + n - from) % n {
            0 if round => n,
            steps => steps,
        };
        (0..=steps).map(|k| part[(from + k) % n]).collect()
    };
    let last = parts.len() - 1;
    let mut path = Vec::new();
    // Out: the first part all round from its link, each middle part from where it is entered to
    // where it is left, the last part all round.
    // (A middle part entered and left at the same vertex is walked all round on the way out.)
    path.extend(walk(first, links[0].0, links[0].0, true));
    for (i, part) in parts.iter().enumerate().take(last).skip(1) {
        path.extend(walk(part, links[i - 1].1, links[i].0, true));
    }
    let enter_last = links[last - 1].1;
    path.extend(walk(parts[last], enter_last, enter_last, true));
    // Back: each middle part's other side, from where it was left round to where it was entered.
    for (i, part) in parts.iter().enumerate().take(last).skip(1).rev() {
        path.extend(walk(part, links[i].0, links[i - 1].1, false));
    }
    path
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

#[cfg(test)]
mod yolo_tests {
    use super::*;

    fn square(x0: f64, y0: f64, side: f64) -> Vec<[f64; 2]> {
        vec![
            [x0, y0],
            [x0 + side, y0],
            [x0 + side, y0 + side],
            [x0, y0 + side],
        ]
    }

    #[test]
    fn parts_are_linked_there_and_back() {
        let parts = [
            square(0.0, 0.0, 2.0),
            square(5.0, 0.0, 2.0),
            square(10.0, 0.0, 2.0),
        ];
        let path = merge_parts(&parts);
        // The first and last parts all round and closed (5 each); the middle part's two link
        // vertices on the way out, then its other side, link vertices included, on the way back.
        assert_eq!(path.len(), 5 + 2 + 5 + 4);
        // Out along the chain and back: the path ends on the middle part, whose link to the first
        // part closes the polygon.
        assert_eq!(path[0], [2.0, 0.0]);
        assert_eq!(path[4], [2.0, 0.0]);
        assert_eq!(*path.last().unwrap(), [5.0, 0.0]);
    }

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
