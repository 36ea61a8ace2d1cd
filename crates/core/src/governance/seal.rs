//! Seals: each decision hashed with the one before it, so that the swarm's decisions form one chain.
//!
//! A seal is SHA-256 over a domain line and the canonical encoding of a [`SealInput`]: postcard, the
//! encoding snapshots use, of the proposal's id, proposer and proposal id, its terms (as amended), its
//! frozen electorate with the weights, the ballots in voter order each with the entry that cast it,
//! the tally, the outcome, what closed it, what became of its action (whose commands are in the terms,
//! so the seal covers them byte for byte), the dispute when it is a jury, and the previous seal. Postcard writes every field in
//! declaration order with lengths before variable parts, so two different inputs never share an
//! encoding, and equal inputs have equal bytes on every machine. Anyone holding the proposal as
//! `GET /v1/proposals/{id}` shows it can recompute its seal, and walk the chain through each
//! decision's `previous_seal`.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::action::ActionResult;
use super::book::{Closure, Decision, LiveBallot, Proposal, ProposalTerms, Voter};
use super::jury::Jury;
use super::tally::{Outcome, Tally};
use crate::ids::{Digest, Name, Signer};

/// The domain line every sealed encoding starts with, so that no other hash in Colony (state hashes,
/// chain hashes, announcements) can be taken for a seal.
// v2: the terms carry the action, and the input what became of it.
// v3: the input carries the dispute a jury judged.
pub const SEAL_DOMAIN: &[u8] = b"colony-decision-seal-v3\n";

/// Everything a seal covers, borrowed from the proposal and its decision.
#[derive(Clone, Debug, Serialize)]
pub struct SealInput<'a> {
    /// The proposal's number.
    pub proposal: u64,
    /// Who created it.
    pub proposer: &'a Signer,
    /// The proposer's id for it.
    pub proposal_id: &'a Name,
    /// Its terms at the close.
    pub terms: &'a ProposalTerms,
    /// The frozen electorate, by id, with weights.
    pub electorate: &'a [Voter],
    /// The live ballots in voter order: the voter's position, and the ballot with its entry.
    pub ballots: Vec<(u32, &'a LiveBallot)>,
    /// The tally at the close.
    pub tally: &'a Tally,
    /// The outcome decided.
    pub outcome: &'a Outcome,
    /// What closed it.
    pub closure: &'a Closure,
    /// What became of the action, when the decision ran one.
    pub action_result: Option<&'a ActionResult>,
    /// The dispute, when the proposal is a jury: its verdict settles that escrow.
    pub jury: Option<&'a Jury>,
    /// The seal before this one (all zeros for the first).
    pub previous_seal: Digest,
}

impl<'a> SealInput<'a> {
    /// The input of a proposal's decision, as stored.
    pub fn of(proposal: &'a Proposal, decision: &'a Decision) -> SealInput<'a> {
        SealInput::new(proposal, &decision.tally, &decision.outcome, &decision.closure, decision.previous_seal)
            .with_action_result(decision.action_result.as_ref())
    }

    /// The input of a decision about to be made on `proposal`.
    pub fn new(
        proposal: &'a Proposal,
        tally: &'a Tally,
        outcome: &'a Outcome,
        closure: &'a Closure,
        previous_seal: Digest,
    ) -> SealInput<'a> {
        SealInput {
            proposal: proposal.id,
            proposer: &proposal.proposer,
            proposal_id: &proposal.proposal_id,
            terms: &proposal.terms,
            electorate: &proposal.electorate,
            ballots: proposal.ballots.iter().map(|(&voter, cast)| (voter, cast)).collect(),
            tally,
            outcome,
            closure,
            action_result: None,
            jury: proposal.jury.as_ref(),
            previous_seal,
        }
    }

    /// The same input with what became of the proposal's action.
    pub fn with_action_result(self, action_result: Option<&'a ActionResult>) -> SealInput<'a> {
        SealInput { action_result, ..self }
    }

    /// The canonical bytes the seal hashes: the domain line, then the input's postcard encoding.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = SEAL_DOMAIN.to_vec();
        postcard::to_io(self, &mut bytes).expect("writing to a Vec cannot fail");
        bytes
    }
}

/// The seal of `input`: SHA-256 over its canonical bytes. Pure: the same input gives the same seal
/// everywhere, and a different input a different one (up to SHA-256 collisions).
pub fn seal(input: &SealInput<'_>) -> Digest {
    Digest(Sha256::digest(input.canonical_bytes()).into())
}
