//! Why the configuration and read-token commands refuse.

use std::fmt;

use crate::outcome::RejectionClass;

/// A refusal particular to the configuration and read tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigRejection {
    /// The read token is not known.
    ReadTokenNotFound,
}

impl ConfigRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigRejection::ReadTokenNotFound => "read_token_not_found",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            ConfigRejection::ReadTokenNotFound => "Read token not found",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            ConfigRejection::ReadTokenNotFound => RejectionClass::NotFound,
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            ConfigRejection::ReadTokenNotFound => Some("token_sha256"),
        }
    }
}

impl fmt::Display for ConfigRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigRejection::ReadTokenNotFound => formatter.write_str("no such read token"),
        }
    }
}
