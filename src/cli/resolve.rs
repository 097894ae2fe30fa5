//! Who a person typed: a name, a petname, an id or the start of one.

use anyhow::{Result, bail};
use grapevine::FeedId;
use grapevine::Node;
use grapevine::people::Names;

/// The feed a person typed, resolved by [`Names::resolve_feed`]; an id nobody here has seen
/// is refused unless `yes`, since a mistyped id would silently name no one.
pub fn resolve_person(node: &Node, names: &Names, input: &str, yes: bool) -> Result<FeedId> {
    let feed = names.resolve_feed(node.store(), input)?;
    if !yes && feed != node.id() && !node.store().has_seen(&feed)? {
        bail!(
            "no bundle or message seen here mentions {feed}: if it was typed by hand, a \
             character may be wrong. Check it with its owner, or add --yes to go ahead"
        );
    }
    Ok(feed)
}

/// The person named, or you when none is.
pub fn person_or_me(node: &Node, names: &Names, input: Option<&str>) -> Result<FeedId> {
    match input {
        Some(p) => resolve_person(node, names, p, true),
        None => Ok(node.id()),
    }
}

/// Recipients of a private message.
pub fn resolve_recipients(
    node: &Node,
    names: &Names,
    inputs: &[String],
    yes: bool,
) -> Result<Vec<FeedId>> {
    inputs
        .iter()
        .map(|input| resolve_person(node, names, input, yes))
        .collect()
}
