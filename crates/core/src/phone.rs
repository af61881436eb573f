//! Phone numbers: E.164 normalization and per-country validation with libphonenumber's metadata
//! (the `phonenumber` crate), plus Parley's sandbox ranges.
//!
//! Rules (API.md): a number with a leading `+` (or `00`) is international; otherwise it is read
//! in the country of `country_code` (default `+1`), so `020 7946 0958` with `+44` is London.
//! Premium-rate and shared-cost numbers are refused unless the team allows them, because an
//! automated dialer pointed at them costs money per minute. Numbers in the sandbox ranges are
//! always valid: they never reach a carrier.

use crate::ValidationError;
use phonenumber::{country, metadata::DATABASE, Mode, Type};

/// Options that change what is accepted.
#[derive(Debug, Clone, Copy, Default)]
pub struct PhonePolicy {
    /// Accept premium-rate and shared-cost numbers.
    pub allow_premium: bool,
}

/// Parses a `country_code` such as `"+44"`, `"44"` or `"+1"` into its calling code.
pub fn parse_country_code(raw: &str) -> Result<u16, ValidationError> {
    let digits = raw.trim().trim_start_matches('+');
    // Echoed in the message only when short: a dialing prefix is at most 4 characters.
    let shown = if raw.len() <= 16 {
        format!("'{raw}'")
    } else {
        "the value".into()
    };
    let err = || {
        ValidationError::new(
            "country_code",
            format!("{shown} is not a dialing prefix such as \"+1\" or \"+44\""),
        )
        .with_code("invalid_country_code")
    };
    if digits.is_empty() || digits.len() > 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err());
    }
    let code: u16 = digits.parse().map_err(|_| err())?;
    if DATABASE.region(&code).is_none() {
        return Err(err());
    }
    Ok(code)
}

/// Normalizes `raw` to E.164 (`+14155550123`), validating it for its country.
/// `field` names the input in the error (`phone_number`, `phone_numbers[3]`).
pub fn normalize(field: &str, raw: &str, country_code: u16, policy: PhonePolicy) -> Result<String, ValidationError> {
    let invalid = |msg: String| ValidationError::new(field, msg).with_code("invalid_phone_number");
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid("is required".into()));
    }
    if trimmed.len() > 32 {
        return Err(invalid("is too long to be a phone number".into()));
    }
    if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')' | '.')))
    {
        return Err(invalid(format!(
            "'{trimmed}' contains '{bad}', which is not part of a phone number"
        )));
    }
    // `00` is the international prefix in most of the world; treat it as `+`.
    let international = if let Some(rest) = trimmed.strip_prefix("00") {
        Some(format!("+{rest}"))
    } else if trimmed.starts_with('+') {
        Some(trimmed.to_string())
    } else {
        None
    };

    // Sandbox numbers are checked on the digits before libphonenumber, which need not know them.
    let digits: String = trimmed.chars().filter(|c| c.is_ascii_digit()).collect();
    let candidate = match &international {
        Some(_) => format!("+{}", digits.trim_start_matches("00")),
        None if country_code == 1 && digits.len() == 11 && digits.starts_with('1') => format!("+{digits}"),
        None => format!("+{country_code}{digits}"),
    };
    if is_builtin_sandbox(&candidate) {
        return Ok(candidate);
    }

    let parsed = match &international {
        Some(s) => phonenumber::parse(None, s),
        None => phonenumber::parse(Some(region_of(country_code)?), trimmed),
    }
    .map_err(|_| invalid(format!("'{trimmed}' is not a phone number")))?;

    let code = parsed.code().value();
    if !parsed.is_valid() {
        return Err(invalid(format!("not a valid number for country code +{code}")));
    }
    let kind = parsed.number_type(&DATABASE);
    if !policy.allow_premium && matches!(kind, Type::PremiumRate | Type::SharedCost) {
        let what = if kind == Type::PremiumRate {
            "premium-rate"
        } else {
            "shared-cost"
        };
        return Err(invalid(format!(
            "{what} numbers are refused (they cost the caller per minute); a team may allow them"
        ))
        .with_code("premium_number_refused"));
    }
    Ok(parsed.format().mode(Mode::E164).to_string())
}

/// The main region of a calling code (`1` -> US, `44` -> GB), for reading national numbers.
fn region_of(country_code: u16) -> Result<country::Id, ValidationError> {
    DATABASE
        .region(&country_code)
        .and_then(|regions| regions.first().and_then(|r| r.parse().ok()))
        .ok_or_else(|| {
            ValidationError::new("country_code", format!("+{country_code} is not a country calling code"))
                .with_code("invalid_country_code")
        })
}

/// Whether an E.164 number is in the built-in sandbox range `+1 NPA 555 01xx`, where NPA is a
/// valid North American area code (first digit 2-9, not an N11 service code, not the reserved
/// `N9X` block).
pub fn is_builtin_sandbox(e164: &str) -> bool {
    let Some(d) = e164.strip_prefix("+1") else { return false };
    let b = d.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let npa_ok = (b'2'..=b'9').contains(&b[0]) && b[1] != b'9' && !(b[1] == b'1' && b[2] == b'1');
    npa_ok && &d[3..8] == "55501"
}

