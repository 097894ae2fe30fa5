//! What a manifest's `feeds` must say: exactly the runs its segments carry (bundle.md
//! "Manifest"). A manifest that says otherwise makes the bundle a container failure.

use super::{BundleProblem, BundleReport};
use crate::ids::FeedId;

/// The (feed, first, last) runs of records met in archive order: a run goes on while the
/// next record is the same feed's next sequence, whatever segment it is in.
#[derive(Default, Debug, Clone)]
pub struct CarriedRuns(Vec<(FeedId, u64, u64)>);

impl CarriedRuns {
    /// A record claiming to be message `seq` of `feed` (valid or not: what is carried).
    pub fn note(&mut self, feed: FeedId, seq: u64) {
        match self.0.last_mut() {
            Some((f, _, last)) if *f == feed && last.checked_add(1) == Some(seq) => *last = seq,
            _ => self.0.push((feed, seq, seq)),
        }
    }

    /// The runs sorted by feed and sequence: what a truthful manifest's `feeds` lists.
    pub fn sorted(&self) -> Vec<(FeedId, u64, u64)> {
        let mut runs = self.0.clone();
        runs.sort_unstable();
        runs
    }
}

/// Adds a problem to `container` when its manifest's `feeds` are not the runs `carried`.
/// Checked only when the container is otherwise sound: a damaged bundle carries less than it
/// says for a known reason.
pub fn check_manifest_claims(container: &mut BundleReport, carried: &CarriedRuns) {
    let Some(manifest) = &container.manifest else {
        return;
    };
    if !container.problems.is_empty() {
        return;
    }
    let mut claimed: Vec<(FeedId, u64, u64)> = manifest
        .feeds
        .iter()
        .map(|r| (r.feed, r.first, r.last))
        .collect();
    claimed.sort_unstable();
    let carried = carried.sorted();
    if claimed == carried {
        return;
    }
    container.problems.push(BundleProblem::ManifestMismatch {
        claimed: describe(&claimed),
        carried: describe(&carried),
    });
}

/// Runs as a report says them: the first three, then how many more.
fn describe(runs: &[(FeedId, u64, u64)]) -> String {
    if runs.is_empty() {
        return "nothing".to_owned();
    }
    let mut text: Vec<String> = runs
        .iter()
        .take(3)
        .map(|(f, a, b)| format!("{} {a}..{b}", f.short()))
        .collect();
    if runs.len() > 3 {
        text.push(format!("and {} more runs", runs.len() - 3));
    }
    text.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_name_three_runs_and_count_the_rest() {
        let a = FeedId([1; 32]);
        let runs: Vec<_> = (1..=4).map(|i| (a, 2 * i, 2 * i)).collect();
        let short = a.short();
        assert_eq!(describe(&[]), "nothing");
        assert_eq!(
            describe(&runs[..3]),
            format!("{short} 2..2, {short} 4..4, {short} 6..6")
        );
        assert_eq!(
            describe(&runs),
            format!("{short} 2..2, {short} 4..4, {short} 6..6, and 1 more runs")
        );
    }

    #[test]
    fn runs_continue_across_segments_and_break_at_gaps_and_other_feeds() {
        let (a, b) = (FeedId([1; 32]), FeedId([2; 32]));
        let mut runs = CarriedRuns::default();
        for (feed, seq) in [(a, 1), (a, 2), (b, 1), (a, 3), (a, 5), (a, 6)] {
            runs.note(feed, seq);
        }
        assert_eq!(runs.sorted(), [(a, 1, 2), (a, 3, 3), (a, 5, 6), (b, 1, 1)]);
        let mut max = CarriedRuns::default();
        max.note(a, u64::MAX);
        max.note(a, 0);
        assert_eq!(max.sorted(), [(a, 0, 0), (a, u64::MAX, u64::MAX)]);
    }
}
