//! Text for people, safe whatever a peer chose: counts in words, any timestamp as a date,
//! control and invisible characters written out, and the key under which names that look
//! alike meet. The lowest layer: the store, the node and the transports use it as the views do.

/// "1 message", "2 messages"; `plural` for irregular words ("reply", "replies").
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    if n == 1 {
        format!("1 {singular}")
    } else {
        format!("{n} {plural}")
    }
}

/// Regular plurals: "1 feed", "3 feeds".
pub fn counted(n: u64, word: &str) -> String {
    count(n, word, &format!("{word}s"))
}

/// A claimed timestamp as UTC, to the second. Any value displays: peers choose timestamps,
/// and years before 0 or after 9999 are written with their sign (ISO 8601 expanded years).
pub fn time(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else {
        format!("{year:+05}")
    };
    format!(
        "{year}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day); Howard Hinnant's
/// algorithm, in i128 so that no i64 input can overflow.
fn civil_from_days(days: i64) -> (i128, u32, u32) {
    let z = i128::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i128::from(month <= 2);
    (year, month, day)
}

/// Text a peer chose, made safe for a terminal: control characters (other than line breaks,
/// which the caller lays out) and bidirectional overrides are shown as `\u{..}` escapes, so a
/// post cannot clear the screen, set the title or reorder what is shown around it.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if (c.is_control() && c != '\n') || bidi {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether `c` shows nothing by itself: a default-ignorable code point (zero-width spaces and
/// joiners, soft hyphens, variation selectors, …) or a format character (general category Cf).
/// In a name such a character could make two names look the same.
pub fn is_invisible(c: char) -> bool {
    use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
    let mut buf = [0u8; 4];
    c.general_category() == GeneralCategory::Format
        || unicode_security::skeleton(c.encode_utf8(&mut buf))
            .next()
            .is_none()
}

/// A name as a person is shown it: [`escape`], and every invisible character ([`is_invisible`])
/// written out as `\u{…}`, so that "bob" and "bob" + U+200B never look alike.
pub fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c == '\n' || is_invisible(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    escape(&out)
}

/// What two names that look alike share: the Unicode TR39 skeleton (invisible characters gone,
/// each character by its prototype), lower-cased and taken again, so that case does not tell
/// them apart either ("Ьob", with a Cyrillic letter, and "Bob" share "bob").
pub fn lookalike_key(name: &str) -> String {
    let once: String = unicode_security::skeleton(name).collect();
    unicode_security::skeleton(&once.to_lowercase()).collect()
}
