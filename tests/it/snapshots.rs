//! Snapshots (insta) of what people read: `timeline`, `thread`, `inbox`, `status`, `who` and
//! `peers`, in a small village of three. Ids, paths and clock times are masked; everything
//! else — names, layout, marks, counts, plurals — is pinned.

use crate::harness::{TestNode, path_str, stick, written_id};

macro_rules! snap {
    ($name:expr, $text:expr) => {
        insta::with_settings!({
            snapshot_path => "snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
            filters => vec![
                (r"gv-[a-z2-7]{52}-\d+\.gvb", "gv-[feed]-[n].gvb"),
                (r"@[a-z2-7]{52}", "@[feed]"),
                (r"%[a-z2-7]{52}", "%[message]"),
                (r"@[a-z2-7]{8}", "@[short]"),
                (r"%[a-z2-7]{8}", "%[msg]"),
                (r"/tmp/[^\s;]+", "[path]"),
                (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[time]"),
            ],
        }, {
            insta::assert_snapshot!($name, $text);
        })
    };
}

#[test]
fn what_people_read_looks_like_this() {
    let alice = TestNode::new("alice");
    let bob = TestNode::new("bob");
    let carol = TestNode::new("carol");
    let s = stick();
    let dir = path_str(s.path());
    for (x, y) in [
        (&alice, &bob),
        (&bob, &alice),
        (&bob, &carol),
        (&carol, &bob),
    ] {
        x.follow(y);
    }
    for n in [&alice, &bob, &carol, &alice, &bob] {
        n.ok(&["sync-dir", dir]);
    }
    let question = written_id(&alice.ok(&[
        "post",
        "Is the well water safe?\nAsking for the #village.",
        "--json",
    ]));
    carol.ok(&["post", "Choir practice moved to Thursday."]);
    for n in [&alice, &carol, &bob] {
        n.ok(&["sync-dir", dir]);
    }
    let reply = written_id(&bob.ok(&["reply", &question, "Boil it first, @alice.", "--json"]));
    bob.ok(&["like", &question]);
    carol.ok(&["dm", "--to", "bob", "Can you bring the ladder?"]);
    for n in [&bob, &carol, &alice, &bob] {
        n.ok(&["sync-dir", dir]);
    }
    alice.ok(&["reply", &reply, "Thanks, will do."]);
    alice.ok(&["sync-dir", dir]);
    bob.ok(&["sync-dir", dir]);

    snap!("timeline", bob.ok(&["timeline"]));
    snap!("thread", bob.ok(&["thread", &question]));
    snap!("inbox", bob.ok(&["inbox"]));
    snap!("status", bob.ok(&["status"]));
    snap!("who", bob.ok(&["who", "alice"]));
    snap!("peers", bob.ok(&["peers"]));
}
