//! Masks from boxes: each box-only annotation's box (a detection) as SAM's box prompt, the mask SAM
//! gives for it, and the one edit that puts the masks into their annotations (id, category and other
//! keys kept). `samlabel auto --from-boxes` and the window's "Masks from boxes" share it.

use std::collections::HashMap;

use super::{Project, ProjectError};
use crate::annotate::dataset::{Annotation, AnnotationId, Dataset, Edit, ImageId, Segmentation};
use crate::annotate::rle::Rle;
use crate::sam::{Embedding, Multimask, Prompt, SamError, SamModel};

/// One box-only annotation to give a mask: its id and its box `[x0, y0, x1, y1]` in image pixels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxJob {
    pub id: AnnotationId,
    pub box_in_image: [f32; 4],
}

/// What SAM made of one box.
#[derive(Clone, Debug, PartialEq)]
pub enum BoxMask {
    Mask(Rle),
    /// No pixel inside: the annotation stays a box.
    Empty,
    /// The box is no prompt (no width or height, or off the image), in words: it stays a box.
    Invalid(String),
}

/// The box prompt of a COCO `bbox` `[x, y, w, h]`: `[x, y, x + w, y + h]`, as the box was drawn.
pub fn box_in_image(annotation: &Annotation) -> [f32; 4] {
    let [x, y, w, h] = annotation.bbox_f64();
    [x, y, x + w, y + h].map(|v| v as f32)
}

/// The box-only annotations of an image, in the dataset's order; with `only`, just that one.
pub fn boxes_of(dataset: &Dataset, image_id: ImageId, only: Option<AnnotationId>) -> Vec<BoxJob> {
    dataset
        .annotations_of(image_id)
        .filter(|a| a.is_box_only() && only.is_none_or(|id| id == a.id))
        .map(job)
        .collect()
}

/// Every image's box-only annotations, in one pass over the dataset (a per-image scan would be
/// quadratic on a detection dataset of a million boxes).
pub fn boxes_by_image(dataset: &Dataset) -> HashMap<ImageId, Vec<BoxJob>> {
    let mut boxes: HashMap<ImageId, Vec<BoxJob>> = HashMap::new();
    for annotation in dataset.annotations().iter().filter(|a| a.is_box_only()) {
        boxes
            .entry(annotation.image_id)
            .or_default()
            .push(job(annotation));
    }
    boxes
}

fn job(annotation: &Annotation) -> BoxJob {
    BoxJob {
        id: annotation.id,
        box_in_image: box_in_image(annotation),
    }
}

/// SAM's mask for each box, one decoder run per box with the single-mask answer: what the official
/// predictor gives for one box with `multimask_output=False` (and `segment --box`, and a box dragged in
/// the window). A box that is no prompt is reported, not decoded.
pub fn masks_from_boxes(
    model: &mut SamModel,
    embedding: &Embedding,
    boxes: &[BoxJob],
) -> Result<Vec<(BoxJob, BoxMask)>, SamError> {
    let (w, h) = embedding.model_from_image.image_size;
    boxes
        .iter()
        .map(|&job| {
            let prompt = Prompt {
                box_in_image: Some(job.box_in_image),
                ..Prompt::default()
            };
            if let Err(err) = prompt.validate(w, h) {
                return Ok((job, BoxMask::Invalid(err.to_string())));
            }
            let mask = model.predict(embedding, &prompt, Multimask::Off)?.mask;
            let outcome = if mask.area() == 0 {
                BoxMask::Empty
            } else {
                BoxMask::Mask(Rle::from_mask(&mask))
            };
            Ok((job, outcome))
        })
        .collect()
}

/// What storing the masks did.
#[derive(Debug, Default, PartialEq)]
pub struct Stored {
    /// The annotations that have a mask now.
    pub converted: Vec<AnnotationId>,
    /// Boxes with an empty mask, kept as boxes.
    pub empty: Vec<AnnotationId>,
    /// Boxes that are no prompt, with why, kept as boxes.
    pub invalid: Vec<(AnnotationId, String)>,
    /// Masks for annotations that were deleted, moved to another image, given a mask or another box
    /// since they were asked for, or whose size is not the image's: left out.
    pub stale: usize,
}

impl Stored {
    /// "2 boxes converted to masks, 1 empty (kept as boxes)", for the status bar.
    pub fn summary(&self) -> String {
        let mut text = converted(self.converted.len());
        if !self.empty.is_empty() {
            text += &format!(", {} empty (kept as boxes)", self.empty.len());
        }
        if !self.invalid.is_empty() {
            text += &format!(", {} not a usable box (kept)", self.invalid.len());
        }
        if self.stale > 0 {
            text += &format!(", {} changed meanwhile (left alone)", self.stale);
        }
        text
    }
}

/// "1 box converted to a mask", "2 boxes converted to masks".
pub fn converted(n: usize) -> String {
    if n == 1 {
        "1 box converted to a mask".into()
    } else {
        format!("{n} boxes converted to masks")
    }
}

