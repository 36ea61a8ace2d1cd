//! Why governance refuses a proposal, an amendment, a cancellation, a ballot or a veto.

use std::fmt;

use super::error::TallyError;
use crate::ids::Name;
use crate::outcome::RejectionClass;

/// A refusal particular to proposals and ballots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GovernanceRejection {
    /// No such proposal (or it ended long ago and was forgotten).
    ProposalNotFound {
        /// The id asked for.
        proposal: u64,
    },
    /// The proposal is not in a state that allows this (closed, cancelled, past its deadline).
    ProposalState {
        /// The proposal.
        proposal: u64,
        /// Its state.
        state: &'static str,
        /// What was attempted.
        action: &'static str,
    },
    /// The proposer already created a different proposal under this proposal id.
    ProposalIdConflict {
        /// The proposer's proposal id.
        proposal_id: Name,
        /// The proposal that has it.
        proposal: u64,
    },
    /// The proposal already has ballots: its terms are what the voters answered and no longer change.
    ProposalHasBallots {
        /// The proposal.
        proposal: u64,
        /// Ballots cast so far.
        ballots: u32,
    },
    /// The signer is not in the proposal's electorate (frozen when it was created).
    NotEligible {
        /// The proposal.
        proposal: u64,
    },
    /// The signer does not hold a veto over the proposal.
    NotVetoHolder {
        /// The proposal.
        proposal: u64,
    },
    /// The ballot cannot be counted under the proposal's vote type (a kind the type does not take, an
    /// unknown or repeated option, a split not summing to one, credits over the budget).
    MalformedBallot {
        /// The proposal.
        proposal: u64,
        /// What the tally found wrong (its voter is the signer's position in the electorate).
        error: TallyError,
    },
    /// The electorate asked for holds nobody (no active agent of those roles).
    EmptyElectorate,
    /// Bootstrap has ended and the configuration names this kind guarded: the operator cannot act alone
    /// on it; it runs as the action of an approved proposal.
    Guarded {
        /// The command's kind.
        kind: &'static str,
    },
    /// The signer is a party to the jury's dispute, or the parent or a child of one: an agent does not
    /// judge its own family's case.
    JuryParty {
        /// The jury's proposal.
        proposal: u64,
    },
    /// The proposal is a jury: the swarm opened it for a dispute, and nobody amends or cancels it.
    JuryFixed {
        /// The jury's proposal.
        proposal: u64,
    },
}

