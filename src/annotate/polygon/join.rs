//! Several parts as one polygon, for formats with one outline per object (YOLO segmentation).
//!
//! As Ultralytics' `merge_multi_segment` does, parts are linked at their closest pair of vertices
//! and each link is walked there and back, so it encloses nothing whatever the fill rule. But a
//! rasterizer still draws every link as a line one pixel wide, so which links are used matters:
//! here they form a minimum spanning tree over the parts (the shortest links that reach them all,
//! from the largest part), walked depth first; and a part smaller than the line that would reach it
//! is left out (and reported) rather than drawn with a longer line than itself.

/// A closed outline to join: its vertices and the pixels it holds.
#[derive(Clone)]
pub(super) struct Ring {
    pub points: Vec<[f64; 2]>,
    pub area: u64,
}

/// The joined outline and the parts left out of it: (how many, pixels).
pub(super) struct Joined {
    pub points: Vec<[f64; 2]>,
    pub left_out: (usize, u64),
}

/// The link from a part in the tree to one outside it.
#[derive(Clone, Copy)]
struct Link {
    /// Squared length.
    d2: f64,
    parent: usize,
    /// The vertex of the parent and of the child it joins.
    at_parent: usize,
    at_child: usize,
}

/// The closest pair of vertices of `a` and `b`: (squared distance, vertex of `a`, vertex of `b`).
fn closest(a: &[[f64; 2]], b: &[[f64; 2]]) -> (f64, usize, usize) {
    let mut best = (f64::INFINITY, 0, 0);
    for (i, p) in a.iter().enumerate() {
        for (j, q) in b.iter().enumerate() {
            let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
            if d2 < best.0 {
                best = (d2, i, j);
            }
        }
    }
    best
}

fn bbox(points: &[[f64; 2]]) -> [f64; 4] {
    points.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |b, p| {
            [
                b[0].min(p[0]),
                b[1].min(p[1]),
                b[2].max(p[0]),
                b[3].max(p[1]),
            ]
        },
    )
}

/// The squared distance between two boxes (0 when they overlap): no two vertices are closer.
fn gap2(a: [f64; 4], b: [f64; 4]) -> f64 {
    let dx = (a[0] - b[2]).max(b[0] - a[2]).max(0.0);
    let dy = (a[1] - b[3]).max(b[1] - a[3]).max(0.0);
    dx * dx + dy * dy
}

/// The pixels a line between two boundary pixel centres draws outside them.
fn link_pixels(p: [f64; 2], q: [f64; 2]) -> u64 {
    let steps = (p[0] - q[0]).abs().max((p[1] - q[1]).abs()).round() as u64;
    steps.saturating_sub(1)
}

/// Joins `rings` (any order; the largest is the root) into one closed outline; with `prune`, the
/// branches smaller than their links are left out.
pub(super) fn join(rings: Vec<Ring>, prune: bool) -> Joined {
    let n = rings.len();
    let Some(root) = (0..n).max_by_key(|&i| rings[i].area) else {
        return Joined {
            points: Vec::new(),
            left_out: (0, 0),
        };
    };
    // Prim's algorithm from the root; box gaps spare most vertex-pair searches.
    let boxes: Vec<[f64; 4]> = rings.iter().map(|r| bbox(&r.points)).collect();
    let mut link: Vec<Option<Link>> = vec![None; n];
    let mut in_tree = vec![false; n];
    in_tree[root] = true;
    let mut best: Vec<Option<Link>> = vec![None; n];
    let mut added = root;
    for _ in 1..n {
        for j in 0..n {
            if in_tree[j] || best[j].is_some_and(|b| gap2(boxes[added], boxes[j]) >= b.d2) {
                continue;
            }
            let (d2, at_parent, at_child) = closest(&rings[added].points, &rings[j].points);
            if best[j].is_none_or(|b| d2 < b.d2) {
                best[j] = Some(Link {
                    d2,
                    parent: added,
                    at_parent,
                    at_child,
                });
            }
        }
        let Some(next) = (0..n).filter(|&j| !in_tree[j]).min_by(|&i, &j| {
            let d = |k: usize| best[k].map_or(f64::INFINITY, |b| b.d2);
            d(i).total_cmp(&d(j))
        }) else {
            break;
        };
        in_tree[next] = true;
        link[next] = best[next];
        added = next;
    }
    // Leave out every branch that holds fewer pixels than its links would draw: a branch's worth is
    // its pixels plus its children's worth less their links, where positive (children first).
    let cost = |i: usize| {
        link[i].map_or(0, |l| {
            link_pixels(
                rings[l.parent].points[l.at_parent],
                rings[i].points[l.at_child],
            )
        })
    };
    let order = depth_first(&link, root);
    let mut worth: Vec<i64> = rings.iter().map(|r| r.area as i64).collect();
    let mut kept = vec![true; n];
    for &i in order.iter().rev() {
        let Some(l) = link[i] else { continue };
        let net = worth[i] - cost(i) as i64;
        if net > 0 || !prune {
            worth[l.parent] += net;
        } else {
            kept[i] = false;
        }
    }
    // A branch left out goes whole.
    for &i in &order {
        if let Some(l) = link[i]
            && !kept[l.parent]
        {
            kept[i] = false;
        }
    }
    let left_out = (0..n)
        .filter(|&i| !kept[i])
        .fold((0, 0), |(count, px), i| (count + 1, px + rings[i].area));
    Joined {
        points: walk(&rings, &link, &kept, root),
        left_out,
    }
}

