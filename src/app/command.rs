//! What the user asked for this frame. The keymap, the menu, the panels and the canvas only emit
//! commands; `SamApp::apply` carries them out in one place at the end of the frame.

use std::path::PathBuf;

use egui::{Key, Modifiers};

use super::canvas::{CanvasAction, Tool};
use crate::annotate::dataset::{AnnotationId, CategoryId, Edit};
use crate::annotate::export::Format;
use crate::annotate::import::Source;
use crate::sam::everything::EverythingOptions;
use crate::sam::hub::ModelSource;

/// What an Open dialog opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenKind {
    Images,
    Folder,
    Dataset,
}

/// How accepted masks are drawn (View menu).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViewChange {
    /// Show or hide every accepted mask.
    ToggleMasks,
    /// Fill opacity of accepted masks, 0..=1.
    Opacity(f32),
    ToggleOutlinesOnly,
    ToggleImageList,
    ToggleSidePanel,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// File > Open...: the dialog for images, a folder or a dataset.
    OpenDialog(OpenKind),
    /// Images and folders of images, with the dataset beside the first.
    OpenPaths(Vec<PathBuf>),
    OpenDataset(PathBuf),
    /// Replace an unreadable dataset file with its `.bak`.
    RestoreBackup,
    Save,
    /// Ctrl+Q, File > Quit: asks first when masks wait to be accepted.
    Quit,
    /// Quit although masks were not accepted (the user confirmed).
    QuitDiscarding,
    /// File > Export: `folder: None` opens the export dialog for `format`.
    Export {
        format: Format,
        folder: Option<PathBuf>,
    },
    /// File > Import: the dialog for labels of this format.
    ImportDialog(Source),
    /// Read `path` as `source` (on a thread) and add it to the dataset as one edit.
    Import {
        source: Source,
        path: PathBuf,
    },
    /// F1 or ?: show or hide the list of every key.
    ToggleShortcuts,
    /// Model > Choose model...: show or hide the model picker.
    ToggleModels,
    /// Use this model from now on (the picker); the current image's prompt is kept.
    UseModel(ModelSource),
    /// G, SAM > Segment everything: propose every object on the image (the panel's settings, or
    /// these).
    SegmentEverything(Option<EverythingOptions>),
    /// Stop a running segment-everything.
    CancelEverything,
    /// Accept the selected proposals (`all`: every shown one) under the selected category.
    AcceptProposals {
        all: bool,
    },
    /// Discard the proposals that were not accepted.
    DiscardProposals,
    /// Show (or hide again) the proposals an accepted annotation already covers.
    ShowCoveredProposals(bool),
    /// Select or deselect one proposal (the panel's list).
    ToggleProposal(usize),
    /// Ctrl+F, SAM > Find...: show or hide the Find panel.
    ToggleFind,
    /// Find (SAM 3) every instance of these comma-separated phrases (with the example boxes).
    Find(String),
    /// Shift+drag (positive) / Ctrl+drag (negative) with Find open: an example box; Find runs again.
    FindExample {
        box_in_image: [f32; 4],
        positive: bool,
    },
    /// Forget the example boxes.
    ClearFindExamples,
    /// SAM > Masks from boxes: SAM's mask for each box-only annotation of the image (or the
    /// selected one), stored into them as one undo step.
    MasksFromBoxes,
    /// The Find panel's "min score": instances scoring above it are proposed (Find runs again).
    FindThreshold(f32),
    /// Ctrl+D / Ctrl+E: mark the image "done" / "no objects" (again: unmark).
    MarkImage(&'static str),
    View(ViewChange),
    Undo,
    Redo,
    /// Enter: the preview becomes an annotation of the selected category.
    Accept,
    /// Esc: clear the prompt and go back to the prompt tool.
    ClearPrompt,
    /// Tab: the next multimask candidate (Shift+Tab: the previous one).
    CycleCandidate {
        forward: bool,
    },
    SelectImage(usize),
    NextImage,
    PreviousImage,
    SetTool(Tool),
    /// B / E: the tool, or back to prompting if it is on.
    ToggleTool(Tool),
    /// `[` / `]`: brush radius times this factor.
    ScaleBrush(f32),
    /// V, Edit > Edit as polygon: the selected annotation (or the preview) as polygons to edit;
    /// again: done.
    EditPolygons,
    /// The polygon panel's detail: the outline simplified again at this tolerance (image pixels).
    PolygonDetail(f64),
    SelectCategory(CategoryId),
    /// 1-9: the category at this position in the list.
    SelectCategoryAt(usize),
    AddCategory(String),
    /// Any dataset edit from the panels (rename, recolour, relabel, delete).
    Edit(Box<Edit>),
    SelectAnnotation(Option<AnnotationId>),
    ToggleHidden(AnnotationId),
    DeleteSelected,
    DismissMessage(usize),
    Canvas(CanvasAction),
}

/// The review states an image can be marked with (kept in its COCO entry).
pub const IMAGE_DONE: &str = "done";
pub const IMAGE_EMPTY: &str = "no objects";

