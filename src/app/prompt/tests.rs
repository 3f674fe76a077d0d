//! Every row of the README's key table that acts on the prompt, without a window or a model: the
//! worker's answers are made up, the requests the state machine asks for are checked.

use std::time::{Duration, Instant};

use super::*;
use crate::sam::Candidates;
use crate::sam::family::TokenRule;

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
            rule: TokenRule::SingleFirst,
        },
        model_from_image: ModelFromImage::new(SIZE.0, SIZE.1, 1024),
        decoder: Duration::ZERO,
        postprocess: Duration::ZERO,
    }
}

/// Sends the due decode and answers it; returns the prompt the worker was asked to decode.
fn decode(state: &mut PromptState, count: usize, index: usize) -> Prompt {
    match state.next_request(true, true, later()) {
        Some(Ask::Decode { seq, prompt, hover }) => {
            assert!(state.on_decoded(seq, prediction(count, index)));
            assert_eq!(hover, state.preview().is_some_and(Preview::is_hover));
            prompt
        }
        other => panic!("expected a decode, got {other:?}"),
    }
}

/// A moment long after any hover started: the pointer has rested.
fn later() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn full_mask() -> Mask {
    Mask::from_fn(SIZE.0, SIZE.1, |i| i < 50)
}

/// Answers the due full-resolution render; returns what it did.
fn render_full(state: &mut PromptState) -> Rendered {
    match state.next_request(true, true, later()) {
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
    assert_eq!(state.next_request(true, false, later()), None);
    state.add_point([3.0, 4.0], true);
    // Nothing is sent before the embedding is ready.
    assert_eq!(state.next_request(false, true, later()), None);
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
    assert_eq!(
        state.next_request(true, true, later()),
        None,
        "nothing more is due"
    );
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
    let Some(Ask::Decode { seq: first, .. }) = state.next_request(true, true, later()) else {
        panic!("a decode")
    };
    // While it runs, nothing else is sent; the next click waits for it.
    state.add_point([6.0, 6.0], true);
    assert_eq!(state.next_request(true, true, later()), None);
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
        state.cycle_candidate(true);
        let Some(Ask::Render {
            seq,
            index,
            logits,
            full,
            ..
        }) = state.next_request(true, true, later())
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
    state.cycle_candidate(true);
    assert_eq!(state.next_request(true, true, later()), None);
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
    assert_eq!(state.next_request(true, true, later()), None);
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
    let Some(Ask::Decode { seq, .. }) = state.next_request(true, true, later()) else {
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
    assert_eq!(state.next_request(true, false, later()), None);

    assert!(state.redo() && state.redo());
    assert!(!state.redo());
    assert_eq!(decode(&mut state, 4, 1).points.len(), 2);
    // A new point clears what could be redone.
    assert!(state.undo());
    state.add_point([1.0, 1.0], true);
    assert!(!state.redo());
}

#[test]
fn hover_decodes_once_per_pixel_after_a_short_rest_and_gives_way_to_a_click() {
    let mut state = PromptState::default();
    let t0 = Instant::now();
    state.hover(Some([5.2, 6.7]), t0);
    // Not before the pointer has rested, and not while another tool is active.
    assert_eq!(state.next_request(true, true, t0), None);
    assert_eq!(state.hover_wait(t0), Some(HOVER_REST));
    assert_eq!(state.next_request(true, false, t0 + HOVER_REST), None);
    let Some(Ask::Decode { seq, prompt, hover }) = state.next_request(true, true, t0 + HOVER_REST)
    else {
        panic!("a hover decode")
    };
    assert!(hover);
    assert_eq!(prompt.points[0].point_in_image, [5.5, 6.5]);
    assert!(state.on_decoded(seq, prediction(4, 1)));
    assert!(state.preview().unwrap().is_hover());
    assert!(
        state.shown_mask().is_none(),
        "a hover preview is not a prompt"
    );
    assert!(matches!(state.accept(), Accept::HoverOnly));
    assert!(!state.has_work() && !state.undo());

    // Resting on the same pixel, frame after frame, sends nothing.
    let sent = state.decodes_sent();
    for frame in 0..1000 {
        let now = t0 + Duration::from_millis(frame);
        state.hover(Some([5.9, 6.1]), now);
        assert_eq!(state.next_request(true, true, now + HOVER_REST), None);
    }
    assert_eq!(state.decodes_sent(), sent);
    // Passing over pixels without resting sends nothing either; resting on one sends one decode.
    for x in 10..20 {
        state.hover(Some([x as f32, 6.0]), t0 + Duration::from_millis(x));
        assert_eq!(
            state.next_request(true, true, t0 + Duration::from_millis(x)),
            None
        );
    }
    decode(&mut state, 4, 1);
    assert_eq!(state.decodes_sent(), sent + 1);

    // A click replaces the hover preview; hovering no longer decodes.
    state.add_point([7.0, 6.0], true);
    assert!(state.preview().is_none());
    decode(&mut state, 4, 1);
    state.hover(Some([20.0, 20.0]), t0);
    assert_eq!(state.next_request(true, true, later()), None);

    // Leaving the image drops a hover preview.
    state.clear();
    state.hover(Some([1.0, 1.0]), t0);
    decode(&mut state, 4, 1);
    state.hover(None, t0);
    assert!(state.preview().is_none());
}

fn stroke(x: f32, inside: bool) -> Stroke {
    Stroke {
        from: [x, 20.0],
        to: [x + 5.0, 20.0],
        radius: 2.0,
        inside,
    }
}

#[test]
fn the_brush_edits_a_preview_at_full_resolution() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    // The stroke waits for the full-resolution mask, then lands on it.
    state.paint_on(stroke(30.0, true), SIZE);
    state.end_stroke();
    assert!(state.is_busy() && state.is_waiting_for_full());
    assert_eq!(render_full(&mut state), Rendered::Shown);
    let painted = state.shown_mask().unwrap();
    assert!(
        painted.get(32, 20) && painted.get(0, 0),
        "stroke on the model's mask"
    );
    assert!(state.preview().unwrap().is_edited());
    // The eraser works on it at once, and Enter takes the painted mask.
    state.paint_on(stroke(30.0, false), SIZE);
    state.end_stroke();
    assert!(!state.shown_mask().unwrap().get(32, 20));
    assert!(matches!(state.accept(), Accept::Ready(m) if m.get(0, 0)));

    // Another click still refines with the model's answer.
    state.add_point([8.0, 8.0], true);
    let prompt = decode(&mut state, 4, 0);
    assert!(prompt.mask_input.is_some());

    // Painting without a prompt starts a hand-made preview.
    state.clear();
    state.paint_on(stroke(30.0, true), SIZE);
    let mask = state.shown_mask().unwrap();
    assert!(mask.get(32, 20) && !mask.get(0, 0));
    assert_eq!((mask.width(), mask.height()), SIZE);
    assert!(
        state.preview().unwrap().predicted().is_none(),
        "no score for a painted mask"
    );
}

#[test]
fn brush_strokes_are_undo_steps_of_their_own() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    // Two strokes, each of several segments.
    for x in [30.0, 10.0] {
        state.paint_on(stroke(x, true), SIZE);
        if state.is_waiting_for_full() {
            render_full(&mut state);
        }
        state.paint_on(stroke(x + 2.0, true), SIZE);
        state.end_stroke();
    }
    let both = state.shown_mask().unwrap().clone();
    assert!(both.get(32, 20) && both.get(12, 20));

    // Ctrl+Z takes back the last stroke, then the first, then the point.
    assert!(state.undo());
    assert!(state.shown_mask().unwrap().get(32, 20) && !state.shown_mask().unwrap().get(12, 20));
    assert!(state.undo());
    assert!(!state.preview().unwrap().is_edited());
    assert!(state.undo());
    assert!(state.preview().is_none() && state.is_empty());

    // Redo brings back the point (decoded again) and both strokes on it.
    assert!(state.redo() && state.redo() && state.redo());
    assert!(!state.redo());
    decode(&mut state, 4, 1);
    render_full(&mut state);
    assert!(*state.shown_mask().unwrap() == both);

    // Strokes from nothing undo the same way.
    state.clear();
    state.paint_on(stroke(30.0, true), SIZE);
    state.end_stroke();
    assert!(state.undo());
    assert!(state.preview().is_none());
    assert!(state.redo());
    assert!(state.shown_mask().unwrap().get(32, 20));
}

