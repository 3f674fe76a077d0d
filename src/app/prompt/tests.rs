//! Every row of the README's key table that acts on the prompt, without a window or a model: the
//! worker's answers are made up, the requests the state machine asks for are checked.

use std::time::Duration;

use super::*;

const SIZE: (u32, u32) = (40, 30);
const LOW_RES_LEN: usize = 256 * 256;

/// A decoder answer with `count` candidates (candidate `i`'s logits are all `i`), `index` chosen.
fn prediction(count: usize, index: usize) -> Prediction {
    Prediction {
        mask: Mask::from_fn(SIZE.0, SIZE.1, |i| i < 10),
        score: 0.9,
        index,
        candidates: Candidates {
            low_res: (0..count * LOW_RES_LEN)
                .map(|i| (i / LOW_RES_LEN) as f32)
                .collect(),
            iou: (0..count).map(|i| 0.5 + i as f32 / 10.0).collect(),
        },
        model_from_image: ModelFromImage::new(SIZE.0, SIZE.1, 1024),
        decoder: Duration::ZERO,
        postprocess: Duration::ZERO,
    }
}

/// Sends the due decode and answers it; returns the prompt the worker was asked to decode.
fn decode(state: &mut PromptState, count: usize, index: usize) -> Prompt {
    match state.next_request(true, true) {
        Some(Ask::Decode { seq, prompt, hover }) => {
            assert!(state.on_decoded(seq, prediction(count, index)));
            assert_eq!(hover, state.preview().is_some_and(Preview::is_hover));
            prompt
        }
        other => panic!("expected a decode, got {other:?}"),
    }
}

fn full_mask() -> Mask {
    Mask::from_fn(SIZE.0, SIZE.1, |i| i < 50)
}

/// Answers the due full-resolution render; returns what it did.
fn render_full(state: &mut PromptState) -> Rendered {
    match state.next_request(true, true) {
        Some(Ask::Render {
            seq, index, full, ..
        }) => {
            assert!(full);
            state.on_rendered(seq, index, true, full_mask())
        }
        other => panic!("expected a full render, got {other:?}"),
    }
}

#[test]
fn a_click_decodes_one_positive_point_and_shows_the_mask() {
    let mut state = PromptState::default();
    assert_eq!(state.next_request(true, false), None);
    state.add_point([3.0, 4.0], true);
    // Nothing is sent before the embedding is ready.
    assert_eq!(state.next_request(false, true), None);
    assert!(state.is_busy());
    let prompt = decode(&mut state, 4, 2);
    assert_eq!(
        prompt.points,
        vec![PointPrompt {
            point_in_image: [3.0, 4.0],
            positive: true
        }]
    );
    assert!(prompt.box_in_image.is_none() && prompt.mask_input.is_none());
    assert!(state.shown_mask().is_some());
    assert!(!state.is_busy());
    assert_eq!(state.next_request(true, true), None, "nothing more is due");
}

#[test]
fn a_second_click_refines_with_the_previous_mask_and_a_negative_point() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 2);
    state.add_point([10.0, 10.0], false);
    let prompt = decode(&mut state, 4, 0);
    assert_eq!(prompt.points.len(), 2);
    assert!(!prompt.points[1].positive);
    let mask_input = prompt.mask_input.expect("the previous mask is fed back");
    assert!(mask_input.iter().all(|&v| v == 2.0), "candidate 2's logits");
}

#[test]
fn a_box_and_a_box_with_a_point_decode_together() {
    let mut state = PromptState::default();
    state.set_box([1.0, 2.0, 20.0, 25.0]);
    let prompt = decode(&mut state, 1, 0);
    assert_eq!(prompt.box_in_image, Some([1.0, 2.0, 20.0, 25.0]));
    assert!(prompt.points.is_empty());

    state.add_point([5.0, 5.0], true);
    let prompt = decode(&mut state, 1, 0);
    assert_eq!(prompt.box_in_image, Some([1.0, 2.0, 20.0, 25.0]));
    assert_eq!(prompt.points.len(), 1);
    assert!(
        prompt.mask_input.is_none(),
        "one point: nothing to refine yet"
    );
}

#[test]
fn only_the_newest_decode_is_shown() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    let Some(Ask::Decode { seq: first, .. }) = state.next_request(true, true) else {
        panic!("a decode")
    };
    // While it runs, nothing else is sent; the next click waits for it.
    state.add_point([6.0, 6.0], true);
    assert_eq!(state.next_request(true, true), None);
    assert!(state.on_decoded(first, prediction(4, 1)));
    let prompt = decode(&mut state, 4, 0);
    assert_eq!(prompt.points.len(), 2);
    // An answer for a decode that was overtaken is dropped.
    assert!(!state.on_decoded(first, prediction(4, 1)));
}

#[test]
fn tab_cycles_the_three_candidates_through_the_worker() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 3);
    let mut seen = Vec::new();
    for _ in 0..3 {
        state.cycle_candidate();
        let Some(Ask::Render {
            seq,
            index,
            logits,
            full,
            ..
        }) = state.next_request(true, true)
        else {
            panic!("Tab asks for the candidate's mask")
        };
        assert!(!full);
        assert!(logits.iter().all(|&v| v == index as f32));
        let predicted = state.preview().and_then(Preview::predicted).unwrap();
        assert!(
            !predicted.is_current(),
            "the old mask shows until the new one arrives"
        );
        let mask = Mask::from_fn(SIZE.0, SIZE.1, |i| i == index);
        assert_eq!(state.on_rendered(seq, index, false, mask), Rendered::Shown);
        assert!(state.shown_mask().unwrap().get(index as u32, 0));
        seen.push(index);
    }
    assert_eq!(seen, vec![1, 2, 3]);

    // A single-mask answer has nothing to cycle.
    state.clear();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 1, 0);
    state.cycle_candidate();
    assert_eq!(state.next_request(true, true), None);
}

