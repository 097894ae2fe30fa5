//! A key a person can keep on paper: the 32-byte seed as 24 BIP-39 words (English list, with
//! its checksum), and back.

use thiserror::Error;
use zeroize::Zeroizing;

use crate::identity::Identity;

#[derive(Debug, Error)]
pub enum BackupError {
    #[error(
        "these are not the 24 backup words of a grapevine key ({0}); check each word against \
         the paper, in order"
    )]
    Words(String),
}

/// The 24 words that restore `identity`, separated by single spaces. Handle with care: they
/// are the key.
pub fn words(identity: &Identity) -> Zeroizing<String> {
    let seed = identity.seed();
    let mnemonic = match bip39::Mnemonic::from_entropy(&seed[..]) {
        Ok(m) => m,
        // 32 bytes is always valid entropy for BIP-39.
        Err(_) => return Zeroizing::new(String::new()),
    };
    Zeroizing::new(mnemonic.words().collect::<Vec<_>>().join(" "))
}

/// The identity 24 backup words stand for. Extra white space and upper case are forgiven.
pub fn identity_from_words(text: &str) -> Result<Identity, BackupError> {
    let normal = Zeroizing::new(
        text.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let count = normal.split(' ').filter(|w| !w.is_empty()).count();
    if count != 24 {
        return Err(BackupError::Words(format!("{count} words, not 24")));
    }
    let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normal)
        .map_err(|e| BackupError::Words(e.to_string()))?;
    let entropy = Zeroizing::new(mnemonic.to_entropy());
    let seed: [u8; 32] = entropy[..]
        .try_into()
        .map_err(|_| BackupError::Words("not a 32-byte key".into()))?;
    let identity = Identity::from_seed(&seed);
    Ok(identity)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_restore_the_same_key_and_a_slip_is_caught() {
        let alice = Identity::from_seed(&[7; 32]);
        let text = words(&alice);
        assert_eq!(text.split(' ').count(), 24);
        let back = identity_from_words(&format!("  {}\n", text.to_uppercase())).expect("restore");
        assert_eq!(back.feed_id(), alice.feed_id());
        // One word swapped for another list word: the checksum catches it.
        let mut list: Vec<&str> = text.split(' ').collect();
        let swapped = if list[3] == "abandon" {
            "ability"
        } else {
            "abandon"
        };
        list[3] = swapped;
        assert!(identity_from_words(&list.join(" ")).is_err());
        assert!(identity_from_words("one two three").is_err());
    }
}
