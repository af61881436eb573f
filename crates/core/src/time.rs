//! Time as the API shows it: stored as UTC milliseconds since the epoch (portable across SQLite and
//! PostgreSQL, sortable, comparable in SQL), serialized as RFC 3339 strings.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
#[cfg(feature = "test-clock")]
use std::sync::atomic::{AtomicI64, Ordering};

/// How far this process's clock is moved ahead of the system clock, in milliseconds.
///
/// Why: automations wait for days ("24 hours before the appointment") and keep calling hours in
/// the callee's zone; tests move the clock instead of waiting (`advance_clock`). Every "now" of
/// Parley (job due times, timers, timestamps) reads [`Timestamp::now`], so moving it moves them
/// all consistently. Only with the `test-clock` feature, which the product never enables: a
/// production server's clock is the system's.
#[cfg(feature = "test-clock")]
static CLOCK_OFFSET_MS: AtomicI64 = AtomicI64::new(0);

/// Moves this process's clock forward (or back) by `ms`.
#[cfg(feature = "test-clock")]
pub fn advance_clock(ms: i64) {
    CLOCK_OFFSET_MS.fetch_add(ms, Ordering::SeqCst);
}

/// The current clock offset (see [`advance_clock`]).
#[cfg(feature = "test-clock")]
pub fn clock_offset_ms() -> i64 {
    CLOCK_OFFSET_MS.load(Ordering::SeqCst)
}

/// Sets the clock offset outright.
#[cfg(feature = "test-clock")]
pub fn set_clock_offset_ms(ms: i64) {
    CLOCK_OFFSET_MS.store(ms, Ordering::SeqCst);
}

/// The offset [`Timestamp::now`] adds: always zero in the product.
#[cfg(not(feature = "test-clock"))]
fn clock_offset_ms() -> i64 {
    0
}

/// A UTC instant with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_millis() + clock_offset_ms())
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn to_rfc3339(self) -> String {
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or_default()
            .to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|d| Timestamp(d.timestamp_millis()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse_rfc3339(&s).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 time"))
    }
}

impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::DateTime,
            )))
            .into()
    }
}
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_as_rfc3339_utc() {
        let t = Timestamp(1_764_000_000_123);
        let s = serde_json::to_string(&t).unwrap();
        assert_eq!(s, "\"2025-11-24T16:00:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&s).unwrap(), t);
    }
}
