//! Where a callee is in time: the zone Parley reads their "tomorrow at ten" in, and keeps
//! calling hours in.
//!
//! The contact's `time_zone` attribute (or `timezone`, `tz`) when it holds an IANA name wins;
//! otherwise the number's country gives its main zones (several for the US, Canada,
//! Australia…). Callers decide what several zones mean: calling rules require the window to hold
//! in all of them; an agent reading a date takes the first.

use chrono_tz::Tz;
use std::collections::BTreeMap;

/// The zones a callee with these contact attributes and this number may be in; empty when
/// neither says (the caller's own default applies).
pub fn callee_zones(attributes: &BTreeMap<String, String>, phone_number: &str) -> Vec<Tz> {
    for key in ["time_zone", "timezone", "tz"] {
        if let Some(tz) = attributes.get(key).and_then(|z| z.parse::<Tz>().ok()) {
            return vec![tz];
        }
    }
    phonenumber::parse(None, phone_number)
        .ok()
        .and_then(|n| n.country().id())
        .map(|id| country_zones(&format!("{id:?}")))
        .unwrap_or_default()
}

/// Main zones of a country by ISO code; empty when not listed.
pub fn country_zones(iso: &str) -> Vec<Tz> {
    use chrono_tz::*;
    match iso {
        "US" => vec![
            America::New_York,
            America::Chicago,
            America::Denver,
            America::Los_Angeles,
        ],
        "CA" => vec![
            America::Halifax,
            America::Toronto,
            America::Winnipeg,
            America::Edmonton,
            America::Vancouver,
        ],
        "AU" => vec![Australia::Sydney, Australia::Adelaide, Australia::Perth],
        "BR" => vec![America::Sao_Paulo, America::Manaus],
        "MX" => vec![America::Mexico_City, America::Tijuana],
        "RU" => vec![Europe::Moscow],
        "GB" => vec![Europe::London],
        "IE" => vec![Europe::Dublin],
        "FR" => vec![Europe::Paris],
        "DE" => vec![Europe::Berlin],
        "ES" => vec![Europe::Madrid],
        "IT" => vec![Europe::Rome],
        "NL" => vec![Europe::Amsterdam],
        "BE" => vec![Europe::Brussels],
        "CH" => vec![Europe::Zurich],
        "AT" => vec![Europe::Vienna],
        "SE" => vec![Europe::Stockholm],
        "NO" => vec![Europe::Oslo],
        "DK" => vec![Europe::Copenhagen],
        "FI" => vec![Europe::Helsinki],
        "PL" => vec![Europe::Warsaw],
        "PT" => vec![Europe::Lisbon],
        "IN" => vec![Asia::Kolkata],
        "JP" => vec![Asia::Tokyo],
        "SG" => vec![Asia::Singapore],
        "ZA" => vec![Africa::Johannesburg],
        "NZ" => vec![Pacific::Auckland],
        "IL" => vec![Asia::Jerusalem],
        "AE" => vec![Asia::Dubai],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attribute_wins_then_the_country_then_nothing() {
        let mut attrs = BTreeMap::new();
        assert_eq!(
            callee_zones(&attrs, "+14155550123"),
            [
                chrono_tz::America::New_York,
                chrono_tz::America::Chicago,
                chrono_tz::America::Denver,
                chrono_tz::America::Los_Angeles
            ]
        );
        assert_eq!(callee_zones(&attrs, "+442071838750"), [chrono_tz::Europe::London]);
        assert!(callee_zones(&attrs, "not a number").is_empty());
        attrs.insert("time_zone".into(), "Pacific/Auckland".into());
        assert_eq!(callee_zones(&attrs, "+14155550123"), [chrono_tz::Pacific::Auckland]);
        attrs.insert("time_zone".into(), "Mars/Olympus".into());
        assert_eq!(callee_zones(&attrs, "+442071838750"), [chrono_tz::Europe::London]);
    }
}
