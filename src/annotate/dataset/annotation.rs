//! An annotation and its segmentation: a mask (RLE), COCO polygons, or none (a box-only annotation).

use serde_json::{Map, Number, Value};

use super::{AnnotationId, CategoryId, ImageId};
use crate::annotate::mask::Mask;
use crate::annotate::rle::Rle;

/// How a segmentation is written; kept as loaded until the mask is edited.
#[derive(Clone, Debug, PartialEq)]
pub enum Segmentation {
    /// `[[x1, y1, x2, y2, ...], ...]`, numbers kept as written (`10` stays `10`, not `10.0`).
    /// No polygons at all (`[]`) is a box-only annotation: a detection without a mask yet.
    Polygons(Vec<Vec<Number>>),
    /// `{"size": [h, w], "counts": "..."}`.
    CompressedRle(Rle),
    /// `{"size": [h, w], "counts": [..]}` (COCO uses it for crowds).
    UncompressedRle(Rle),
}

impl Segmentation {
    /// Whether this holds no mask at all (a box-only annotation).
    pub fn is_box_only(&self) -> bool {
        matches!(self, Self::Polygons(p) if p.is_empty())
    }

    /// Polygons from float coordinates, each number written in its shortest exact form.
    pub fn from_polygons(polygons: &[Vec<f64>]) -> Self {
        Self::Polygons(
            polygons
                .iter()
                .map(|p| p.iter().map(|&v| json_number(v)).collect())
                .collect(),
        )
    }

    /// The mask this segmentation covers, as RLE.
    pub fn to_rle(&self, height: u32, width: u32) -> Rle {
        match self {
            Self::CompressedRle(rle) | Self::UncompressedRle(rle) => rle.clone(),
            // Polygons were validated on import and are rasterized the way pycocotools does.
            Self::Polygons(polygons) => Rle::from_polygons(height, width, &polygons_f64(polygons))
                .unwrap_or(Rle {
                    height,
                    width,
                    counts: vec![height * width],
                }),
        }
    }
}

/// A JSON number for `v`: an integer when `v` is whole (`10`, not `10.0`), 0 for NaN or infinity.
pub fn json_number(v: f64) -> Number {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        Number::from(v as i64)
    } else {
        Number::from_f64(v).unwrap_or_else(|| Number::from(0))
    }
}

/// Polygon coordinates as floats.
pub fn polygons_f64(polygons: &[Vec<Number>]) -> Vec<Vec<f64>> {
    polygons
        .iter()
        .map(|p| p.iter().map(|n| n.as_f64().unwrap_or(0.0)).collect())
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
pub struct Annotation {
    pub id: AnnotationId,
    pub image_id: ImageId,
    pub category_id: CategoryId,
    pub segmentation: Segmentation,
    /// As loaded, or the mask's pixel count once the mask changes.
    pub area: Number,
    /// `[x, y, w, h]`, as loaded or from the mask.
    pub bbox: [Number; 4],
    pub iscrowd: u8,
    pub extra: Map<String, Value>,
}

impl Annotation {
    /// A new annotation for `mask`, with COCO's area and bbox of the mask.
    pub fn from_mask(
        id: AnnotationId,
        image_id: ImageId,
        category_id: CategoryId,
        mask: &Mask,
    ) -> Self {
        let rle = Rle::from_mask(mask);
        let (area, bbox) = measures(&rle);
        Self {
            id,
            image_id,
            category_id,
            segmentation: Segmentation::CompressedRle(rle),
            area,
            bbox,
            iscrowd: 0,
            extra: Map::new(),
        }
    }
}

impl Annotation {
    /// A box-only annotation (a detection: empty segmentation), `bbox` as `[x, y, w, h]` in pixels;
    /// its area is the box's, as COCO detection datasets write it.
    pub fn from_box(
        id: AnnotationId,
        image_id: ImageId,
        category_id: CategoryId,
        bbox: [f64; 4],
    ) -> Self {
        Self {
            id,
            image_id,
            category_id,
            segmentation: Segmentation::Polygons(Vec::new()),
            area: json_number(bbox[2] * bbox[3]),
            bbox: bbox.map(json_number),
            iscrowd: 0,
            extra: Map::new(),
        }
    }

    /// Whether this annotation is a box without a mask.
    pub fn is_box_only(&self) -> bool {
        self.segmentation.is_box_only()
    }

    /// `bbox` as floats `[x, y, w, h]`.
    pub fn bbox_f64(&self) -> [f64; 4] {
        self.bbox.clone().map(|n| n.as_f64().unwrap_or(0.0))
    }
}

/// COCO `area` (an integer pixel count) and `bbox` of a mask.
pub fn measures(rle: &Rle) -> (Number, [Number; 4]) {
    let bbox = rle
        .bbox()
        .map(|v| Number::from_f64(v).unwrap_or_else(|| Number::from(0)));
    (Number::from(rle.area()), bbox)
}