#[test]
fn each_candidate_keeps_its_own_edits_through_tab() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 1);
    state.paint_on(stroke(30.0, true), SIZE);
    render_full(&mut state);
    state.end_stroke();
    assert!(state.shown_mask().unwrap().get(32, 20));

    // Tab: candidate 2 has no edits; its mask comes from the worker.
    state.cycle_candidate(true);
    assert!(!state.preview().unwrap().is_edited());
    let Some(Ask::Render { seq, index, .. }) = state.next_request(true, true, later()) else {
        panic!("the candidate's mask")
    };
    assert_eq!(index, 2);
    state.on_rendered(seq, index, false, Mask::new(SIZE.0, SIZE.1));
    // Shift+Tab back: candidate 1 with its stroke, at once.
    state.cycle_candidate(false);
    assert!(state.shown_mask().unwrap().get(32, 20));
    assert!(matches!(state.accept(), Accept::Ready(m) if m.get(32, 20)));
}

#[test]
fn a_parked_prompt_asks_again_for_what_it_was_waiting_for() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    let Some(Ask::Decode { seq, .. }) = state.next_request(true, true, later()) else {
        panic!("a decode")
    };
    // The user goes to another image before the answer comes.
    state.park();
    assert!(
        !state.on_decoded(seq, prediction(4, 1)),
        "the answer was for the old visit"
    );
    // Back on the image: the same prompt is decoded again.
    let prompt = decode(&mut state, 4, 1);
    assert_eq!(prompt.points.len(), 1);
    assert!(state.has_work() && state.shown_mask().is_some());
}

#[test]
fn a_new_model_decodes_the_same_points_again_without_the_old_answer() {
    let mut state = PromptState::default();
    state.add_point([3.0, 4.0], true);
    decode(&mut state, 4, 2);
    state.add_point([8.0, 9.0], false);
    // The second click is on its way when the user switches models.
    let Some(Ask::Decode { seq, .. }) = state.next_request(true, true, later()) else {
        panic!("expected a decode");
    };
    state.model_changed();
    assert!(state.preview().is_none(), "the old model's mask is gone");
    assert!(
        !state.on_decoded(seq, prediction(4, 1)),
        "its late answer is stale"
    );
    // Nothing is sent until the image is encoded with the new model; then both points, and no
    // low-res mask of the old model.
    assert_eq!(state.next_request(false, true, later()), None);
    let prompt = decode(&mut state, 3, 0);
    assert_eq!(prompt.points.len(), 2);
    assert!(prompt.mask_input.is_none());
    assert!(state.preview().is_some());
}
