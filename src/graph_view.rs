//! `grapevine graph`: a picture of one's gossip network, as DOT or as SVG drawn in-process.
//!
//! The SVG is a radial layout like Patchwork's network view: you in the middle, people you
//! follow on the first ring, their friends on the next, blocked feeds on an outer ring. Follows
//! are arrows that end at the followed node's edge and bend around any node in their way; a
//! node's area grows with how many of its messages are held; feeds heard from lately (bundles or
//! sessions) wear a green ring, pubs are drawn large, and a legend says all of this.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use crate::graph::{Exclusion, Graph, ReplicationSet};
use crate::ids::FeedId;

/// One feed in the picture.
#[derive(Clone, Debug)]
pub struct Node {
    pub feed: FeedId,
    pub label: String,
    /// Hops from me; `None` for excluded feeds.
    pub distance: Option<u32>,
    pub excluded: Option<Exclusion>,
    pub held: u64,
    /// Heard from lately: a bundle or session of it arrived recently.
    pub gossiping: bool,
    /// An always-on peer (`pub add`).
    pub is_pub: bool,
}

/// What the picture knows of each feed besides the graph.
#[derive(Default)]
pub struct Marks {
    pub names: HashMap<FeedId, String>,
    pub held: HashMap<FeedId, u64>,
    pub gossiping: HashSet<FeedId>,
    pub pubs: HashSet<FeedId>,
}

/// The nodes (replication set, then excluded feeds) and follow edges between them.
pub struct Picture {
    pub nodes: Vec<Node>,
    pub edges: Vec<(usize, usize)>,
}

impl Picture {
    pub fn new(graph: &Graph, set: &ReplicationSet, marks: &Marks) -> Self {
        let node = |feed: FeedId, distance: Option<u32>, excluded: Option<Exclusion>| Node {
            feed,
            label: marks
                .names
                .get(&feed)
                .cloned()
                .unwrap_or_else(|| feed.short()),
            distance,
            excluded,
            held: marks.held.get(&feed).copied().unwrap_or(0),
            gossiping: marks.gossiping.contains(&feed),
            is_pub: marks.pubs.contains(&feed),
        };
        let mut nodes: Vec<Node> = set
            .members()
            .into_iter()
            .map(|(feed, d)| node(feed, Some(d), None))
            .collect();
        let mut excluded: Vec<_> = set.excluded.iter().collect();
        excluded.sort_by_key(|(f, _)| **f);
        for (feed, why) in excluded {
            nodes.push(node(*feed, None, Some(*why)));
        }
        let index: HashMap<FeedId, usize> =
            nodes.iter().enumerate().map(|(i, n)| (n.feed, i)).collect();
        let mut edges = Vec::new();
        for (i, node) in nodes.iter().enumerate() {
            for to in graph.follows(&node.feed) {
                if let Some(&j) = index.get(to) {
                    edges.push((i, j));
                }
            }
        }
        Self { nodes, edges }
    }

