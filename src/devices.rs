//! Linked devices (messages.md "Linked devices"): one person, several device feeds that name
//! each other in `device` messages, so that no key ever writes from two devices.
//!
//! A link holds while both feeds' latest `device` message about the other says linked; a
//! person is every feed reachable through held links. An unlink vouches for the other
//! device's messages up to a sequence: those stay the person's, later ones are the device's
//! own (a lost laptop's new messages are not its owner's).

use std::collections::HashMap;

use serde::Serialize;

use crate::content::DeviceChange;
use crate::ids::FeedId;

/// The latest `device` message one feed published about another: one row of the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub author: FeedId,
    pub device: FeedId,
    /// What the author's latest message about `device` says.
    pub linked: bool,
    /// That message's `through` (0 for a link).
    pub through: u64,
    /// Whether any message of the author ever linked `device`: its consent to being vouched for.
    pub ever_linked: bool,
    pub seq: u64,
}

/// Claims built from `device` messages met in any order (rule 2 of messages.md "Linked
/// devices"): what the store's index must hold, for `check` and the vectors.
#[derive(Default, Debug)]
pub struct ClaimIndex(HashMap<(FeedId, FeedId), Claim>);

impl ClaimIndex {
    pub fn note(&mut self, author: FeedId, sequence: u64, change: &DeviceChange) {
        let claim = self.0.entry((author, change.device)).or_insert(Claim {
            author,
            device: change.device,
            linked: change.linked,
            through: change.through,
            ever_linked: false,
            seq: sequence,
        });
        claim.ever_linked |= change.linked;
        if sequence >= claim.seq {
            claim.linked = change.linked;
            claim.through = change.through;
            claim.seq = sequence;
        }
    }

    pub fn get(&self, author: &FeedId, device: &FeedId) -> Option<&Claim> {
        self.0.get(&(*author, *device))
    }

    pub fn keys(&self) -> impl Iterator<Item = &(FeedId, FeedId)> {
        self.0.keys()
    }

    pub fn into_devices(self) -> Devices {
        Devices::new(self.0.into_values())
    }
}

/// How a link stands, seen from one of its two feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Both feeds link each other: one person.
    Linked,
    /// We link it; it has not linked us (or its message has not reached us yet).
    Waiting,
    /// It links us; we have not linked it.
    Offered,
    /// One side ended the link.
    Unlinked,
}

/// Every device claim this node holds, with the people they make.
#[derive(Default, Debug, Clone)]
pub struct Devices {
    claims: HashMap<(FeedId, FeedId), Claim>,
    /// Feeds each feed currently claims (one-sided or not), sorted.
    claimed: HashMap<FeedId, Vec<FeedId>>,
    /// Each feed in a person of two or more, and that person's members (sorted).
    person_of: HashMap<FeedId, usize>,
    persons: Vec<Vec<FeedId>>,
    /// Per device: who unlinked it, vouching for its messages up to a sequence.
    vouched: HashMap<FeedId, Vec<(FeedId, u64)>>,
}

impl Devices {
    /// The people `claims` make. A feed naming itself is ignored.
    pub fn new(claims: impl IntoIterator<Item = Claim>) -> Self {
        let mut devices = Self::default();
        for claim in claims {
            if claim.author != claim.device {
                devices.claims.insert((claim.author, claim.device), claim);
            }
        }
        let mut links: HashMap<FeedId, Vec<FeedId>> = HashMap::new();
        for c in devices.claims.values() {
            let back = devices.claims.get(&(c.device, c.author));
            if c.linked {
                devices.claimed.entry(c.author).or_default().push(c.device);
                if back.is_some_and(|b| b.linked) {
                    links.entry(c.author).or_default().push(c.device);
                }
            } else if back.is_some_and(|b| b.ever_linked) {
                devices
                    .vouched
                    .entry(c.device)
                    .or_default()
                    .push((c.author, c.through));
            }
        }
        for list in devices.claimed.values_mut() {
            list.sort();
        }
        for list in devices.vouched.values_mut() {
            list.sort();
        }
        let mut starts: Vec<FeedId> = links.keys().copied().collect();
        starts.sort();
        for start in starts {
            if devices.person_of.contains_key(&start) {
                continue;
            }
            let index = devices.persons.len();
            let mut members = vec![start];
            devices.person_of.insert(start, index);
            let mut at = 0;
            while let Some(feed) = members.get(at).copied() {
                for next in links.get(&feed).into_iter().flatten() {
                    if !devices.person_of.contains_key(next) {
                        devices.person_of.insert(*next, index);
                        members.push(*next);
                    }
                }
                at += 1;
            }
            members.sort();
            devices.persons.push(members);
        }
        devices
    }

    /// Every device of the person `feed` belongs to, `feed` included, sorted.
    pub fn person<'a>(&'a self, feed: &'a FeedId) -> &'a [FeedId] {
        match self.person_of.get(feed) {
            Some(&index) => &self.persons[index],
            None => std::slice::from_ref(feed),
        }
    }

    /// Every person of two or more devices.
    pub fn persons(&self) -> &[Vec<FeedId>] {
        &self.persons
    }