/// Puts each mask into its annotation, all in one edit (one undo step): the segmentation becomes the
/// mask's compressed RLE, `area` and `bbox` the mask's by COCO's rules; id, category and every other key
/// stay. Only annotations of `image_id` that are still box-only with the same box get a mask.
pub fn store_masks(
    project: &mut Project,
    image_id: ImageId,
    masks: Vec<(BoxJob, BoxMask)>,
) -> Result<Stored, ProjectError> {
    let dataset = &project.dataset;
    let size = dataset.image(image_id).map(|i| (i.width, i.height));
    let mut stored = Stored::default();
    let mut edits = Vec::new();
    for (job, outcome) in masks {
        let current = dataset.annotation(job.id).is_some_and(|a| {
            a.image_id == image_id && a.is_box_only() && box_in_image(a) == job.box_in_image
        });
        match outcome {
            _ if !current => stored.stale += 1,
            BoxMask::Empty => stored.empty.push(job.id),
            BoxMask::Invalid(why) => stored.invalid.push((job.id, why)),
            BoxMask::Mask(rle) if size != Some((rle.width, rle.height)) => stored.stale += 1,
            BoxMask::Mask(rle) => {
                edits.push(Edit::set_segmentation(
                    job.id,
                    Segmentation::CompressedRle(rle.clone()),
                    &rle,
                ));
                stored.converted.push(job.id);
            }
        }
    }
    if !edits.is_empty() {
        project.apply(Edit::Batch(edits))?;
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotate::mask::Mask;

    /// A project (never saved) with a 6x4 image, a box-only annotation and one with a mask.
    fn project() -> (Project, ImageId, Annotation, Annotation) {
        let dir = std::env::temp_dir().join(format!("samlabel-boxes-{}", std::process::id()));
        let (mut project, _) = Project::open(&dir.join("never-saved.json"));
        let dataset = &mut project.dataset;
        let image = dataset.ensure_image("a.png", 6, 4).unwrap();
        let cat = dataset.ensure_category("cat").unwrap();
        let mut boxed = Annotation::from_box(7, image, cat, [1.0, 0.5, 3.0, 2.5]);
        boxed.extra.insert("source".into(), "detector".into());
        let masked = Annotation::from_mask(9, image, cat, &Mask::from_fn(6, 4, |i| i == 0));
        for a in [&boxed, &masked] {
            dataset.apply(Edit::AddAnnotation(a.clone())).unwrap();
        }
        (project, image, boxed, masked)
    }

    #[test]
    fn box_prompts_are_the_coco_boxes_as_corners() {
        let (project, image, boxed, _) = project();
        let jobs = boxes_of(&project.dataset, image, None);
        assert_eq!(
            jobs,
            [BoxJob {
                id: 7,
                box_in_image: [1.0, 0.5, 4.0, 3.0]
            }]
        );
        assert_eq!(boxes_of(&project.dataset, image, Some(9)), []);
        assert_eq!(boxes_by_image(&project.dataset)[&image], jobs);
        assert_eq!(box_in_image(&boxed), [1.0, 0.5, 4.0, 3.0]);
    }

    #[test]
    fn masks_go_into_their_annotations_as_one_undo_step() {
        let (mut project, image, boxed, masked) = project();
        let job = boxes_of(&project.dataset, image, None)[0];
        let mask = Mask::from_fn(6, 4, |i| (i % 6) >= 2 && (i % 6) < 4 && i / 6 >= 1);
        let rle = Rle::from_mask(&mask);
        let stored = store_masks(&mut project, image, vec![(job, BoxMask::Mask(rle.clone()))]);
        assert_eq!(stored.unwrap().converted, [7]);
        let after = project.dataset.annotation(7).unwrap().clone();
        assert_eq!(after.segmentation, Segmentation::CompressedRle(rle.clone()));
        assert_eq!(
            (after.area.as_u64(), after.bbox_f64()),
            (Some(6), [2.0, 1.0, 2.0, 3.0])
        );
        assert_eq!(after.extra, boxed.extra, "other keys kept");
        assert_eq!((after.id, after.category_id), (boxed.id, boxed.category_id));
        assert_eq!(project.dataset.annotation(9), Some(&masked));

        assert!(project.dataset.undo());
        assert_eq!(project.dataset.annotation(7), Some(&boxed), "one undo");
        assert!(project.dataset.redo());
        assert_eq!(project.dataset.annotation(7), Some(&after));

        // Once it has a mask, a late answer for its box is left alone.
        let late = store_masks(&mut project, image, vec![(job, BoxMask::Mask(rle))]);
        assert_eq!(late.unwrap().stale, 1);
        assert_eq!(project.dataset.annotation(7), Some(&after));
    }

    #[test]
    fn empty_invalid_stale_and_wrong_size_masks_leave_the_box() {
        let (mut project, image, boxed, _) = project();
        let job = boxes_of(&project.dataset, image, None)[0];
        let moved = BoxJob {
            box_in_image: [0.0, 0.0, 1.0, 1.0],
            ..job
        };
        let wrong_size = Rle::from_mask(&Mask::from_fn(5, 4, |_| true));
        let masks = vec![
            (job, BoxMask::Empty),
            (job, BoxMask::Invalid("no width".into())),
            (moved, BoxMask::Mask(wrong_size.clone())),
            (job, BoxMask::Mask(wrong_size)),
        ];
        let revision = project.dataset.revision();
        let stored = store_masks(&mut project, image, masks).unwrap();
        assert_eq!(stored.empty, [7]);
        assert_eq!(stored.invalid, [(7, "no width".to_string())]);
        assert_eq!(stored.stale, 2);
        assert!(stored.converted.is_empty());
        assert_eq!(project.dataset.revision(), revision, "no edit at all");
        assert_eq!(project.dataset.annotation(7), Some(&boxed));
        assert_eq!(
            stored.summary(),
            "0 boxes converted to masks, 1 empty (kept as boxes), 1 not a usable box (kept), \
             2 changed meanwhile (left alone)"
        );
    }
}
