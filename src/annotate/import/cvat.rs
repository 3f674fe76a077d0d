//! CVAT for images 1.1 XML → annotations.
//!
//! `<image name width height>` holds the shapes: `<polygon points="x,y;x,y;...">` keeps its
//! vertices; `<box xtl ytl xbr ybr>` becomes a box without a mask (with a `rotation`, a polygon of
//! its four corners); `<mask rle left top width height>` becomes RLE. CVAT's mask RLE is run lengths
//! alternating from 0s, row by row inside the mask's box (`width` x `height` at `left`, `top`).
//! Polygons and masks with the same label and a non-zero `group_id` are one object. Other shapes
//! (`<polyline>`, `<points>`, `<ellipse>`, `<cuboid>`, `<skeleton>`) and `<tag>`s are skipped and
//! named in the summary, as are `<track>`s (CVAT for video). Categories are the labels of `<meta>`,
//! then any other label used. Errors name the XML path, 1-based as in XPath
//! (`annotations/image[2]/polygon[1]@points`), and the line.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use roxmltree::{Document, Node};
use serde_json::{Map, Number, Value};

use super::{ImportError, Item, Objects, Parsed, Part, image_size, round_px};
use crate::annotate::dataset::json_number;
use crate::annotate::mask::Mask;

/// Reads every CVAT XML file among `inputs` (folders: their `.xml` files, recursively).
pub(super) fn read(inputs: &[PathBuf], out: &mut Parsed) -> Result<(), ImportError> {
    for (path, _) in super::files_to_read(inputs, "xml", "CVAT for images 1.1 XML files")? {
        read_file(&path, out)?;
    }
    Ok(())
}

/// One XML file, for messages that name a place in it.
struct Xml<'a> {
    path: &'a Path,
    doc: &'a Document<'a>,
}

impl Xml<'_> {
    /// An error at `at` (an XML path) about `node`, with its line.
    fn invalid(&self, node: Node, at: &str, problem: impl std::fmt::Display) -> ImportError {
        let line = self.doc.text_pos_at(node.range().start).row;
        ImportError::invalid(self.path, at, format!("{problem} (line {line})"))
    }

    /// The attribute `name` of `node` (at `at`), which must be there.
    fn attr<'n>(&self, node: Node<'n, '_>, at: &str, name: &str) -> Result<&'n str, ImportError> {
        node.attribute(name)
            .ok_or_else(|| self.invalid(node, &format!("{at}@{name}"), "missing"))
    }

    /// The attribute `name` of `node` as a finite number.
    fn number(&self, node: Node, at: &str, name: &str) -> Result<f64, ImportError> {
        let text = self.attr(node, at, name)?;
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| {
                self.invalid(
                    node,
                    &format!("{at}@{name}"),
                    format!("`{text}` is not a number"),
                )
            })
    }

    /// The attribute `name` of `node` as a whole number of pixels (at least `min`).
    fn pixels(&self, node: Node, at: &str, name: &str, min: u32) -> Result<u32, ImportError> {
        let text = self.attr(node, at, name)?;
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|&v| v >= min)
            .ok_or_else(|| {
                self.invalid(
                    node,
                    &format!("{at}@{name}"),
                    format!("`{text}` is not a whole number of pixels (at least {min})"),
                )
            })
    }
}

