//! What the user asked for this frame. The keymap, the menu, the panels and the canvas only emit
//! commands; `SamApp::apply` carries them out in one place at the end of the frame.

use std::path::PathBuf;

use egui::{Key, Modifiers};

use super::canvas::{CanvasAction, Tool};
use crate::annotate::dataset::{AnnotationId, CategoryId, Edit};

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    OpenImagesDialog,
    OpenFolderDialog,
    OpenDatasetDialog,
    OpenDataset(PathBuf),
    /// Replace an unreadable dataset file with its `.bak`.
    RestoreBackup,
    Save,
    Quit,
    Undo,
    Redo,
    /// Enter: the preview becomes an annotation of the selected category.
    Accept,
    /// Esc: clear the prompt and go back to the prompt tool.
    ClearPrompt,
    /// Tab: the next multimask candidate.
    CycleCandidate,
    SelectImage(usize),
    NextImage,
    PreviousImage,
    SetTool(Tool),
    /// B / E: the tool, or back to prompting if it is on.
    ToggleTool(Tool),
    /// `[` / `]`: brush radius times this factor.
    ScaleBrush(f32),
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
    if pressed_with(Modifiers::COMMAND, Key::S) {
        commands.push(Command::Save);
    }
    let pressed = |key: Key| pressed_with(Modifiers::NONE, key);
    // Tab and the arrows are ours on the canvas: keep egui from also moving keyboard focus.
    let keep_focus = || ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
    let simple = [
        (Key::Enter, Command::Accept),
        (Key::Escape, Command::ClearPrompt),
        (Key::Tab, Command::CycleCandidate),
        (Key::D, Command::NextImage),
        (Key::ArrowRight, Command::NextImage),
        (Key::A, Command::PreviousImage),
        (Key::ArrowLeft, Command::PreviousImage),
        (Key::Delete, Command::DeleteSelected),
        (Key::Backspace, Command::DeleteSelected),
        (Key::B, Command::ToggleTool(Tool::Brush)),
        (Key::E, Command::ToggleTool(Tool::Eraser)),
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