    pub fn dot(&self) -> String {
        let mut out = String::from("digraph grapevine {\n  node [shape=circle];\n");
        for node in &self.nodes {
            let style = match node.excluded {
                Some(Exclusion::BlockedByMe) => ", color=red, style=dashed, xlabel=\"blocked\"",
                Some(Exclusion::BlockedByFriend) => {
                    ", color=orange, style=dashed, xlabel=\"blocked by a friend\""
                }
                None => "",
            };
            let _ = writeln!(
                out,
                "  \"{}\" [label=\"{}\\n{} held\", width={:.2}{style}];",
                node.feed,
                dot_escape(&node.label),
                node.held,
                0.5 + radius(node.held) / 40.0
            );
        }
        for (from, to) in &self.edges {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\";",
                self.nodes[*from].feed, self.nodes[*to].feed
            );
        }
        out.push_str("}\n");
        out
    }

    /// The node's radius in the SVG: area by messages held; you and pubs drawn larger.
    fn size(&self, node: &Node) -> f64 {
        let r = radius(node.held);
        match (node.distance, node.is_pub) {
            (Some(0), _) => r + 10.0,
            (_, true) => r * 1.6,
            _ => r,
        }
    }

    pub fn svg(&self) -> String {
        let rings = self
            .nodes
            .iter()
            .filter_map(|n| n.distance)
            .max()
            .unwrap_or(0)
            + 1;
        let ring_gap = 140.0;
        let half = ring_gap * (rings as f64 + 0.8);
        let legend_width = 290.0;
        let (width, height) = (2.0 * half + legend_width, 2.0 * half);
        let positions = self.layout(ring_gap, rings);
        let circles: Vec<(f64, f64, f64)> = self
            .nodes
            .iter()
            .zip(&positions)
            .map(|(n, &(x, y))| (x, y, self.size(n)))
            .collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="{} {} {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#,
            -half, -half
        );
        out.push_str("  <title>grapevine: my gossip network</title>\n");
        out.push_str(
            r##"  <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#888"/></marker></defs>"##,
        );
        out.push('\n');
        let _ = writeln!(
            out,
            r##"  <rect x="{}" y="{}" width="{width:.0}" height="{height:.0}" fill="white"/>"##,
            -half, -half
        );
        for d in 1..=rings {
            let r = ring_gap * d as f64;
            let label = if d == rings {
                "blocked".to_owned()
            } else {
                crate::text::count(u64::from(d), "hop", "hops")
            };
            // Labelled in the middle of the widest gap between the ring's nodes.
            let mut angles: Vec<f64> = positions
                .iter()
                .filter(|(x, y)| ((x * x + y * y).sqrt() - r).abs() < 1.0)
                .map(|(x, y)| y.atan2(*x))
                .collect();
            angles.sort_by(f64::total_cmp);
            let angle = match angles.as_slice() {
                [] => -std::f64::consts::FRAC_PI_4,
                [only] => only + std::f64::consts::PI,
                list => {
                    let wrap = (list[0] + std::f64::consts::TAU, list[list.len() - 1]);
                    let (gap, from) = list
                        .windows(2)
                        .map(|w| (w[1] - w[0], w[0]))
                        .chain([(wrap.0 - wrap.1, wrap.1)])
                        .fold((0.0, 0.0), |best, g| if g.0 > best.0 { g } else { best });
                    from + gap / 2.0
                }
            };
            let _ = writeln!(
                out,
                r##"  <circle class="ring" cx="0" cy="0" r="{r}" fill="none" stroke="#ddd" stroke-dasharray="4 4"/><text x="{:.0}" y="{:.0}" fill="#aaa" text-anchor="middle">{label}</text>"##,
                r * angle.cos(),
                r * angle.sin() + 4.0
            );
        }
        let edges: HashSet<(usize, usize)> = self.edges.iter().copied().collect();
        for &(from, to) in &self.edges {
            // Two who follow each other share one line with a head at each end.
            let mutual = edges.contains(&(to, from));
            if mutual && from > to {
                continue;
            }
            let _ = writeln!(
                out,
                r##"  <path class="follow" d="{}" fill="none" stroke="#888" stroke-width="1"{} marker-end="url(#arrow)"/>"##,
                route(&circles, from, to),
                if mutual {
                    r#" marker-start="url(#arrow)""#
                } else {
                    ""
                }
            );
        }
        for (node, (x, y)) in self.nodes.iter().zip(&positions) {
            let (fill, kind) = kind_of(node);
            let r = self.size(node);
            let ring = if node.gossiping {
                format!(
                    r##"<circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="none" stroke="#3cb371" stroke-width="3"/>"##,
                    r + 4.0
                )
            } else {
                String::new()
            };
            let stroke = if node.distance == Some(0) {
                r##" stroke="#123" stroke-width="3""##
            } else {
                ""
            };
            let _ = writeln!(
                out,
                r#"  <g class="feed" data-feed="{}" data-kind="{kind}"><title>{} ({kind}{}{}, {} held)</title>{ring}<circle cx="{x:.1}" cy="{y:.1}" r="{r:.1}" fill="{fill}"{stroke}/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
                node.feed,
                xml_escape(&node.label),
                if node.gossiping { ", gossiping" } else { "" },
                if node.is_pub { ", pub" } else { "" },
                node.held,
                y + r + 14.0,
                xml_escape(&node.label)
            );
        }
        self.legend(&mut out, half + 10.0, -half + 20.0);
        out.push_str("</svg>\n");
        out
    }

    fn legend(&self, out: &mut String, x: f64, y: f64) {
        let _ = writeln!(
            out,
            r##"  <g class="legend"><rect x="{x}" y="{y}" width="270" height="196" fill="#fafafa" stroke="#ccc"/>"##
        );
        let dot = |r: u8, fill: &str| format!(r##"<circle r="{r}" fill="{fill}"/>"##);
        let rows = [
            (dot(7, "#2b7a3d"), "you"),
            (dot(7, "#4a9fd8"), "you follow them (1 hop)"),
            (dot(7, "#9cc7e8"), "friend of a friend"),
            (dot(7, "#d84a4a"), "blocked by you"),
            (dot(7, "#f0a040"), "blocked by a friend"),
            (
                r##"<circle r="8" fill="none" stroke="#3cb371" stroke-width="3"/>"##.to_owned(),
                "heard from lately (gossiping)",
            ),
            (dot(10, "#9cc7e8"), "large: a pub; area: messages held"),
            (
                r##"<path d="M-10,0 L10,0" stroke="#888" marker-end="url(#arrow)"/>"##.to_owned(),
                "follows",
            ),
        ];
        for (i, (symbol, text)) in rows.iter().enumerate() {
            let cy = y + 20.0 + 24.0 * i as f64;
            let _ = writeln!(
                out,
                r##"    <g transform="translate({:.0},{cy:.0})">{symbol}<text x="16" y="4">{text}</text></g>"##,
                x + 16.0
            );
        }
        out.push_str("  </g>\n");
    }

    /// Positions on concentric rings by distance; excluded feeds on the outermost ring.
    fn layout(&self, ring_gap: f64, rings: u32) -> Vec<(f64, f64)> {
        let ring_of = |n: &Node| n.distance.unwrap_or(rings);
        let mut count: HashMap<u32, usize> = HashMap::new();
        for n in &self.nodes {
            *count.entry(ring_of(n)).or_default() += 1;
        }
        let mut seen: HashMap<u32, usize> = HashMap::new();
        self.nodes
            .iter()
            .map(|n| {
                let ring = ring_of(n);
                if ring == 0 {
                    return (0.0, 0.0);
                }
                let i = seen.entry(ring).or_default();
                let angle = std::f64::consts::TAU * (*i as f64 + 0.5 * (ring % 2) as f64)
                    / count[&ring] as f64;
                *i += 1;
                let r = ring_gap * ring as f64;
                (r * angle.cos(), r * angle.sin())
            })
            .collect()
    }
}

