//! The API's own bounds on what a client may send, in one place. Each is checked before the input
//! is used, and a request past one is a 400 naming the field and the bound.
//!
//! The domain's bounds live with the domain (tags and attributes in `parley_core::contact`, flows
//! in `parley_core::flow`, personas in `parley_core::persona`, automations in
//! `parley_automation::validate`); these are the ones only the HTTP surface has: query strings,
//! paging, path ids and free-text fields of the API's own bodies.
//!
//! Why bounds at all: a request's work must not grow faster than its size, and its size must be
//! bounded, or a few requests occupy the server's threads and every other client (`/health`
//! included) waits. The request body is bounded by `PARLEY_MAX_BODY_BYTES`; these bound the
//! rest.

use crate::error::ApiError;

/// The longest `search` text. Longer searches are refused: SQLite fails a `LIKE` pattern of
/// 50,000 bytes outright, and no name, number or email is this long.
pub const MAX_SEARCH_CHARS: usize = 200;
/// The most values of one list filter in a query string (`tags[]`, `status[]`, ...).
pub const MAX_FILTER_VALUES: usize = 100;
/// The longest value of a list filter (a tag is at most 64 characters; statuses are shorter).
pub const MAX_FILTER_VALUE_CHARS: usize = 64;
/// The deepest row a list may start at (`page` × `limit`): bounds the database's work for one
/// page, and keeps the arithmetic far from overflowing.
pub const MAX_OFFSET: i64 = 1_000_000;
/// The longest id in a path or a body. Every id Parley issues is at most 36 characters (a UUID)
/// or a persona's `builtin-NN`; longer ones are refused before any lookup.
pub const MAX_ID_CHARS: usize = 128;
/// The longest URL of a webhook subscription.
pub const MAX_URL_CHARS: usize = 2048;
/// A call's `metadata`: keys, key length and value length.
pub const MAX_METADATA_KEYS: usize = 50;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
pub const MAX_METADATA_VALUE_BYTES: usize = 2048;

/// Refuses `value` longer than `max` characters, naming `field`. Linear: bytes first (a
/// character is at most 4 bytes), so a huge value is refused without counting its characters.
pub fn check_len(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.len() > max && (value.len() > 4 * max || value.chars().count() > max) {
        return Err(ApiError::bad(format!("{field}: must be at most {max} characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_characters_not_bytes() {
        assert!(check_len("name", &"é".repeat(10), 10).is_ok());
        assert!(check_len("name", &"é".repeat(11), 10).is_err());
        assert!(check_len("name", &"x".repeat(1 << 20), 10).is_err());
        let e = check_len("title", &"x".repeat(201), 200).unwrap_err();
        assert!(
            format!("{e:?}").contains("title: must be at most 200 characters"),
            "{e:?}"
        );
    }
}
