//! `grapevine graph`: a picture of one's gossip network, as DOT or as SVG drawn in-process.
//!
//! The SVG is a radial layout like the seed's figure: me in the middle, friends on the first
//! ring, friends of friends on the next, blocked feeds on an outer ring in red. A node's area
//! grows with how many of its messages are held.

use std::collections::HashMap;
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
}

/// The nodes (replication set, then excluded feeds) and follow edges between them.
pub struct Picture {
    pub nodes: Vec<Node>,
    pub edges: Vec<(usize, usize)>,
}

impl Picture {
    pub fn new(
        graph: &Graph,
        set: &ReplicationSet,
        names: &HashMap<FeedId, String>,
        held: &HashMap<FeedId, u64>,
    ) -> Self {
        let label = |feed: &FeedId| names.get(feed).cloned().unwrap_or_else(|| feed.short());
        let mut nodes: Vec<Node> = set
            .members()
            .into_iter()
            .map(|(feed, d)| Node {
                feed,
                label: label(&feed),
                distance: Some(d),
                excluded: None,
                held: held.get(&feed).copied().unwrap_or(0),
            })
            .collect();
        let mut excluded: Vec<_> = set.excluded.iter().collect();
        excluded.sort_by_key(|(f, _)| **f);
        for (feed, why) in excluded {
            nodes.push(Node {
                feed: *feed,
                label: label(feed),
                distance: None,
                excluded: Some(*why),
                held: held.get(feed).copied().unwrap_or(0),
            });
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
        let positions = self.layout(ring_gap, rings);
        let mut out = String::new();
        let _ = writeln!(
            out,
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="{} {} {} {}" font-family="sans-serif" font-size="12">"#,
            -half,
            -half,
            2.0 * half,
            2.0 * half
        );
        out.push_str("  <title>grapevine: my gossip network</title>\n");
        for d in 1..=rings {
            let _ = writeln!(
                out,
                r##"  <circle cx="0" cy="0" r="{}" fill="none" stroke="#ddd" stroke-dasharray="4 4"/>"##,
                ring_gap * d as f64
            );
        }
        for (from, to) in &self.edges {
            let (a, b) = (positions[*from], positions[*to]);
            let _ = writeln!(
                out,
                r##"  <line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#999" stroke-width="1"/>"##,
                a.0, a.1, b.0, b.1
            );
        }
        for (node, (x, y)) in self.nodes.iter().zip(&positions) {
            let (fill, kind) = match (node.distance, node.excluded) {
                (Some(0), _) => ("#2b7a3d", "me"),
                (Some(1), _) => ("#4a9fd8", "friend"),
                (Some(_), _) => ("#9cc7e8", "friend of a friend"),
                (None, Some(Exclusion::BlockedByFriend)) => ("#f0a040", "blocked by a friend"),
                (None, _) => ("#d84a4a", "blocked"),
            };
            let _ = writeln!(
                out,
                r#"  <g class="feed" data-feed="{}" data-kind="{kind}"><title>{} ({kind}, {} held)</title><circle cx="{x:.1}" cy="{y:.1}" r="{:.1}" fill="{fill}"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text></g>"#,
                node.feed,
                xml_escape(&node.label),
                node.held,
                radius(node.held),
                y + radius(node.held) + 14.0,
                xml_escape(&node.label)
            );
        }
        out.push_str("</svg>\n");
        out
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