/// The parts in depth-first order from the root (each after its parent).
fn depth_first(link: &[Option<Link>], root: usize) -> Vec<usize> {
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); link.len()];
    for (child, l) in link.iter().enumerate() {
        if let Some(l) = l {
            children[l.parent].push(child);
        }
    }
    let mut order = Vec::with_capacity(link.len());
    let mut stack = vec![root];
    while let Some(i) = stack.pop() {
        order.push(i);
        stack.extend(&children[i]);
    }
    order
}

/// One part on the depth-first walk: entered at `entry`, its children in the order met going
/// round from there, `done` of them visited, `at` vertices walked.
struct Frame {
    part: usize,
    entry: usize,
    /// (offset from the entry, vertex of this part, child, vertex of the child).
    kids: Vec<(usize, usize, usize, usize)>,
    done: usize,
    at: usize,
}

/// The outline: round the root from its first vertex, and at each link out to the child's ring,
/// round it (and its own children) and back, then on round the parent. Iterative: a tree of
/// thousands of parts must not exhaust the stack.
fn walk(rings: &[Ring], link: &[Option<Link>], kept: &[bool], root: usize) -> Vec<[f64; 2]> {
    let mut kids_of: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); rings.len()];
    for (child, l) in link.iter().enumerate() {
        if let Some(l) = l
            && kept[child]
        {
            kids_of[l.parent].push((l.at_parent, child, l.at_child));
        }
    }
    let frame = |part: usize, entry: usize| {
        let n = rings[part].points.len();
        let mut kids: Vec<(usize, usize, usize, usize)> = kids_of[part]
            .iter()
            .map(|&(at, child, at_child)| ((at + n - entry) % n, at, child, at_child))
            .collect();
        kids.sort_unstable();
        Frame {
            part,
            entry,
            kids,
            done: 0,
            at: 0,
        }
    };
    let mut path = vec![rings[root].points[0]];
    let mut stack = vec![frame(root, 0)];
    while let Some(top) = stack.last_mut() {
        let points = &rings[top.part].points;
        let n = points.len();
        if let Some(&(offset, _, child, at_child)) = top.kids.get(top.done) {
            path.extend((top.at + 1..=offset).map(|k| points[(top.entry + k) % n]));
            top.at = offset;
            top.done += 1;
            path.push(rings[child].points[at_child]);
            stack.push(frame(child, at_child));
            continue;
        }
        // All round, back to the entry.
        path.extend((top.at + 1..=n).map(|k| points[(top.entry + k) % n]));
        stack.pop();
        if let Some(parent) = stack.last() {
            let (_, at, _, _) = parent.kids[parent.done - 1];
            path.push(rings[parent.part].points[at]);
        }
    }
    // The root's walk ends where it began; the polygon closes by itself.
    path.pop();
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, side: f64) -> Ring {
        Ring {
            points: vec![
                [x0, y0],
                [x0 + side, y0],
                [x0 + side, y0 + side],
                [x0, y0 + side],
            ],
            area: (side * side) as u64,
        }
    }

    #[test]
    fn one_ring_is_itself() {
        let joined = join(vec![square(1.0, 1.0, 3.0)], true);
        assert_eq!(joined.points, square(1.0, 1.0, 3.0).points);
        assert_eq!(joined.left_out, (0, 0));
    }

    #[test]
    fn parts_are_linked_along_a_tree_there_and_back() {
        // A big square with two small ones beside it, left and right: a star, not a chain.
        let joined = join(
            vec![
                square(10.0, 0.0, 4.0),
                square(0.0, 0.0, 3.0),
                square(19.0, 0.0, 3.0),
            ],
            true,
        );
        let p = &joined.points;
        // Every ring's 4 vertices plus its closing one, and each link's parent vertex again.
        assert_eq!(p.len(), 5 + 5 + 4 + 2, "{p:?}");
        // Each link is walked both ways: every segment between parts appears reversed too.
        let segments: Vec<([f64; 2], [f64; 2])> = (0..p.len())
            .map(|i| (p[i], p[(i + 1) % p.len()]))
            .filter(|(a, b)| (a[0] - b[0]).abs() > 4.5)
            .collect();
        assert_eq!(segments.len(), 4, "{segments:?}");
        for (a, b) in &segments {
            assert!(segments.contains(&(*b, *a)), "{a:?}-{b:?} walked one way");
        }
        // The longest link is the big square's gap to the left one (7 px), not a chain across.
        let longest = segments
            .iter()
            .map(|(a, b)| (a[0] - b[0]).abs())
            .fold(0.0, f64::max);
        assert_eq!(longest, 7.0);
    }

    #[test]
    fn a_part_smaller_than_its_link_is_left_out() {
        let mut far = square(200.0, 0.0, 3.0);
        far.area = 9;
        let rings = || vec![square(0.0, 0.0, 10.0), far.clone(), square(12.0, 0.0, 3.0)];
        let joined = join(rings(), true);
        assert_eq!(joined.left_out, (1, 9));
        assert!(joined.points.iter().all(|p| p[0] < 100.0));
        // Unpruned (drawn polygons), every ring is in.
        let all = join(rings(), false);
        assert_eq!(all.left_out, (0, 0));
        assert_eq!(all.points.len(), 5 + 5 + 4 + 2);
    }
}