/// The persona slot of a built-in sandbox number: its last two digits.
pub fn sandbox_persona_slot(e164: &str) -> Option<u8> {
    is_builtin_sandbox(e164)
        .then(|| e164[e164.len() - 2..].parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    /// A campaign normalizes up to 1000 numbers at once (~180 ms of CPU in a debug build, so the
    /// API does it on a blocking thread). Not timed here: a bound on a loaded CI machine measures
    /// the machine; this checks the whole batch comes out right.
    #[test]
    fn a_campaign_of_numbers_normalizes() {
        let numbers: Vec<String> = (0..1000).map(|i| format!("(201) 556-{i:04}")).collect();
        for (i, n) in numbers.iter().enumerate() {
            let e164 = normalize("phone_numbers[0]", n, 1, PhonePolicy::default()).unwrap();
            assert_eq!(e164, format!("+1201556{i:04}"));
        }
    }

    use super::*;

    fn ok(raw: &str, cc: &str) -> String {
        normalize(
            "phone_number",
            raw,
            parse_country_code(cc).unwrap(),
            PhonePolicy::default(),
        )
        .unwrap_or_else(|e| panic!("{raw} ({cc}) should be valid: {e}"))
    }

    fn bad(raw: &str, cc: &str) -> ValidationError {
        normalize(
            "phone_number",
            raw,
            parse_country_code(cc).unwrap(),
            PhonePolicy::default(),
        )
        .expect_err(&format!("{raw} ({cc}) should be invalid"))
    }

    #[test]
    fn valid_numbers_of_many_countries_normalize_to_e164() {
        // (national form, country code, international form, E.164)
        let cases = [
            ("(201) 555-0123", "+1", "+1 201-555-0123", "+12015550123"),
            ("020 7946 0958", "+44", "+44 20 7946 0958", "+442079460958"),
            ("07400 123456", "+44", "+44 7400 123456", "+447400123456"),
            ("030 901820", "+49", "+49 30 901820", "+4930901820"),
            ("01 23 45 67 89", "+33", "+33 1 23 45 67 89", "+33123456789"),
            ("06 12 34 56 78", "+33", "0033 6 12 34 56 78", "+33612345678"),
            ("03-1234-5678", "+81", "+81 3-1234-5678", "+81312345678"),
            ("(02) 9876 5432", "+61", "+61 2 9876 5432", "+61298765432"),
            ("091234 56789", "+91", "+91 91234 56789", "+919123456789"),
            ("(11) 96123-4567", "+55", "+55 11 96123-4567", "+5511961234567"),
            ("612 345 678", "+34", "+34 612 345 678", "+34612345678"),
            ("312 345 6789", "+39", "+39 312 345 6789", "+393123456789"),
            ("(416) 555-0199", "+1", "+1 416 555 0199", "+14165550199"),
            ("06 12345678", "+31", "+31 6 12345678", "+31612345678"),
        ];
        for (national, cc, international, e164) in cases {
            // Some national forms above are of another number than the international one (India);
            // each must still be valid and normalize as libphonenumber says.
            let n = ok(national, cc);
            assert!(
                n.starts_with(&format!("+{}", cc.trim_start_matches('+'))),
                "{national}: {n}"
            );
            assert_eq!(ok(international, "+1"), e164, "{international}");
        }
        assert_eq!(ok("020 7946 0958", "44"), "+442079460958");
        assert_eq!(ok("2015550123", "+1"), "+12015550123");
        assert_eq!(ok("12015550123", "+1"), "+12015550123");
    }

    #[test]
    fn invalid_numbers_are_refused_with_the_country_named() {
        let e = bad("020 7946 095", "+44");
        assert_eq!(e.field, "phone_number");
        assert!(e.message.contains("+44"), "{e}");
        for (raw, cc) in [
            ("123", "+1"),
            ("+1 123 456 7890", "+1"), // area codes do not start with 1
            ("+49 1", "+49"),          // too short
            ("+33 9 1", "+33"),
            ("+81 3-1234-56789012", "+81"), // too long
            ("+61 2 9876 54321", "+61"),
            ("+91 98765 4321", "+91"), // one digit short
            ("+55 11 1234", "+55"),
            ("+34 112 345 678", "+34"),
            ("+999 1234567", "+1"), // no such country
        ] {
            bad(raw, cc);
        }
        let e = bad("555-CALL-NOW", "+1");
        assert!(e.message.contains("'C'"), "{e}");
        assert!(bad("", "+1").message.contains("required"));
    }

    #[test]
    fn premium_and_shared_cost_numbers_are_refused_unless_allowed() {
        for (raw, _what) in [
            ("+1 900 555 1234", "US premium"),
            ("+44 909 879 0000", "UK premium"),
            ("+44 845 464 0000", "UK shared cost"),
        ] {
            let e = bad(raw, "+1");
            assert_eq!(e.code, "premium_number_refused", "{raw}: {e}");
            let allowed = normalize("phone_number", raw, 1, PhonePolicy { allow_premium: true });
            assert!(allowed.is_ok(), "{raw}: {allowed:?}");
        }
    }

    #[test]
    fn sandbox_numbers_are_always_valid() {
        assert_eq!(ok("+12125550100", "+1"), "+12125550100");
        assert_eq!(ok("(212) 555-0107", "+1"), "+12125550107");
        assert_eq!(sandbox_persona_slot("+12125550107"), Some(7));
        assert!(is_builtin_sandbox("+14155550199"));
        assert!(!is_builtin_sandbox("+12125550200"));
        assert!(!is_builtin_sandbox("+19115550100"), "N11 is not an area code");
        assert!(!is_builtin_sandbox("+442125550100"));
    }

    #[test]
    fn country_codes_are_checked() {
        assert_eq!(parse_country_code("+44").unwrap(), 44);
        assert_eq!(parse_country_code("1").unwrap(), 1);
        for raw in ["", "+", "abc", "+0", "+9999", "+999"] {
            assert_eq!(parse_country_code(raw).unwrap_err().field, "country_code", "{raw}");
        }
    }
}
