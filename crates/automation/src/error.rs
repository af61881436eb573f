//! The one error type of the automation layer; the API maps it to HTTP.

use parley_core::error::ValidationError;
use parley_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AutomationError {
    /// The automation (or its webhook body) breaks a rule; every problem is listed.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    #[error("not found")]
    NotFound,
    /// The webhook requires the team's `x-api-token` and it was missing or wrong.
    #[error("Unauthorized.")]
    Unauthorized,
    #[error("conflict: {0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AutomationError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => AutomationError::NotFound,
            StoreError::Conflict(m) => AutomationError::Conflict(m),
            other => AutomationError::Store(other),
        }
    }
}

impl From<ValidationError> for AutomationError {
    fn from(e: ValidationError) -> Self {
        AutomationError::Invalid(vec![e])
    }
}

pub type Result<T> = std::result::Result<T, AutomationError>;
