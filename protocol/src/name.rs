//! Display names (the token's `name` claim), shown by every client to the
//! other participants. A name is text a person reads, so the rule is about
//! what could make one name pose as another or break the text around it:
//! control characters (NUL, newlines, escape sequences), bidirectional
//! overrides and isolates (which reorder what follows them), and invisible
//! format characters. Letters, marks, digits, punctuation, symbols and
//! emoji of every script are fine, and so are the two joiners (U+200C,
//! U+200D) that Persian, Indic scripts and emoji sequences need.

/// Longest display name, in characters (Unicode scalar values, not bytes);
/// the limit [`check_display_name`] applies (docs/protocol.md, "Other fields
/// relayed to participants").
pub const MAX_NAME_CHARS: usize = 128;

/// Why [`check_display_name`] or [`check_display_text`] refused a text.
/// The hub refuses a token whose `name` or `patient_id` fails with close
/// 4001, and a `deny` or `remove` whose `reason` fails with `bad_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty, or only whitespace (Unicode `White_Space`).
    #[error("display name is empty")]
    Empty,
    /// More characters than the limit it holds: [`MAX_NAME_CHARS`] (128)
    /// for a name, the caller's `max` for other text.
    #[error("text is longer than {0} characters")]
    TooLong(usize),
    /// Starts or ends with whitespace (Unicode `White_Space`, e.g. U+3000),
    /// which would let two names look the same.
    #[error("display name starts or ends with whitespace")]
    Padded,
    /// Holds a forbidden character; the value is its code point (the first
    /// one found). Forbidden: control characters (Unicode category Cc),
    /// format characters (Cf: bidirectional marks, overrides and isolates,
    /// zero-width space, BOM, tags, …) except the joiners U+200C and
    /// U+200D, the line and paragraph separators U+2028 and U+2029, blank
    /// fillers (U+115F, U+1160, U+3164, U+FFA0, U+2800), private-use
    /// characters and noncharacters.
    #[error("display name contains a control, bidirectional or invisible character (U+{0:04X})")]
    Forbidden(u32),
}

/// Checks a display name (the token's `name` claim, shown by every client
/// to the other participants) against the display-text rule of
/// docs/protocol.md, "Other fields relayed to participants": not empty or
/// padded with whitespace, at most [`MAX_NAME_CHARS`] characters, and no
/// character that could make one name pose as another or break the text
/// around it (see [`NameError::Forbidden`]). Letters, marks, digits,
/// punctuation, symbols and emoji of every script pass, and so do U+200C
/// and U+200D, which Persian, Indic scripts and emoji sequences need.
///
/// # Errors
///
/// The first rule broken, checked in the order empty, too long, forbidden
/// character, padded.
///
/// # Example
///
/// ```
/// use bedside_protocol::{NameError, check_display_name};
/// assert_eq!(check_display_name("Dr. José Núñez"), Ok(()));
/// assert_eq!(check_display_name("   "), Err(NameError::Empty));
/// assert_eq!(check_display_name(" Pat"), Err(NameError::Padded));
/// assert_eq!(check_display_name("Pat\u{202E}rotivorP"), Err(NameError::Forbidden(0x202E)));
/// assert_eq!(check_display_name(&"a".repeat(129)), Err(NameError::TooLong(128)));
/// ```
pub fn check_display_name(name: &str) -> Result<(), NameError> {
    check_display_text(name, MAX_NAME_CHARS)
}

/// The rule of [`check_display_name`] with a limit of `max` characters
/// instead of [`MAX_NAME_CHARS`], for other short text one participant
/// shows another (a `deny` or `remove` reason, at most 200) or the audit
/// log keeps (the token's `patient_id`, at most 128).
///
/// # Errors
///
/// As [`check_display_name`]; `TooLong` holds `max`.
///
/// # Example
///
/// ```
/// use bedside_protocol::{NameError, check_display_text};
/// assert_eq!(check_display_text("Please call the front desk.", 200), Ok(()));
/// assert_eq!(check_display_text("a\nb", 200), Err(NameError::Forbidden(0x0A)));
/// assert_eq!(check_display_text("abcd", 3), Err(NameError::TooLong(3)));
/// ```
pub fn check_display_text(name: &str, max: usize) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.chars().count() > max {
        return Err(NameError::TooLong(max));
    }
    if let Some(c) = name.chars().find(|&c| is_forbidden(c)) {
        return Err(NameError::Forbidden(c as u32));
    }
    if name.trim() != name {
        return Err(NameError::Padded);
    }
    Ok(())
}

/// Control characters (Unicode category Cc), line and paragraph separators,
/// the format characters (category Cf) except the two joiners, invisible
/// fillers, noncharacters and private-use characters.
fn is_forbidden(c: char) -> bool {
    let u = c as u32;
    c.is_control()
        || matches!(
            u,
            // Format characters (Cf) of Unicode 15, except U+200C and U+200D.
            0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891
            | 0x08E2 | 0x180E | 0x200B | 0x200E..=0x200F | 0x202A..=0x202E
            | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
            | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F
            // Line and paragraph separators.
            | 0x2028 | 0x2029
            // Characters that render as nothing but are letters.
            | 0x115F | 0x1160 | 0x3164 | 0xFFA0 | 0x2800
            // Private use.
            | 0xE000..=0xF8FF | 0xF0000..=0xFFFFD | 0x100000..=0x10FFFD
            // Noncharacters.
            | 0xFDD0..=0xFDEF
        )
        || (u & 0xFFFE) == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_script_pass() {
        for name in [
            "Dr. Ada Lovelace",
            "Pat O'Brien-Smith",
            "José Núñez",
            "Zoë",
            "李小龙",
            "محمد",
            "שרה",
            "मेहदी\u{200C}ज़ादा",
            "Sam 👩\u{200D}⚕\u{FE0F}",
            &"a".repeat(128),
        ] {
            assert_eq!(check_display_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn names_that_could_pose_as_another_are_refused() {
        for (name, want) in [
            ("", NameError::Empty),
            ("   ", NameError::Empty),
            (&"a".repeat(129) as &str, NameError::TooLong(128)),
            (" Dr. Ada", NameError::Padded),
            ("Dr. Ada\u{3000}", NameError::Padded),
            ("Pat\0", NameError::Forbidden(0)),
            ("Pat\nDr. Ada: admitted", NameError::Forbidden(0x0A)),
            ("Pat\u{1b}[31m", NameError::Forbidden(0x1B)),
            ("Pat \u{202E}rotivorP", NameError::Forbidden(0x202E)),
            ("Pat \u{2067}x", NameError::Forbidden(0x2067)),
            ("Dr.\u{200B}Ada", NameError::Forbidden(0x200B)),
            ("Dr.\u{200F}Ada", NameError::Forbidden(0x200F)),
            ("Ada\u{FEFF}", NameError::Forbidden(0xFEFF)),
            ("Ada\u{E0041}", NameError::Forbidden(0xE0041)),
            ("Ada\u{2028}", NameError::Forbidden(0x2028)),
            ("Ada\u{3164}", NameError::Forbidden(0x3164)),
            ("Ada\u{E000}", NameError::Forbidden(0xE000)),
            ("Ada\u{FFFF}", NameError::Forbidden(0xFFFF)),
            ("Ada\u{9F}", NameError::Forbidden(0x9F)),
        ] {
            assert_eq!(check_display_name(name), Err(want), "{name:?}");
        }
    }
}
