//! How the terminal shows things: posts, times, counts, and the JSON forms of the same.

use std::io::IsTerminal;

use grapevine::people::Names;
use grapevine::store::PostView;
use grapevine::view;
use serde_json::Value;

pub use grapevine::view::json::{post_json, written_json};
pub use grapevine::view::{count, counted};

/// A size as people read it: "740 bytes", "12.3 KB", "4.1 MB".
pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => counted(n, "byte"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.1} GB", n as f64 / 1e9),
    }
}

/// A time as people read it: relative when recent ("5 min ago"), else a date in local time.
/// Any value displays; times jiff cannot place show as UTC ISO.
pub fn when(ms: i64, now: i64) -> String {
    let ago = now.saturating_sub(ms);
    const MIN: i64 = 60_000;
    const HOUR: i64 = 60 * MIN;
    const DAY: i64 = 24 * HOUR;
    if (0..MIN).contains(&ago) {
        return "just now".into();
    }
    if (MIN..HOUR).contains(&ago) {
        return format!("{} min ago", ago / MIN);
    }
    if (HOUR..DAY).contains(&ago) {
        return format!("{} h ago", ago / HOUR);
    }
    let Ok(stamp) = jiff::Timestamp::from_millisecond(ms) else {
        return view::time(ms);
    };
    let local = stamp.to_zoned(jiff::tz::TimeZone::system());
    if (DAY..7 * DAY).contains(&ago) {
        return local.strftime("%a %H:%M").to_string();
    }
    local.strftime("%Y-%m-%d %H:%M").to_string()
}

/// Colour on a terminal only, and never with NO_COLOR set.
pub fn colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

pub struct Style {
    on: bool,
}

impl Style {
    pub fn new() -> Self {
        Self { on: colour() }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// The short id people type back: `%` and 8 characters, enough to be unique in practice.
pub fn short_id(id: &grapevine::MessageId) -> String {
    let mut text = id.to_string();
    text.truncate(9);
    text
}

/// One post, as the timeline, a thread, search and the inbox show it; `indent` levels deep.
pub fn post(p: &PostView, names: &Names, now: i64, depth: usize, style: &Style) -> String {
    let pad = "  ".repeat(depth.min(12));
    let mark = if p.unread { "●" } else { " " };
    let author = p.message.header.author;
    let mut head = format!(
        "{pad}{mark} {} · {} · {}",
        style.bold(&names.author_label(&author, p.message.header.sequence)),
        when(p.at, now),
        style.dim(&short_id(&p.message.id))
    );
    if p.private {
        let mut to: Vec<String> = Vec::new();
        for name in p.recipients.iter().map(|f| names.name(f)) {
            if !to.contains(&name) {
                to.push(name);
            }
        }
        head += &format!(" · private to {}", to.join(", "));
    }
    let mut text = head;
    for line in view::escape(&p.post.text).lines() {
        text += &format!("\n{pad}    {line}");
    }
    let mut foot = Vec::new();
    if depth == 0
        && let Some(reply) = p.post.reply
    {
        foot.push(match p.reply_author {
            Some(author) => {
                format!("in reply to {} ({})", names.name(&author), short_id(&reply))
            }
            None => format!("in reply to {}", short_id(&reply)),
        });
    }
    if p.likes > 0 {
        foot.push(format!("♥ {}", p.likes));
    }
    if p.replies > 0 {
        foot.push(count(p.replies, "reply", "replies"));
    }
    if !foot.is_empty() {
        text += &format!("\n{pad}    {}", style.dim(&foot.join(" · ")));
    }
    text
}

/// A spinner on standard error while something runs, shown only on a terminal and only once it
/// has taken longer than a moment; it clears itself when dropped.
pub struct Busy(Option<indicatif::ProgressBar>);

impl Busy {
    /// Counts messages read, from [`Node::on_progress`](grapevine::Node::on_progress), which
    /// counts each file from zero: the bar adds the files up.
    pub fn counter(&self) -> Box<dyn Fn(u64) + Send> {
        let bar = self.0.clone();
        let state = std::sync::Mutex::new((0u64, 0u64));
        Box::new(move |read| {
            let (Some(bar), Ok(mut state)) = (&bar, state.lock()) else {
                return;
            };
            let (base, last) = &mut *state;
            if read < *last {
                *base += *last;
            }
            *last = read;
            bar.set_position(*base + read);
        })
    }

    /// Turns the spinner into a bar of `total` messages.
    pub fn out_of(&self, total: u64) {
        use indicatif::ProgressStyle;
        if let (Some(bar), true) = (&self.0, total > 0) {
            bar.set_length(total);
            if let Ok(style) = ProgressStyle::with_template(
                "{msg} [{bar:30}] {human_pos}/{human_len} messages ({elapsed}, {eta} left)",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
        }
    }
}

/// `counting`: the task reports messages read ([`Busy::counter`]), and the count is shown.
pub fn busy(message: &str, counting: bool) -> Busy {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !std::io::stderr().is_terminal() {
        return Busy(None);
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    let template = if counting {
        "{spinner} {msg}: {human_pos} messages read ({elapsed})"
    } else {
        "{spinner} {msg} ({elapsed})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    let shown = bar.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(400));
        if !shown.is_finished() {
            shown.set_draw_target(ProgressDrawTarget::stderr());
            shown.enable_steady_tick(std::time::Duration::from_millis(120));
        }
    });
    Busy(Some(bar))
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

pub fn pretty(value: &Value) -> anyhow::Result<String> {
    Ok(serde_json::to_string_pretty(value)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_and_times() {
        assert_eq!(counted(1, "feed"), "1 feed");
        assert_eq!(counted(0, "feed"), "0 feeds");
        assert_eq!(count(2, "reply", "replies"), "2 replies");
        let now = 1_800_000_000_000;
        assert_eq!(when(now, now), "just now");
        assert_eq!(when(now - 5 * 60_000, now), "5 min ago");
        assert_eq!(when(now - 3 * 3_600_000, now), "3 h ago");
        assert_eq!(when(i64::MAX, now), view::time(i64::MAX));
        assert_eq!(when(i64::MIN, now), view::time(i64::MIN));
        assert!(when(now - 30 * 86_400_000, now).starts_with("2026-"));
    }
}
