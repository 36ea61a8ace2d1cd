//! The operator's commands over the swarm's configuration and its read tokens.

use crate::outcome::ConfigRejection;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::SwarmConfig;
use crate::command::Apply;
use crate::event::EventKind;
use crate::ids::Digest;
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, ReadToken, State};

/// Replaces the swarm configuration. Operator only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetConfig {
    /// The new configuration, whole.
    pub config: SwarmConfig,
}

impl Apply for SetConfig {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        context.require_operator()?;
        self.config.validate()?;
        if self.config == state.config {
            return Ok(Accepted::Unchanged);
        }
        state.config = self.config.clone();
        context.emit(EventKind::ConfigChanged {});
        Ok(Accepted::Done)
    }
}

/// Authorises a bearer token for reads. The token itself never enters the log: only its SHA-256.
/// Operator only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueReadToken {
    /// SHA-256 of the token's text.
    pub token_sha256: Digest,
    /// A label for the operator's records.
    #[serde(default)]
    #[schemars(length(max = limits::REASON_BYTES_MAX))]
    pub label: String,
    /// When the token stops working (log time, Unix milliseconds).
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
}

impl Apply for IssueReadToken {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        context.require_operator()?;
        if self.label.len() > limits::REASON_BYTES_MAX {
            return Err(Rejection::invalid("label", format!("must be at most {} bytes", limits::REASON_BYTES_MAX)));
        }
        if state.read_tokens.contains_key(&self.token_sha256) {
            return Err(Rejection::invalid("token_sha256", "this token was already issued"));
        }
        if state.read_tokens.len() >= limits::READ_TOKENS_MAX {
            return Err(Rejection::LimitReached { limit: "read_tokens", max: limits::READ_TOKENS_MAX as u64 });
        }
        let token =
            ReadToken { label: self.label.clone(), issued_at_ms: context.now_ms, expires_at_ms: self.expires_at_ms };
        state.read_tokens.insert(self.token_sha256, token);
        context.emit(EventKind::ReadTokenIssued { label: self.label.clone() });
        Ok(Accepted::Done)
    }
}

/// Withdraws a read token. Operator only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeReadToken {
    /// SHA-256 of the token's text.
    pub token_sha256: Digest,
}

impl Apply for RevokeReadToken {
    fn apply(&self, state: &mut State, context: &mut Context) -> CommandResult {
        context.require_operator()?;
        let token = state
            .read_tokens
            .remove(&self.token_sha256)
            .ok_or(Rejection::Config(ConfigRejection::ReadTokenNotFound))?;
        context.emit(EventKind::ReadTokenRevoked { label: token.label });
        Ok(Accepted::Done)
    }
}