    /// The other devices of `feed`'s person.
    pub fn others<'a>(&'a self, feed: &'a FeedId) -> impl Iterator<Item = &'a FeedId> {
        self.person(feed).iter().filter(move |f| *f != feed)
    }

    /// The feeds `feed` links as its devices, whether or not they link it back: replication
    /// fetches them like feeds it follows, so that their answer can arrive.
    pub fn claimed_by(&self, feed: &FeedId) -> &[FeedId] {
        self.claimed
            .get(feed)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The feed whose person message `sequence` of `feed` belongs to though the link has ended:
    /// a former partner whose unlink vouches for it. `None` when no unlink covers it.
    pub fn vouched_by(&self, feed: &FeedId, sequence: u64) -> Option<FeedId> {
        self.vouched
            .get(feed)?
            .iter()
            .find(|(_, through)| sequence <= *through)
            .map(|(by, _)| *by)
    }

    /// How the link between `me` and `other` stands, if either ever named the other.
    pub fn state(&self, me: &FeedId, other: &FeedId) -> Option<LinkState> {
        let mine = self.claims.get(&(*me, *other));
        let theirs = self.claims.get(&(*other, *me));
        Some(match (mine, theirs) {
            (None, None) => return None,
            (Some(m), Some(t)) if m.linked && t.linked => LinkState::Linked,
            (Some(m), None) if m.linked => LinkState::Waiting,
            (None, Some(t)) if t.linked => LinkState::Offered,
            _ => LinkState::Unlinked,
        })
    }

    /// Every feed that names `me` or that `me` names, sorted.
    pub fn named_with(&self, me: &FeedId) -> Vec<FeedId> {
        let mut out: Vec<FeedId> = self
            .claims
            .keys()
            .filter_map(|(author, device)| {
                if author == me {
                    Some(*device)
                } else {
                    (device == me).then_some(*author)
                }
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn f(n: u8) -> FeedId {
        FeedId([n; 32])
    }

    /// `author` links `device` (feeds `FeedId([n; 32])`).
    pub(crate) fn link(author: u8, device: u8) -> Claim {
        Claim {
            author: f(author),
            device: f(device),
            linked: true,
            through: 0,
            ever_linked: true,
            seq: 1,
        }
    }

    fn unlink(author: u8, device: u8, through: u64) -> Claim {
        Claim {
            linked: false,
            through,
            seq: 2,
            ..link(author, device)
        }
    }

    #[test]
    fn a_link_holds_only_both_ways_and_persons_are_transitive() {
        let d = Devices::new([link(1, 2), link(2, 1), link(2, 3), link(3, 2), link(4, 1)]);
        assert_eq!(d.person(&f(3)), [f(1), f(2), f(3)]);
        assert_eq!(d.person(&f(4)), [f(4)], "a one-sided claim makes no person");
        assert_eq!(d.others(&f(1)).copied().collect::<Vec<_>>(), [f(2), f(3)]);
        assert_eq!(d.claimed_by(&f(4)), [f(1)], "but it is fetched");
        assert_eq!(d.state(&f(1), &f(2)), Some(LinkState::Linked));
        assert_eq!(d.state(&f(4), &f(1)), Some(LinkState::Waiting));
        assert_eq!(d.state(&f(1), &f(4)), Some(LinkState::Offered));
        assert_eq!(d.state(&f(1), &f(3)), None, "linked through 2, never named");
        assert_eq!(d.named_with(&f(1)), [f(2), f(4)]);
    }

    #[test]
    fn naming_oneself_is_ignored() {
        let d = Devices::new([link(1, 1)]);
        assert_eq!(d.person(&f(1)), [f(1)]);
        assert!(d.claimed_by(&f(1)).is_empty());
        assert_eq!(d.state(&f(1), &f(1)), None);
    }

    #[test]
    fn an_unlink_ends_the_person_and_vouches_up_to_through() {
        let d = Devices::new([unlink(1, 2, 40), link(2, 1)]);
        assert_eq!(d.person(&f(2)), [f(2)]);
        assert_eq!(d.vouched_by(&f(2), 40), Some(f(1)));
        assert_eq!(d.vouched_by(&f(2), 41), None, "later messages are its own");
        assert_eq!(d.vouched_by(&f(1), 1), None);
        assert_eq!(d.state(&f(1), &f(2)), Some(LinkState::Unlinked));
        assert_eq!(d.state(&f(2), &f(1)), Some(LinkState::Unlinked));
        assert!(d.claimed_by(&f(1)).is_empty() && d.claimed_by(&f(2)) == [f(1)]);
    }

    /// Nobody can vouch for a feed that never linked them: that would take its messages.
    #[test]
    fn an_unlink_without_consent_vouches_for_nothing() {
        let d = Devices::new([unlink(1, 2, 40)]);
        assert_eq!(d.vouched_by(&f(2), 1), None);
        let never = Claim {
            ever_linked: false,
            ..unlink(2, 1, 0)
        };
        assert_eq!(
            Devices::new([unlink(1, 2, 40), never]).vouched_by(&f(2), 1),
            None
        );
    }
}