fn read_file(path: &Path, out: &mut Parsed) -> Result<(), ImportError> {
    let text = super::read_text(path)?;
    let doc = Document::parse(&text).map_err(|e| ImportError::Syntax {
        path: path.to_path_buf(),
        format: "XML",
        reason: e.to_string(),
    })?;
    let xml = Xml { path, doc: &doc };
    let root = doc.root_element();
    if !root.has_tag_name("annotations") {
        return Err(xml.invalid(
            root,
            root.tag_name().name(),
            "CVAT for images 1.1 files have <annotations> at the top",
        ));
    }
    // The task's (or project's, or job's) labels, not a skeleton's points (which have a parent).
    for label in root
        .children()
        .filter(|n| n.has_tag_name("meta"))
        .flat_map(|meta| meta.descendants())
        .filter(|n| n.has_tag_name("label") && n.parent().is_some_and(|p| p.has_tag_name("labels")))
    {
        let has_parent = child_text(label, "parent").is_some_and(|p| !p.trim().is_empty());
        if let Some(name) = child_text(label, "name").filter(|_| !has_parent) {
            out.category(name);
        }
    }
    out.summary.files += 1;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for node in root.children().filter(Node::is_element) {
        let tag = node.tag_name().name();
        let k = counts.entry(tag).or_default();
        *k += 1;
        let at = format!("annotations/{tag}[{k}]");
        match tag {
            "image" => read_image(&xml, node, &at, out)?,
            "track" => out.summary.skip(
                ("CVAT track", "CVAT tracks"),
                "tracks are CVAT for video; export the task as CVAT for images 1.1",
                format!("{} `{at}`", path.display()),
            ),
            _ => {}
        }
    }
    Ok(())
}

/// The text of `node`'s child element `name`.
fn child_text<'a>(node: Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.children().find(|c| c.has_tag_name(name))?.text()
}

fn read_image(xml: &Xml, node: Node, at: &str, out: &mut Parsed) -> Result<(), ImportError> {
    let name = xml.attr(node, at, "name")?;
    let size = (
        xml.pixels(node, at, "width", 1)?,
        xml.pixels(node, at, "height", 1)?,
    );
    for (side, name) in [(size.0, "width"), (size.1, "height")] {
        if let Some(problem) = super::side_problem(u64::from(side)) {
            return Err(xml.invalid(node, &format!("{at}@{name}"), problem));
        }
    }
    let dir = xml.path.parent().unwrap_or(Path::new("."));
    // Beside the XML, or in `images/` as CVAT's dataset export puts them.
    let candidates = [dir.join(name), dir.join("images").join(name)];
    let found = candidates
        .iter()
        .find_map(|p| image_size(p).map(|s| (p.clone(), s)));
    let (image_path, found) = match found {
        Some((p, real)) if real != size => {
            return Err(xml.invalid(
                node,
                &format!("{at}@width"),
                format!(
                    "the file says {}x{}, but {} is {}x{} (after EXIF orientation)",
                    size.0,
                    size.1,
                    p.display(),
                    real.0,
                    real.1
                ),
            ));
        }
        Some((p, _)) => (p, true),
        None => (candidates[0].clone(), false),
    };
    let image = out.image(&image_path, size, found, xml.path, at)?;

    let mut objects = Objects::default();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for shape in node.children().filter(Node::is_element) {
        let tag = shape.tag_name().name();
        let k = counts.entry(tag).or_default();
        *k += 1;
        let at = format!("{at}/{tag}[{k}]");
        let place = format!("{} `{at}`", xml.path.display());
        if !matches!(tag, "polygon" | "box" | "mask") {
            match tag {
                "tag" => out.summary.skip(
                    ("image tag", "image tags"),
                    "CVAT tags label a whole image; samlabel has no image tags",
                    place,
                ),
                _ => out.summary.skip(
                    (&format!("`<{tag}>` shape"), &format!("`<{tag}>` shapes")),
                    "CVAT shape type samlabel does not import",
                    place,
                ),
            }
            continue;
        }
        let category = out.category(xml.attr(shape, &at, "label")?);
        let group = match shape.attribute("group_id").map(str::trim) {
            None | Some("" | "0") => None,
            Some(g) => Some(g.parse::<i64>().map_err(|_| {
                xml.invalid(
                    shape,
                    &format!("{at}@group_id"),
                    format!("`{g}` is not a group number"),
                )
            })?),
        };
        let extra = attributes(shape);
        match tag {
            "polygon" => {
                let points = polygon_points(xml, shape, &at)?;
                if points.len() < 6 {
                    out.summary.skip(
                        (
                            "polygon with fewer than 3 points",
                            "polygons with fewer than 3 points",
                        ),
                        "a polygon needs 3",
                        place,
                    );
                    continue;
                }
                objects.add_part(category, group, Part::Polygon(points), extra, at);
            }
            "box" => {
                let [x0, y0, x1, y1] =
                    ["xtl", "ytl", "xbr", "ybr"].map(|a| xml.number(shape, &at, a));
                let (x0, y0, x1, y1) = (x0?, y0?, x1?, y1?);
                if x1 <= x0 || y1 <= y0 {
                    out.summary.skip(
                        ("box with no area", "boxes with no area"),
                        "xbr, ybr must lie right of and below xtl, ytl",
                        place,
                    );
                    continue;
                }
                let rotation = match shape.attribute("rotation") {
                    None => 0.0,
                    Some(_) => xml.number(shape, &at, "rotation")?,
                };
                if rotation == 0.0 {
                    let bbox = [x0, y0, round_px(x1 - x0), round_px(y1 - y0)];
                    objects.add_box(Item::boxed(image, category, bbox).with_extra(extra));
                } else {
                    out.summary.note(
                        "rotated CVAT boxes are imported as polygons of their 4 corners".into(),
                    );
                    let corners = rotated_corners([x0, y0, x1, y1], rotation);
                    objects.add_part(category, group, Part::Polygon(corners), extra, at);
                }
            }
            _ => {
                let mask = mask(xml, shape, &at, size)?;
                objects.add_part(category, group, Part::Mask(mask), extra, at);
            }
        }
    }
    objects.finish(image, size, xml.path, out)
}

