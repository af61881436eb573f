//! Handlers, one module per resource.

pub mod account;
pub mod agent_versions;
pub mod analytics;
pub mod automations;
pub mod calls;
pub mod contacts;
pub mod interviews;
pub mod live;
pub mod numbers;
pub mod sandbox;
pub mod speech_keys;
pub mod system;
pub mod team;
pub mod webhooks;

use crate::error::ApiError;
use uuid::Uuid;

/// A path id that must be a UUID; anything else is answered as a missing object.
pub fn uuid_or(id: &str, not_found: &'static str) -> Result<Uuid, ApiError> {
    parley_core::ids::parse_uuid(id).ok_or(ApiError::NotFound(not_found))
}

/// Maps the store's NotFound to this resource's message.
pub fn not_found(msg: &'static str) -> impl Fn(parley_store::StoreError) -> ApiError {
    move |e| match e {
        parley_store::StoreError::NotFound => ApiError::NotFound(msg),
        other => other.into(),
    }
}
