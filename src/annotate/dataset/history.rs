//! What the undo and redo stacks hold next, and which image an edit changes: the window says what
//! Ctrl+Z undid and brings that image on screen.

use super::{AnnotationId, Dataset, Edit, ImageId};

impl Dataset {
    /// What Ctrl+Z would apply next (the inverse of the newest change), and what Ctrl+Shift+Z would.
    pub fn next_undo(&self) -> Option<&Edit> {
        self.undo.last()
    }

    pub fn next_redo(&self) -> Option<&Edit> {
        self.redo.last()
    }

    /// The image whose annotations or entry `edit` changes, if it changes one image's.
    pub fn image_touched_by(&self, edit: &Edit) -> Option<ImageId> {
        let of_annotation = |id: AnnotationId| self.annotation(id).map(|a| a.image_id);
        match edit {
            Edit::AddAnnotation(a) | Edit::InsertAnnotation { annotation: a, .. } => {
                Some(a.image_id)
            }
            Edit::DeleteAnnotation(id) | Edit::Relabel { id, .. } | Edit::SetMask { id, .. } => {
                of_annotation(*id)
            }
            Edit::SetImageExtra { id, .. } | Edit::RemoveImage(id) => Some(*id),
            Edit::AddImage(image) | Edit::InsertImage { image, .. } => Some(image.id),
            Edit::Batch(edits) => edits.iter().find_map(|e| self.image_touched_by(e)),
            Edit::AddCategory(_)
            | Edit::InsertCategory { .. }
            | Edit::RenameCategory { .. }
            | Edit::RecolorCategory { .. }
            | Edit::DeleteCategory(_) => None,
        }
    }
}
