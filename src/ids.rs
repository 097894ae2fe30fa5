//! Text forms of feed and message ids.
//!
//! Both are 32 bytes written as `@` (feed) or `%` (message) followed by 52 characters of
//! lower-case RFC 4648 base32 without padding. Lower case base32 is shell-safe, survives
//! case-insensitive file systems (FAT32) and copy-paste, and the sigil tells the two apart.

use std::fmt;
use std::str::FromStr;

use data_encoding::{BASE32_NOPAD, Encoding};
use thiserror::Error;

/// Length in characters of the base32 part of an id.
pub const ID_CHARS: usize = 52;

const BASE32: Encoding = BASE32_NOPAD;

/// Lower-case base32 (no padding) of arbitrary bytes.
pub fn encode_base32(bytes: &[u8]) -> String {
    BASE32.encode(bytes).to_ascii_lowercase()
}

/// Decodes base32 in either case; `None` if the text is not base32.
pub fn decode_base32(text: &str) -> Option<Vec<u8>> {
    BASE32.decode(text.to_ascii_uppercase().as_bytes()).ok()
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("'{text}' is not a {what} id: expected '{sigil}' followed by {ID_CHARS} base32 characters")]
pub struct IdParseError {
    text: String,
    what: &'static str,
    sigil: char,
}

fn parse_id(text: &str, sigil: char, what: &'static str) -> Result<[u8; 32], IdParseError> {
    let error = || IdParseError {
        text: text.chars().take(80).collect(),
        what,
        sigil,
    };
    let body = text.trim().strip_prefix(sigil).ok_or_else(error)?;
    if body.len() != ID_CHARS {
        return Err(error());
    }
    let bytes = decode_base32(body).ok_or_else(error)?;
    bytes.try_into().map_err(|_| error())
}

macro_rules! id_type {
    ($name:ident, $sigil:literal, $what:literal) => {
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The id without its sigil: safe in file names on every file system.
            pub fn base32(&self) -> String {
                encode_base32(&self.0)
            }

            /// A short form for people: sigil and the first 8 characters.
            pub fn short(&self) -> String {
                let mut text = self.to_string();
                text.truncate(9);
                text
            }

            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                bytes.try_into().ok().map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $sigil, self.base32())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                parse_id(text, $sigil, $what).map(Self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(FeedId, '@', "feed");
id_type!(MessageId, '%', "message");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_the_wrong_sigil() {
        let feed = FeedId([7; 32]);
        let text = feed.to_string();
        assert_eq!(text.len(), 53);
        assert_eq!(text.parse::<FeedId>(), Ok(feed));
        assert_eq!(text.to_uppercase().parse::<FeedId>(), Ok(feed));
        assert!(text.replacen('@', "%", 1).parse::<FeedId>().is_err());
        assert!(text[..40].parse::<FeedId>().is_err());
        assert!("@".parse::<FeedId>().is_err());
        let message = MessageId([9; 32]);
        assert_eq!(message.to_string().parse::<MessageId>(), Ok(message));
    }
}
