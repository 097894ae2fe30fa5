//! The trust graph and the replication set (docs/replication.md).
//!
//! Edges come from `contact` messages: per (author, contact) pair, the latest `following` and
//! `blocking` flags. A node replicates itself, every feed within `hops` follow-steps of it, minus
//! the feeds it blocks, minus feeds at the outermost hop (2 or more) that one of its direct
//! friends blocks. Nothing else is stored or carried: that is also what keeps spam out.
//!
//! Linked devices (crate::devices) count as one person: a member brings its other devices in at
//! its own hop, a block of one device blocks them all, and a device a feed links but that has
//! not linked it back is fetched like a feed it follows, so that the answer can arrive.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use crate::devices::Devices;
use crate::ids::FeedId;

pub const DEFAULT_HOPS: u32 = 2;
pub const MAX_HOPS: u32 = 6;

/// One row of the contacts index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: FeedId,
    pub to: FeedId,
    pub following: bool,
    pub blocking: bool,
}

/// Follow and block edges, indexed by author.
#[derive(Default, Debug, Clone)]
pub struct Graph {
    follows: HashMap<FeedId, Vec<FeedId>>,
    blocks: HashMap<FeedId, HashSet<FeedId>>,
    devices: Devices,
}

impl Graph {
    pub fn new(edges: impl IntoIterator<Item = Edge>) -> Self {
        let mut graph = Self::default();
        for e in edges {
            if e.blocking {
                graph.blocks.entry(e.from).or_default().insert(e.to);
            } else if e.following {
                graph.follows.entry(e.from).or_default().push(e.to);
            }
        }
        for list in graph.follows.values_mut() {
            list.sort();
        }
        graph
    }

    /// The graph with the people linked devices make.
    pub fn with_devices(self, devices: Devices) -> Self {
        Self { devices, ..self }
    }

    pub fn devices(&self) -> &Devices {
        &self.devices
    }