#[test]
fn enter_waits_for_the_full_resolution_mask_then_accepts_it() {
    let mut state = PromptState::default();
    assert!(matches!(state.accept(), Accept::Nothing));
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    assert!(matches!(state.accept(), Accept::Waiting));
    assert!(state.is_busy() && state.is_waiting_for_full());
    // Asking again does not ask the worker twice.
    assert!(matches!(state.accept(), Accept::Waiting));
    assert_eq!(render_full(&mut state), Rendered::Shown);
    assert_eq!(state.next_request(true, true), None);
    assert!(!state.is_waiting_for_full());
    match state.accept() {
        Accept::Ready(mask) => assert!(*mask == full_mask()),
        _ => panic!("the full mask is there"),
    }
    state.clear();
    assert!(state.preview().is_none() && state.is_empty());
}

#[test]
fn escape_clears_the_prompt_and_drops_answers_on_their_way() {
    let mut state = PromptState::default();
    state.set_box([1.0, 2.0, 20.0, 25.0]);
    state.add_point([5.0, 5.0], false);
    let Some(Ask::Decode { seq, .. }) = state.next_request(true, true) else {
        panic!("a decode")
    };
    state.clear();
    assert!(state.is_empty() && state.preview().is_none() && !state.is_busy());
    assert!(!state.on_decoded(seq, prediction(1, 0)), "Esc'd answer");
    assert!(state.preview().is_none());
}

#[test]
fn undo_takes_back_points_one_by_one_and_redo_brings_them_back() {
    let mut state = PromptState::default();
    assert!(!state.undo(), "no prompt: the dataset's undo is next");
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    state.add_point([8.0, 8.0], false);
    decode(&mut state, 4, 0);

    assert!(state.undo());
    let prompt = decode(&mut state, 4, 1);
    assert_eq!(prompt.points.len(), 1);
    assert!(state.undo());
    assert!(state.is_empty() && state.preview().is_none());
    assert_eq!(state.next_request(true, false), None);

    assert!(state.redo() && state.redo());
    assert!(!state.redo());
    assert_eq!(decode(&mut state, 4, 1).points.len(), 2);
    // A new point clears what could be redone.
    assert!(state.undo());
    state.add_point([1.0, 1.0], true);
    assert!(!state.redo());
}

#[test]
fn hover_decodes_once_per_pixel_and_gives_way_to_a_click() {
    let mut state = PromptState::default();
    state.hover(Some([5.2, 6.7]));
    // Not while another tool is active.
    assert_eq!(state.next_request(true, false), None);
    let prompt = decode(&mut state, 4, 1);
    assert_eq!(prompt.points[0].point_in_image, [5.5, 6.5]);
    assert!(state.preview().unwrap().is_hover());
    assert!(
        state.shown_mask().is_none(),
        "a hover preview is not a prompt"
    );
    assert!(matches!(state.accept(), Accept::Nothing));

    // Resting on the same pixel, frame after frame, sends nothing.
    for _ in 0..100 {
        state.hover(Some([5.9, 6.1]));
        assert_eq!(state.next_request(true, true), None);
    }
    // Another pixel: one more decode.
    state.hover(Some([7.0, 6.0]));
    decode(&mut state, 4, 1);

    // A click replaces the hover preview; hovering no longer decodes.
    state.add_point([7.0, 6.0], true);
    assert!(state.preview().is_none());
    decode(&mut state, 4, 1);
    state.hover(Some([20.0, 20.0]));
    assert_eq!(state.next_request(true, true), None);

    // Leaving the image drops a hover preview.
    state.clear();
    state.hover(Some([1.0, 1.0]));
    decode(&mut state, 4, 1);
    state.hover(None);
    assert!(state.preview().is_none());
}

#[test]
fn the_brush_edits_a_preview_at_full_resolution() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    let stroke = Stroke {
        from: [30.0, 20.0],
        to: [35.0, 20.0],
        radius: 2.0,
        inside: true,
    };
    // The stroke waits for the full-resolution mask, then lands on it.
    state.paint_on(stroke, SIZE);
    assert!(state.is_busy());
    assert_eq!(render_full(&mut state), Rendered::Shown);
    let painted = state.shown_mask().unwrap();
    assert!(
        painted.get(32, 20) && painted.get(0, 0),
        "stroke on the model's mask"
    );
    assert!(matches!(
        state.preview(),
        Some(Preview::Painted { from: Some(_), .. })
    ));
    // The eraser works on it at once, and Enter takes the painted mask.
    state.paint_on(
        Stroke {
            inside: false,
            ..stroke
        },
        SIZE,
    );
    assert!(!state.shown_mask().unwrap().get(32, 20));
    assert!(matches!(state.accept(), Accept::Ready(m) if m.get(0, 0)));

    // Another click still refines with the model's answer.
    state.add_point([8.0, 8.0], true);
    let prompt = decode(&mut state, 4, 0);
    assert!(prompt.mask_input.is_some());

    // Painting without a prompt starts a hand-made preview.
    state.clear();
    state.paint_on(stroke, SIZE);
    let mask = state.shown_mask().unwrap();
    assert!(mask.get(32, 20) && !mask.get(0, 0));
    assert_eq!((mask.width(), mask.height()), SIZE);
}
