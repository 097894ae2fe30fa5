//! `grapevine graph`: the format a file's name asks for, the network in words for a terminal,
//! and in JSON.

use anyhow::{Result, bail};
use grapevine::{Node, view};

use super::render::pretty;

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Svg,
}

/// The picture's format: as asked, else from the file's extension; an extension that names
/// neither format is refused, so that no `.png` holds SVG.
pub fn graph_format(
    asked: Option<GraphFormat>,
    out: Option<&std::path::Path>,
) -> Result<GraphFormat> {
    let extension = out
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_lowercase());
    let from_name = match extension.as_deref() {
        None => None,
        Some("svg") => Some(GraphFormat::Svg),
        Some("dot" | "gv") => Some(GraphFormat::Dot),
        Some(other) => bail!(
            "graph writes SVG or Graphviz DOT, not .{other}: name the file network.svg (a \
             browser opens it) or network.dot"
        ),
    };
    Ok(match (asked, from_name) {
        (Some(GraphFormat::Svg), Some(GraphFormat::Dot))
        | (Some(GraphFormat::Dot), Some(GraphFormat::Svg)) => {
            bail!("--format and the --out file's extension disagree: give one of them")
        }
        (Some(format), _) | (None, Some(format)) => format,
        (None, None) => GraphFormat::Svg,
    })
}

/// The network in words, for a terminal: who is how many hops away.
pub fn graph_outline(picture: &grapevine::graph_view::Picture) -> String {
    let mut rings: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    let mut blocked = Vec::new();
    for node in &picture.nodes {
        let label = view::escape(&node.label);
        match node.distance {
            Some(hops) => rings.entry(hops).or_default().push(label),
            None => blocked.push(label),
        }
    }
    let mut text = String::new();
    for (hops, mut labels) in rings {
        labels.sort();
        let ring = match hops {
            0 => "you".to_owned(),
            1 => "1 hop".to_owned(),
            n => format!("{n} hops"),
        };
        text += &format!("{ring:<9} {}\n", labels.join(", "));
    }
    if !blocked.is_empty() {
        blocked.sort();
        text += &format!("{:<9} {}\n", "blocked", blocked.join(", "));
    }
    text + "the picture: `grapevine graph --out network.svg`, then open network.svg in a browser"
}

/// The network as JSON: every feed in the picture with its hops and whom it follows.
pub fn graph_json(node: &Node, picture: &grapevine::graph_view::Picture) -> Result<String> {
    pretty(&grapevine::view::json::network_json(
        picture,
        &node.names()?,
    ))
}