/// Every key, for the shortcuts overlay (F1) and the README's key table.
pub const SHORTCUTS: [(&str, &str); 30] = [
    (
        "left click",
        "positive point (a click on a preview refines it)",
    ),
    ("right click, Shift+click", "negative point"),
    ("left drag", "box"),
    ("Ctrl+click", "select the accepted mask under the pointer"),
    ("hover", "the mask a click there would give"),
    ("Tab, Shift+Tab", "next / previous of the three candidates"),
    (
        "Enter",
        "accept the mask (or the selected proposals) under the selected category",
    ),
    (
        "G",
        "segment everything: proposals to click (select) and accept; Esc discards them",
    ),
    (
        "Ctrl+F",
        "Find (SAM 3): type what to find (\"car, person\"), Enter; every instance is proposed",
    ),
    (
        "Shift+drag, Ctrl+drag",
        "with Find open: an example box of what to find / of what not to find",
    ),
    ("Esc", "close a menu; else clear the prompt"),
    (
        "B / E",
        "brush / eraser on the preview or the selected mask",
    ),
    ("[ ]", "brush smaller / larger"),
    (
        "V",
        "edit the selected mask (or the preview) as polygons: drag vertices, click an edge to add one, right-click to delete; Enter: done",
    ),
    (
        "P",
        "polygon tool: click vertices; click the first one or Enter to finish",
    ),
    (
        "Delete (polygon editing)",
        "delete the vertex under the pointer",
    ),
    ("1-9", "select a category"),
    ("D / A, arrow keys", "next / previous image"),
    ("Ctrl+D", "mark the image done"),
    ("Ctrl+E", "mark the image: no objects"),
    ("wheel, + / -", "zoom around the cursor / the centre"),
    ("0", "fit the image"),
    ("middle drag, Space+drag", "pan"),
    ("Delete", "delete the selected mask"),
    ("Ctrl+Z", "undo (a prompt step while prompting)"),
    ("Ctrl+Shift+Z, Ctrl+Y", "redo"),
    (
        "Ctrl+S",
        "save now (edits are saved within a second anyway)",
    ),
    ("Ctrl+Q", "quit"),
    ("F1, ?", "this list"),
    ("right click on a category", "rename, delete"),
];

/// The keyboard shortcuts of the README's key table. Nothing while a text field has the keyboard.
pub fn keymap(ctx: &egui::Context) -> Vec<Command> {
    let mut commands = Vec::new();
    if ctx.egui_wants_keyboard_input() {
        return commands;
    }
    let shifted = Modifiers::COMMAND | Modifiers::SHIFT;
    let pressed_with =
        |modifiers: Modifiers, key: Key| ctx.input_mut(|i| i.consume_key(modifiers, key));
    // Ctrl+Shift+Z first: consuming Ctrl+Z would also match it.
    if pressed_with(shifted, Key::Z) {
        commands.push(Command::Redo);
    }
    if pressed_with(Modifiers::COMMAND, Key::Z) {
        commands.push(Command::Undo);
    }
    let with_command = [
        (Key::Y, Command::Redo),
        (Key::S, Command::Save),
        (Key::Q, Command::Quit),
        (Key::D, Command::MarkImage(IMAGE_DONE)),
        (Key::E, Command::MarkImage(IMAGE_EMPTY)),
        (Key::F, Command::ToggleFind),
    ];
    for (key, command) in with_command {
        if pressed_with(Modifiers::COMMAND, key) {
            commands.push(command);
        }
    }
    if pressed_with(Modifiers::NONE, Key::F1)
        || ctx.input_mut(|i| {
            let question = i
                .events
                .iter()
                .position(|e| matches!(e, egui::Event::Text(t) if t == "?"));
            question.map(|at| i.events.remove(at)).is_some()
        })
    {
        commands.push(Command::ToggleShortcuts);
    }
    if pressed_with(Modifiers::SHIFT, Key::Tab) {
        ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
        commands.push(Command::CycleCandidate { forward: false });
    }
    let pressed = |key: Key| pressed_with(Modifiers::NONE, key);
    // Tab and the arrows are ours on the canvas: keep egui from also moving keyboard focus.
    let keep_focus = || ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
    // Esc closes an open menu or colour picker first (egui does that); only then the prompt.
    let popup_open = egui::Popup::is_any_open(ctx);
    if !popup_open && pressed(Key::Escape) {
        commands.push(Command::ClearPrompt);
    }
    let simple = [
        (Key::Enter, Command::Accept),
        (Key::Tab, Command::CycleCandidate { forward: true }),
        (Key::D, Command::NextImage),
        (Key::ArrowRight, Command::NextImage),
        (Key::A, Command::PreviousImage),
        (Key::ArrowLeft, Command::PreviousImage),
        (Key::Delete, Command::DeleteSelected),
        (Key::Backspace, Command::DeleteSelected),
        (Key::B, Command::ToggleTool(Tool::Brush)),
        (Key::G, Command::SegmentEverything(None)),
        (Key::E, Command::ToggleTool(Tool::Eraser)),
        (Key::V, Command::EditPolygons),
        (Key::P, Command::ToggleTool(Tool::Polygon)),
        (Key::OpenBracket, Command::ScaleBrush(1.0 / 1.25)),
        (Key::CloseBracket, Command::ScaleBrush(1.25)),
    ];
    for (key, command) in simple {
        if pressed(key) {
            if matches!(key, Key::Tab | Key::ArrowLeft | Key::ArrowRight) {
                keep_focus();
            }
            // D and → in one frame are one step.
            if !commands.contains(&command)
                || !matches!(command, Command::NextImage | Command::PreviousImage)
            {
                commands.push(command);
            }
        }
    }
    let digits = [
        Key::Num1,
        Key::Num2,
        Key::Num3,
        Key::Num4,
        Key::Num5,
        Key::Num6,
        Key::Num7,
        Key::Num8,
        Key::Num9,
    ];
    for (i, key) in digits.into_iter().enumerate() {
        if pressed(key) {
            commands.push(Command::SelectCategoryAt(i));
        }
    }
    commands
}