/// `points="x1,y1;x2,y2;..."` as `[x1, y1, x2, y2, ...]`.
fn polygon_points(xml: &Xml, shape: Node, at: &str) -> Result<Vec<Number>, ImportError> {
    let text = xml.attr(shape, at, "points")?;
    let mut out = Vec::new();
    for (k, pair) in text.split(';').enumerate() {
        let xy: Option<Vec<f64>> = pair
            .split(',')
            .map(|v| v.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
            .collect();
        match xy.as_deref() {
            Some([x, y]) => out.extend([json_number(*x), json_number(*y)]),
            _ => {
                return Err(xml.invalid(
                    shape,
                    &format!("{at}@points"),
                    format!("point {} is `{pair}`, not `x,y`", k + 1),
                ));
            }
        }
    }
    Ok(out)
}

/// The corners of the box `[x0, y0, x1, y1]` turned by `degrees` about its centre (clockwise on the
/// image, as CVAT turns it), as a polygon.
fn rotated_corners([x0, y0, x1, y1]: [f64; 4], degrees: f64) -> Vec<Number> {
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
        .iter()
        .flat_map(|&[x, y]| {
            let (dx, dy) = (x - cx, y - cy);
            [
                json_number(round_px(cx + dx * cos - dy * sin)),
                json_number(round_px(cy + dx * sin + dy * cos)),
            ]
        })
        .collect()
}

/// A `<mask>` drawn into a mask of the image's size.
fn mask(
    xml: &Xml,
    shape: Node,
    at: &str,
    (width, height): (u32, u32),
) -> Result<Mask, ImportError> {
    let left = xml.pixels(shape, at, "left", 0)?;
    let top = xml.pixels(shape, at, "top", 0)?;
    let w = xml.pixels(shape, at, "width", 1)?;
    let h = xml.pixels(shape, at, "height", 1)?;
    if u64::from(left) + u64::from(w) > u64::from(width) {
        return Err(xml.invalid(
            shape,
            &format!("{at}@width"),
            format!("the mask (left {left}, width {w}) reaches past the image's width {width}"),
        ));
    }
    if u64::from(top) + u64::from(h) > u64::from(height) {
        return Err(xml.invalid(
            shape,
            &format!("{at}@height"),
            format!("the mask (top {top}, height {h}) reaches past the image's height {height}"),
        ));
    }
    let rle = xml.attr(shape, at, "rle")?;
    let at_rle = format!("{at}@rle");
    let mut runs = Vec::new();
    for run in rle.split(',') {
        let run = run.trim();
        runs.push(
            run.parse::<u64>()
                .map_err(|_| xml.invalid(shape, &at_rle, format!("`{run}` is not a run length")))?,
        );
    }
    let inside_box = u64::from(w) * u64::from(h);
    let total: u64 = runs.iter().sum();
    if total > inside_box {
        return Err(xml.invalid(
            shape,
            &at_rle,
            format!("the runs add up to {total} pixels, more than the {w}x{h} mask has"),
        ));
    }
    let mut mask = Mask::new(width, height);
    let mut offset = 0u64;
    for (i, &run) in runs.iter().enumerate() {
        if i % 2 == 1 {
            for p in offset..offset + run {
                let (y, x) = (p / u64::from(w), p % u64::from(w));
                mask.set(left + x as u32, top + y as u32, true);
            }
        }
        offset += run;
    }
    Ok(mask)
}

/// What CVAT says of a shape besides its geometry, kept as the annotation's `attributes` (as
/// Datumaro's COCO export writes them): `occluded` when set, and each `<attribute name>value`.
fn attributes(shape: Node) -> Map<String, Value> {
    let mut attributes = Map::new();
    if shape.attribute("occluded").map(str::trim) == Some("1") {
        attributes.insert("occluded".into(), Value::Bool(true));
    }
    for attribute in shape.children().filter(|c| c.has_tag_name("attribute")) {
        if let Some(name) = attribute.attribute("name") {
            attributes.insert(
                name.to_string(),
                Value::from(attribute.text().unwrap_or_default().to_string()),
            );
        }
    }
    let mut extra = Map::new();
    if !attributes.is_empty() {
        extra.insert("attributes".into(), Value::Object(attributes));
    }
    extra
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(xml: &str, size: (u32, u32)) -> Result<Mask, String> {
        let doc = Document::parse(xml).unwrap();
        let xml = Xml {
            path: Path::new("t.xml"),
            doc: &doc,
        };
        mask(&xml, doc.root_element(), "m", size).map_err(|e| e.to_string())
    }

    #[test]
    fn masks_are_runs_from_zeros_row_by_row_in_their_box() {
        // A 3x2 box at (1, 1): 0 1 1 / 1 0 0 (the last run of 0s left out, as CVAT may).
        let m = decode(
            r#"<mask rle="1, 3" left="1" top="1" width="3" height="2"/>"#,
            (5, 4),
        )
        .unwrap();
        let inside: Vec<(u32, u32)> = (0..4)
            .flat_map(|y| (0..5).map(move |x| (x, y)))
            .filter(|&(x, y)| m.get(x, y))
            .collect();
        assert_eq!(inside, [(2, 1), (3, 1), (1, 2)]);
        let err = decode(
            r#"<mask rle="1, 9" left="1" top="1" width="3" height="2"/>"#,
            (5, 4),
        )
        .unwrap_err();
        assert!(
            err.contains("`m@rle`") && err.contains("10 pixels, more than the 3x2 mask"),
            "{err}"
        );
        let err = decode(
            r#"<mask rle="1" left="3" top="1" width="3" height="2"/>"#,
            (5, 4),
        )
        .unwrap_err();
        assert!(
            err.contains("`m@width`") && err.contains("(line 1)"),
            "{err}"
        );
    }

    #[test]
    fn a_turned_box_keeps_its_centre_and_sides() {
        let corners = rotated_corners([0.0, 0.0, 4.0, 2.0], 90.0);
        let xy: Vec<f64> = corners.iter().map(|n| n.as_f64().unwrap()).collect();
        // Turned a quarter about (2, 1): the 4x2 box becomes 2x4, top-left corner to top-right.
        assert_eq!(xy, [3.0, -1.0, 3.0, 3.0, 1.0, 3.0, 1.0, -1.0]);
    }
}