    pub fn follows(&self, feed: &FeedId) -> &[FeedId] {
        self.follows
            .get(feed)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Feeds that follow `feed`.
    pub fn followers(&self, feed: &FeedId) -> Vec<FeedId> {
        let mut out: Vec<FeedId> = self
            .follows
            .iter()
            .filter(|(from, list)| !self.blocks(from, feed) && list.contains(feed))
            .map(|(from, _)| *from)
            .collect();
        out.sort();
        out
    }

    pub fn blocks(&self, from: &FeedId, to: &FeedId) -> bool {
        self.blocks.get(from).is_some_and(|b| b.contains(to))
    }

    pub fn blocked_by(&self, from: &FeedId) -> impl Iterator<Item = &FeedId> {
        self.blocks.get(from).into_iter().flatten()
    }

    /// Whether any device of `from`'s person blocks any device of `to`'s person.
    fn person_blocks(&self, from: &FeedId, to: &FeedId) -> bool {
        let targets = self.devices.person(to);
        self.devices
            .person(from)
            .iter()
            .any(|f| targets.iter().any(|t| self.blocks(f, t)))
    }

    /// The replication set of `root` at `hops`.
    pub fn replication_set(&self, root: FeedId, hops: u32) -> ReplicationSet {
        let me = self.devices.person(&root);
        let mut distance: HashMap<FeedId, u32> = me.iter().map(|f| (*f, 0)).collect();
        let mut excluded: HashMap<FeedId, Exclusion> = HashMap::new();
        let friends: Vec<FeedId> = me
            .iter()
            .flat_map(|f| self.follows(f))
            .filter(|friend| !self.person_blocks(&root, friend))
            .copied()
            .collect();
        let mut ring = me.to_vec();
        for hop in 1..=hops {
            let mut next = Vec::new();
            for feed in &ring {
                let reached = self
                    .follows(feed)
                    .iter()
                    .chain(self.devices.claimed_by(feed));
                for &candidate in reached {
                    if distance.contains_key(&candidate) || excluded.contains_key(&candidate) {
                        continue;
                    }
                    let person = self.devices.person(&candidate);
                    let why = if self.person_blocks(&root, &candidate) {
                        Some(Exclusion::BlockedByMe)
                    } else if hop >= 2
                        && hop == hops
                        && friends
                            .iter()
                            .any(|friend| self.person_blocks(friend, &candidate))
                    {
                        Some(Exclusion::BlockedByFriend)
                    } else {
                        None
                    };
                    for &member in person {
                        match why {
                            Some(why) => {
                                excluded.insert(member, why);
                            }
                            None => {
                                if let Entry::Vacant(free) = distance.entry(member) {
                                    free.insert(hop);
                                    next.push(member);
                                }
                            }
                        }
                    }
                }
            }
            ring = next;
        }
        for blocker in me {
            for blocked in self.blocked_by(blocker) {
                for member in self.devices.person(blocked) {
                    if !me.contains(member) {
                        excluded.insert(*member, Exclusion::BlockedByMe);
                        distance.remove(member);
                    }
                }
            }
        }
        ReplicationSet {
            root,
            distance,
            excluded,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    BlockedByMe,
    BlockedByFriend,
}

#[derive(Clone, Debug)]
pub struct ReplicationSet {
    pub root: FeedId,
    /// Every member and its hop distance (0 for the root).
    pub distance: HashMap<FeedId, u32>,
    /// Feeds reached through follows but left out, and why.
    pub excluded: HashMap<FeedId, Exclusion>,
}

impl ReplicationSet {
    pub fn contains(&self, feed: &FeedId) -> bool {
        self.distance.contains_key(feed)
    }

    pub fn is_blocked(&self, feed: &FeedId) -> bool {
        self.excluded.get(feed) == Some(&Exclusion::BlockedByMe)
    }

    pub fn len(&self) -> usize {
        self.distance.len()
    }

    pub fn is_empty(&self) -> bool {
        self.distance.is_empty()
    }

    /// Members in a stable order: by distance, then id.
    pub fn members(&self) -> Vec<(FeedId, u32)> {
        let mut out: Vec<(FeedId, u32)> = self.distance.iter().map(|(f, d)| (*f, *d)).collect();
        out.sort_by_key(|(f, d)| (*d, *f));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u8) -> FeedId {
        FeedId([n; 32])
    }

    fn follow(from: u8, to: u8) -> Edge {
        Edge {
            from: f(from),
            to: f(to),
            following: true,
            blocking: false,
        }
    }

    fn block(from: u8, to: u8) -> Edge {
        Edge {
            from: f(from),
            to: f(to),
            following: false,
            blocking: true,
        }
    }

    /// Followers (what pub mode carries): those who follow, never those who block.
    #[test]
    fn followers_are_those_who_follow() {
        let g = Graph::new([
            follow(1, 9),
            follow(2, 9),
            block(3, 9),
            follow(3, 5),
            follow(4, 5),
        ]);
        assert_eq!(g.followers(&f(9)), [f(1), f(2)]);
        assert_eq!(g.followers(&f(5)), [f(3), f(4)]);
        assert!(g.followers(&f(1)).is_empty());
    }

    /// A feed keeps the distance of its shortest path, the set counts its members, and a feed
    /// we block is marked blocked even when no follow reaches it.
    #[test]
    fn shortest_paths_counts_and_unreached_blocks() {
        let g = Graph::new([follow(1, 2), follow(1, 3), follow(2, 3), block(1, 7)]);
        let set = g.replication_set(f(1), 2);
        assert_eq!(set.distance[&f(3)], 1);
        assert_eq!(set.len(), 3);
        assert!(!set.is_empty());
        assert!(set.is_blocked(&f(7)) && !set.contains(&f(7)));
        assert!(!set.is_blocked(&f(3)));
    }

    #[test]
    fn hops_reach_as_far_as_configured() {
        let g = Graph::new([follow(1, 2), follow(2, 3), follow(3, 4)]);
        let two = g.replication_set(f(1), 2);
        assert!(two.contains(&f(2)) && two.contains(&f(3)) && !two.contains(&f(4)));
        assert_eq!(two.distance[&f(3)], 2);
        assert!(g.replication_set(f(1), 3).contains(&f(4)));
        assert_eq!(g.replication_set(f(1), 0).len(), 1);
    }

    #[test]
    fn my_blocks_and_friends_outer_blocks_exclude() {
        // 1 follows 2 and 3; 3 follows 4 and 5; 2 blocks 4; 1 blocks 5.
        let g = Graph::new([
            follow(1, 2),
            follow(1, 3),
            follow(3, 4),
            follow(3, 5),
            block(2, 4),
            block(1, 5),
        ]);
        let set = g.replication_set(f(1), 2);
        assert!(!set.contains(&f(4)));
        assert_eq!(set.excluded[&f(4)], Exclusion::BlockedByFriend);
        assert!(!set.contains(&f(5)));
        assert!(set.is_blocked(&f(5)));
        // At 3 hops, 4 is no longer at the outer hop: a friend's block does not reach inside.
        assert!(g.replication_set(f(1), 3).contains(&f(4)));
    }

    /// A member reached again by a longer path keeps its place and is never also listed as
    /// left out, even where a friend's block would keep a newcomer off the outer ring.
    #[test]
    fn a_member_reached_twice_is_not_also_excluded() {
        let g = Graph::new([
            follow(1, 2),
            follow(1, 3),
            follow(1, 4),
            follow(4, 3),
            block(2, 3),
        ]);
        let set = g.replication_set(f(1), 2);
        assert_eq!(set.distance[&f(3)], 1);
        assert!(!set.excluded.contains_key(&f(3)), "{:?}", set.excluded);
    }

    #[test]
    fn blocking_a_friend_removes_it() {
        let g = Graph::new([follow(1, 2), block(1, 2)]);
        assert!(!g.replication_set(f(1), 2).contains(&f(2)));
    }

    fn linked(a: u8, b: u8) -> Vec<crate::devices::Claim> {
        use crate::devices::tests::link;
        vec![link(a, b), link(b, a)]
    }

    /// A person's devices sit at the hop of the nearest one; a one-sided claim is fetched one
    /// hop further, like a follow.
    #[test]
    fn devices_share_a_hop_and_claims_reach_like_follows() {
        let mut claims = linked(2, 3);
        claims.push(linked(2, 4)[0]);
        let g = Graph::new([follow(1, 2), follow(3, 5)]).with_devices(Devices::new(claims));
        let one = g.replication_set(f(1), 1);
        assert_eq!(one.distance[&f(3)], 1, "linked device at its person's hop");
        assert!(!one.contains(&f(4)) && !one.contains(&f(5)));
        let two = g.replication_set(f(1), 2);
        assert_eq!(
            two.distance[&f(4)],
            2,
            "a one-sided claim is one hop further"
        );
        assert_eq!(two.distance[&f(5)], 2, "the linked device's follows count");
    }

    /// Blocking one device blocks the person; my other devices' follows and blocks are mine.
    #[test]
    fn a_person_is_blocked_whole_and_my_devices_are_me() {
        let mut claims = linked(2, 3);
        claims.extend(linked(1, 9));
        let g = Graph::new([
            follow(1, 2),
            block(1, 3),
            follow(9, 6),
            follow(1, 7),
            block(9, 7),
            follow(6, 8),
            block(9, 8),
        ])
        .with_devices(Devices::new(claims));
        let set = g.replication_set(f(1), 2);
        assert_eq!(set.distance[&f(9)], 0, "my other device is me");
        assert!(set.is_blocked(&f(2)) && set.is_blocked(&f(3)));
        assert_eq!(set.distance[&f(6)], 1, "my other device's follows are mine");
        assert!(set.is_blocked(&f(7)), "and its blocks are mine");
        assert!(!set.contains(&f(8)));
        assert_eq!(set.len(), 3);
    }
}