fn kind_of(node: &Node) -> (&'static str, &'static str) {
    match (node.distance, node.excluded) {
        (Some(0), _) => ("#2b7a3d", "me"),
        (Some(1), _) => ("#4a9fd8", "friend"),
        (Some(_), _) => ("#9cc7e8", "friend of a friend"),
        (None, Some(Exclusion::BlockedByFriend)) => ("#f0a040", "blocked by a friend"),
        (None, _) => ("#d84a4a", "blocked"),
    }
}

/// Room kept between an edge and any node it passes.
const CLEARANCE: f64 = 4.0;

/// An edge from node `a` to node `b` as an SVG path: from edge to edge of the two circles,
/// straight if that passes no other node, else the first quadratic curve (bending either way,
/// further each try) that does.
fn route(circles: &[(f64, f64, f64)], a: usize, b: usize) -> String {
    let (ax, ay, ar) = circles[a];
    let (bx, by, br) = circles[b];
    let (dx, dy) = (bx - ax, by - ay);
    let length = (dx * dx + dy * dy).sqrt().max(1e-6);
    let (nx, ny) = (-dy / length, dx / length);
    let mut chosen = None;
    for bend in [0.0, 0.25, -0.25, 0.5, -0.5, 0.8, -0.8, 1.2, -1.2] {
        let control = (
            (ax + bx) / 2.0 + nx * bend * length,
            (ay + by) / 2.0 + ny * bend * length,
        );
        let (start, end) = (
            toward((ax, ay), control, ar + 2.0),
            toward((bx, by), control, br + 2.0),
        );
        let clear = (1..40).all(|i| {
            let t = i as f64 / 40.0;
            let p = quad(start, control, end, t);
            circles.iter().enumerate().all(|(k, &(cx, cy, cr))| {
                k == a || k == b || (p.0 - cx).hypot(p.1 - cy) > cr + CLEARANCE
            })
        });
        let path = (start, control, end);
        if clear {
            chosen = Some(path);
            break;
        }
        chosen.get_or_insert(path);
    }
    let (s, c, e) = chosen.unwrap_or(((ax, ay), (ax, ay), (bx, by)));
    format!(
        "M{:.1},{:.1} Q{:.1},{:.1} {:.1},{:.1}",
        s.0, s.1, c.0, c.1, e.0, e.1
    )
}

/// The point at distance `r` from `from` toward `to`.
fn toward(from: (f64, f64), to: (f64, f64), r: f64) -> (f64, f64) {
    let (dx, dy) = (to.0 - from.0, to.1 - from.1);
    let d = dx.hypot(dy).max(1e-6);
    (from.0 + dx / d * r, from.1 + dy / d * r)
}

fn quad(p0: (f64, f64), c: (f64, f64), p1: (f64, f64), t: f64) -> (f64, f64) {
    let u = 1.0 - t;
    (
        u * u * p0.0 + 2.0 * u * t * c.0 + t * t * p1.0,
        u * u * p0.1 + 2.0 * u * t * c.1 + t * t * p1.1,
    )
}

fn radius(held: u64) -> f64 {
    8.0 + 4.0 * ((held as f64) + 1.0).ln()
}

fn xml_escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".into(),
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '"' => "&quot;".into(),
            '\'' => "&apos;".into(),
            c if c.is_control() => " ".into(),
            c => c.to_string(),
        })
        .collect()
}

fn dot_escape(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}