impl GovernanceRejection {
    /// The stable machine code, in `snake_case`.
    pub fn code(&self) -> &'static str {
        match self {
            GovernanceRejection::ProposalNotFound { .. } => "proposal_not_found",
            GovernanceRejection::ProposalState { .. } => "proposal_state",
            GovernanceRejection::ProposalIdConflict { .. } => "proposal_id_conflict",
            GovernanceRejection::ProposalHasBallots { .. } => "proposal_has_ballots",
            GovernanceRejection::NotEligible { .. } => "not_eligible",
            GovernanceRejection::NotVetoHolder { .. } => "not_veto_holder",
            GovernanceRejection::MalformedBallot { .. } => "malformed_ballot",
            GovernanceRejection::EmptyElectorate => "empty_electorate",
            GovernanceRejection::Guarded { .. } => "guarded",
            GovernanceRejection::JuryParty { .. } => "jury_party",
            GovernanceRejection::JuryFixed { .. } => "jury_fixed",
        }
    }

    /// A short, fixed summary of the code.
    pub fn title(&self) -> &'static str {
        match self {
            GovernanceRejection::ProposalNotFound { .. } => "Proposal not found",
            GovernanceRejection::ProposalState { .. } => "Proposal state",
            GovernanceRejection::ProposalIdConflict { .. } => "Proposal id conflict",
            GovernanceRejection::ProposalHasBallots { .. } => "Proposal has ballots",
            GovernanceRejection::NotEligible { .. } => "Not eligible",
            GovernanceRejection::NotVetoHolder { .. } => "Not a veto holder",
            GovernanceRejection::MalformedBallot { .. } => "Malformed ballot",
            GovernanceRejection::EmptyElectorate => "Empty electorate",
            GovernanceRejection::Guarded { .. } => "Guarded command",
            GovernanceRejection::JuryParty { .. } => "Party to the dispute",
            GovernanceRejection::JuryFixed { .. } => "Jury is fixed",
        }
    }

    /// What kind of refusal this is.
    pub fn class(&self) -> RejectionClass {
        match self {
            GovernanceRejection::ProposalNotFound { .. } => RejectionClass::NotFound,
            GovernanceRejection::ProposalState { .. }
            | GovernanceRejection::ProposalIdConflict { .. }
            | GovernanceRejection::ProposalHasBallots { .. } => RejectionClass::Conflict,
            GovernanceRejection::NotEligible { .. }
            | GovernanceRejection::NotVetoHolder { .. }
            | GovernanceRejection::Guarded { .. }
            | GovernanceRejection::JuryParty { .. } => RejectionClass::Forbidden,
            GovernanceRejection::JuryFixed { .. } => RejectionClass::Conflict,
            GovernanceRejection::MalformedBallot { .. } | GovernanceRejection::EmptyElectorate => {
                RejectionClass::Invalid
            }
        }
    }

    /// The input field to blame.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            GovernanceRejection::ProposalNotFound { .. }
            | GovernanceRejection::ProposalState { .. }
            | GovernanceRejection::ProposalHasBallots { .. }
            | GovernanceRejection::NotEligible { .. }
            | GovernanceRejection::NotVetoHolder { .. }
            | GovernanceRejection::JuryParty { .. }
            | GovernanceRejection::JuryFixed { .. } => Some("proposal"),
            GovernanceRejection::ProposalIdConflict { .. } => Some("proposal_id"),
            GovernanceRejection::MalformedBallot { .. } => Some("choice"),
            GovernanceRejection::EmptyElectorate => Some("eligible"),
            GovernanceRejection::Guarded { .. } => None,
        }
    }
}

impl fmt::Display for GovernanceRejection {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GovernanceRejection::ProposalNotFound { proposal } => write!(formatter, "no proposal {proposal}"),
            GovernanceRejection::ProposalState { proposal, state, action } => {
                write!(formatter, "proposal {proposal} is {state}; it cannot {action}")
            }
            GovernanceRejection::ProposalIdConflict { proposal_id, proposal } => write!(
                formatter,
                "proposal id '{proposal_id}' was already used for proposal {proposal} with different terms"
            ),
            GovernanceRejection::ProposalHasBallots { proposal, ballots } => {
                write!(formatter, "proposal {proposal} has {ballots} ballots; its terms no longer change")
            }
            GovernanceRejection::NotEligible { proposal } => {
                write!(formatter, "the signer is not in proposal {proposal}'s electorate")
            }
            GovernanceRejection::NotVetoHolder { proposal } => {
                write!(formatter, "the signer holds no veto over proposal {proposal}")
            }
            GovernanceRejection::MalformedBallot { proposal, error } => {
                write!(formatter, "the ballot on proposal {proposal} cannot be counted ({}): {error}", error.code())
            }
            GovernanceRejection::EmptyElectorate => {
                formatter.write_str("the electorate asked for holds no agent (no active agent of those roles)")
            }
            GovernanceRejection::Guarded { kind } => write!(
                formatter,
                "`{kind}` is guarded: after bootstrap the operator cannot act alone on it; propose it as an action"
            ),
            GovernanceRejection::JuryParty { proposal } => write!(
                formatter,
                "the signer is a party to proposal {proposal}'s dispute, or the parent or a child of one; it cannot judge it"
            ),
            GovernanceRejection::JuryFixed { proposal } => {
                write!(formatter, "proposal {proposal} is a jury; it is neither amended nor cancelled")
            }
        }
    }
}
