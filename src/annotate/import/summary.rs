//! What an import brought and what it left out, for the user to read.

use std::fmt;

/// What an import added, matched and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Label files read (labelme JSON files, YOLO label files, CVAT XML files).
    pub files: usize,
    /// Images the inputs name (each once).
    pub images: usize,
    /// Of those, the ones the dataset did not list yet.
    pub new_images: usize,
    /// Images that the inputs give no annotation (kept, as COCO keeps unlabelled images).
    pub images_without_annotations: usize,
    /// Images whose files were not found; their sizes are the label files'.
    pub missing_images: usize,
    /// Annotations by kind: polygons kept as written, masks (RLE), boxes without a mask.
    pub polygons: usize,
    pub masks: usize,
    pub boxes: usize,
    /// Categories the dataset did not have, in the order they were added.
    pub new_categories: Vec<String>,
    /// What was not imported, grouped by kind, in the order first met.
    pub skipped: Vec<Skipped>,
    /// Other things worth knowing (a converted shape, a path taken from elsewhere).
    pub notes: Vec<String>,
}

/// Things of one kind that were not imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    pub count: usize,
    /// What they are, one and several: "`circle` shape", "`circle` shapes".
    pub one: String,
    pub many: String,
    /// Why: "labelme shape type samlabel does not import".
    pub reason: String,
    /// Where the first one is: "a.json `shapes[2]`".
    pub first: String,
}

impl ImportSummary {
    /// Annotations added.
    pub fn annotations(&self) -> usize {
        self.polygons + self.masks + self.boxes
    }

    /// Adds one skipped thing to its group (same kind and reason), or starts a group.
    pub(crate) fn skip(&mut self, (one, many): (&str, &str), reason: &str, at: String) {
        match self
            .skipped
            .iter_mut()
            .find(|s| s.one == one && s.reason == reason)
        {
            Some(group) => group.count += 1,
            None => self.skipped.push(Skipped {
                count: 1,
                one: one.to_string(),
                many: many.to_string(),
                reason: reason.to_string(),
                first: at,
            }),
        }
    }

    /// Adds a note unless it is there already.
    pub(crate) fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

/// `3 polygons`, `1 polygon`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}; first: {})",
            count(self.count, &self.one, &self.many),
            self.reason,
            self.first
        )
    }
}

impl fmt::Display for ImportSummary {
    /// One paragraph: "imported 2 images (1 new) from 2 files: 5 annotations (3 polygons, 1 mask,
    /// 1 box); new categories: cat, dog; skipped 1 `circle` shape (...)".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} ({} new",
            count(self.images, "image", "images"),
            self.new_images
        )?;
        if self.images_without_annotations > 0 {
            write!(
                f,
                ", {} without annotations",
                self.images_without_annotations
            )?;
        }
        write!(
            f,
            ") from {}: {} ({}, {}, {})",
            count(self.files, "file", "files"),
            count(self.annotations(), "annotation", "annotations"),
            count(self.polygons, "polygon", "polygons"),
            count(self.masks, "mask", "masks"),
            count(self.boxes, "box", "boxes"),
        )?;
        if !self.new_categories.is_empty() {
            write!(f, "; new categories: {}", self.new_categories.join(", "))?;
        }
        if self.missing_images > 0 {
            write!(
                f,
                "; {} not found (sizes from the label files)",
                count(self.missing_images, "image", "images")
            )?;
        }
        if !self.skipped.is_empty() {
            let skipped: Vec<String> = self.skipped.iter().map(ToString::to_string).collect();
            write!(f, "; skipped {}", skipped.join(", "))?;
        }
        for note in &self.notes {
            write!(f, "; {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_paragraph_names_what_was_skipped_and_why() {
        let mut summary = ImportSummary {
            files: 2,
            images: 2,
            new_images: 1,
            polygons: 3,
            masks: 1,
            new_categories: vec!["cat".into()],
            ..Default::default()
        };
        for i in [2, 5, 7] {
            summary.skip(
                ("`circle` shape", "`circle` shapes"),
                "labelme shape type samlabel does not import",
                format!("a.json `shapes[{i}]`"),
            );
        }
        summary.skip(
            (
                "label file without an image",
                "label files without an image",
            ),
            "no image of that name",
            "labels/x.txt".into(),
        );
        let text = summary.to_string();
        assert_eq!(
            text,
            "imported 2 images (1 new) from 2 files: 4 annotations (3 polygons, 1 mask, 0 boxes); \
             new categories: cat; skipped 3 `circle` shapes (labelme shape type samlabel does not \
             import; first: a.json `shapes[2]`), 1 label file without an image (no image of that \
             name; first: labels/x.txt)"
        );
        assert!(!text.contains('\n'));
    }
}
