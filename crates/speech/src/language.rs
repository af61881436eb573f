//! The language a call is spoken in, as the speech engines need it: the primary subtag of a
//! BCP-47 tag (`es` of `es-MX`).
//!
//! Why only the primary subtag: Whisper takes a language, not a region (`es`, never `es-MX`),
//! and a caller from Mexico is better served by a voice from Spain than by no voice at all, so
//! voices are chosen by language too. The agent keeps its full tag for engines that use a region
//! (a cloud engine's `language` option).

use std::fmt;
use std::str::FromStr;

use crate::SpeechError;

/// A language: the lower-case primary subtag (2 or 3 ASCII letters) of a BCP-47 tag.
///
/// Parsed leniently from `es`, `es-MX`, `es_MX` (Piper's spelling), `ES-mx`; anything else
/// (empty, digits, `i-klingon`, a 4-letter subtag) is not a language here.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Language {
    code: [u8; 3],
    len: u8,
}

impl Language {
    /// English, every engine's default.
    pub const ENGLISH: Language = Language { code: *b"en\0", len: 2 };
    /// Spanish.
    pub const SPANISH: Language = Language { code: *b"es\0", len: 2 };

    /// The language of a BCP-47 tag (`es-MX` → `es`), or `None` when its primary subtag is not
    /// 2–3 ASCII letters. Region, script and variant subtags are dropped.
    pub fn parse(tag: &str) -> Option<Language> {
        let primary = tag.trim().split(['-', '_']).next()?;
        if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
            return None;
        }
        let mut code = [0u8; 3];
        for (slot, b) in code.iter_mut().zip(primary.bytes()) {
            *slot = b.to_ascii_lowercase();
        }
        Some(Language {
            code,
            len: primary.len() as u8,
        })
    }

    /// The code: `en`, `es`.
    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.code[..self.len as usize]).unwrap_or("und")
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Language({})", self.as_str())
    }
}

impl Default for Language {
    fn default() -> Self {
        Language::ENGLISH
    }
}

impl FromStr for Language {
    type Err = SpeechError;

    fn from_str(tag: &str) -> Result<Self, Self::Err> {
        Language::parse(tag).ok_or_else(|| SpeechError::Engine(format!("{tag:?} is not a language tag")))
    }
}

/// As its code (`"es"`), so an API can list [`crate::offline_languages`] as strings.
impl serde::Serialize for Language {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// From any tag [`Language::parse`] takes (`"es-MX"` reads as `es`).
impl<'de> serde::Deserialize<'de> for Language {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let tag = String::deserialize(deserializer)?;
        Language::parse(&tag).ok_or_else(|| serde::de::Error::custom(format!("{tag:?} is not a language tag")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_reduce_to_their_primary_subtag() {
        for tag in ["es", "es-MX", "es_MX", "ES-mx", " es-419 ", "es-Latn-MX"] {
            assert_eq!(Language::parse(tag), Some(Language::SPANISH), "{tag:?}");
        }
        assert_eq!(Language::parse("en-US").unwrap().as_str(), "en");
        assert_eq!(Language::parse("haw").unwrap().to_string(), "haw");
        for bad in ["", "e", "engl", "1a", "i-klingon", "-es", "é"] {
            assert_eq!(Language::parse(bad), None, "{bad:?}");
        }
        assert!("zz-ZZ".parse::<Language>().is_ok());
        assert!("x".parse::<Language>().is_err());
        assert_eq!(Language::default(), Language::ENGLISH);
    }

    #[test]
    fn serializes_as_its_code() {
        let json = serde_json::to_string(&[Language::ENGLISH, Language::SPANISH]).unwrap();
        assert_eq!(json, r#"["en","es"]"#);
        let back: Vec<Language> = serde_json::from_str(r#"["en-US","es_MX"]"#).unwrap();
        assert_eq!(back, [Language::ENGLISH, Language::SPANISH]);
        assert!(serde_json::from_str::<Language>(r#""1234""#).is_err());
    }
}
