//! Juries: a dispute over an escrow that names no arbiter is judged by a sample of the swarm.
//!
//! Without an arbiter, a disputed escrow was the operator's to resolve, and after bootstrap (where
//! `escrow.resolve` is guarded) nobody's but a whole proposal's. So the dispute itself opens a jury, in
//! the same entry, whether or not bootstrap has ended: a jury of agents with no stake in the case is
//! fairer than the operator alone, and the same rule before and after bootstrap is one rule to trust.
//!
//! A jury is a proposal the swarm opens (its proposer is the operator, its id `jury-escrow-<id>`):
//! an approval vote over three options, release (0), refund (1) and split (2, half to the payee, as
//! `escrow.resolve`'s split of 5,000 basis points), one vote per juror (equal weights), the quorum and
//! the voting time from the configuration (`jury_quorum`, `jury_voting_ms`). Its jurors are up to
//! `JURY_SIZE_MAX` active agents drawn by the swarm's draw seed (`draw.rs`), which no party can aim,
//! skipping the payer, the payee, their parents and their children: an agent does not judge its own
//! family's case. Nobody amends, cancels or vetoes a jury.
//!
//! Its close settles the escrow exactly once, through `State::settle`, the path `escrow.resolve` takes
//! (the escrow is frozen until then: `escrow.resolve` refuses an escrow with a jury). A winning option
//! is the verdict. No quorum, a tie, or no option approved by anyone refunds the payer: the payer's
//! money stays the payer's unless enough independent jurors agreed it should move, the same default as
//! an escrow that times out. A dispute that finds no juror at all is refunded at once, for that reason.

use std::collections::BTreeSet;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::ballot::{Quorum, VoteType};
use super::book::{Eligibility, Opening, Proposal, ProposalTerms, Voter, WeightSource};
use super::rejections::GovernanceRejection;
use super::tally::Outcome;
use crate::amount::BASIS_POINTS_ONE;
use crate::event::EventKind;
use crate::ids::{AgentId, Digest, Name, Signer};
use crate::ledger::EscrowState;
use crate::limits;
use crate::outcome::Rejection;
use crate::registry::AgentHandle;
use crate::state::{Context, State};

/// The payee's share when a jury splits an escrow: half, as neither party convinced the jurors.
pub const JURY_SPLIT_PAYEE_BPS: u16 = 5_000;

/// A jury's options, numbered as its ballots name them.
const OPTIONS: u32 = 3;

/// The case a jury judges, kept on its proposal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Jury {
    /// The disputed escrow.
    pub escrow: u64,
    /// Its payer.
    pub payer: AgentId,
    /// Its payee.
    pub payee: AgentId,
    /// The party that disputed it, whose open juries are bounded.
    pub disputer: AgentId,
}

/// What a jury decided for its escrow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Paid to the payee, as a release.
    Release,
    /// Given back to the payer.
    Refund,
    /// Half to the payee, the rest back to the payer.
    Split,
}

impl Verdict {
    /// The verdict of a jury's outcome, and whether it is the default (no quorum, a tie, nothing
    /// approved) rather than a winning option.
    pub fn of(outcome: &Outcome) -> (Verdict, bool) {
        match outcome {
            Outcome::Winner { option: 0 } => (Verdict::Release, false),
            Outcome::Winner { option: 1 } => (Verdict::Refund, false),
            Outcome::Winner { option: 2 } => (Verdict::Split, false),
            _ => (Verdict::Refund, true),
        }
    }

    /// The payee's share in basis points, as `escrow.resolve` takes it.
    pub fn payee_bps(self) -> u16 {
        match self {
            Verdict::Release => BASIS_POINTS_ONE as u16,
            Verdict::Refund => 0,
            Verdict::Split => JURY_SPLIT_PAYEE_BPS,
        }
    }
}

impl Jury {
    /// Whether `agent` is a party, or the parent or a child of one, as the registry knows them.
    pub(crate) fn is_family(&self, state: &State, agent: &AgentId) -> bool {
        let parties = [&self.payer, &self.payee];
        if parties.contains(&agent) {
            return true;
        }
        let parent_of = |id: &AgentId| state.registry.get(id).and_then(|agent| agent.parent.clone());
        parties.iter().any(|party| parent_of(party).as_ref() == Some(agent))
            || parent_of(agent).is_some_and(|parent| parties.contains(&&parent))
    }
}

/// A jury drawn but not yet opened: everything `State::open_jury` needs, found before any change.
pub(crate) struct DrawnJury {
    jury: Jury,
    jurors: Vec<Voter>,
}

impl State {
    /// Checks that `disputer` may open one more jury and draws its jurors for `escrow`, charging the
    /// walk to the envelope. Changes nothing but the envelope's budget.
    pub(crate) fn draw_jury(
        &self,
        context: &mut Context,
        escrow: u64,
        payer: &AgentId,
        payee: &AgentId,
        disputer: &AgentId,
    ) -> Result<DrawnJury, Rejection> {
        let open_mine = self.governance.open_juries.get(disputer).copied().unwrap_or(0);
        if open_mine as usize >= limits::OPEN_JURIES_PER_DISPUTER_MAX {
            let max = limits::OPEN_JURIES_PER_DISPUTER_MAX as u64;
            return Err(Rejection::LimitReached { limit: "open_juries_per_disputer", max });
        }
        if self.governance.open_proposals() >= limits::OPEN_PROPOSALS_MAX {
            return Err(Rejection::LimitReached { limit: "open_proposals", max: limits::OPEN_PROPOSALS_MAX as u64 });
        }
        let available = self.registry.capability_index().available();
        let scanned = available.len().min(limits::JURY_CANDIDATES_SCANNED_MAX);
        if scanned > context.electorate_scan_left {
            let max = limits::ELECTORATE_SCAN_PER_ENVELOPE_MAX as u64;
            return Err(Rejection::LimitReached { limit: "electorate_scan_per_envelope", max });
        }
        context.electorate_scan_left -= scanned;
        let jury = Jury { escrow, payer: payer.clone(), payee: payee.clone(), disputer: disputer.clone() };
        let jurors = self.draw_jurors(&jury, available, scanned);
        Ok(DrawnJury { jury, jurors })
    }

    /// Up to `JURY_SIZE_MAX` jurors outside the case's families, drawn by the draw seed (see `draw.rs`)
    /// so that no party can aim the draw, sorted by id.
    ///
    /// When every active agent fits in the scan, a partial shuffle of the outsiders picks a uniform
    /// sample of them. A larger swarm draws `scanned` positions in the registry, each taking the first
    /// active agent at or after it: an agent is drawn in proportion to its place and the inactive places
    /// just before it, so a block of agents registered together gets its share of the seats, not a jury.
    fn draw_jurors(&self, jury: &Jury, available: &BTreeSet<AgentHandle>, scanned: usize) -> Vec<Voter> {
        let seats = limits::JURY_SIZE_MAX as usize;
        let mut numbers = self.draw_seed.numbers("jury", jury.escrow);
        let outsider = |handle: &AgentHandle| !jury.is_family(self, &self.registry.by_handle(*handle).id);
        let drawn: Vec<AgentHandle> = if available.len() <= scanned {
            let mut candidates: Vec<AgentHandle> = available.iter().copied().filter(outsider).collect();
            let seats = seats.min(candidates.len());
            for seat in 0..seats {
                let left = (candidates.len() - seat) as u64;
                let number = numbers.next().expect("the stream is endless");
                candidates.swap(seat, seat + (number % left) as usize);
            }
            candidates.truncate(seats);
            candidates
        } else {
            let places = self.registry.len() as u64;
            let mut seen = BTreeSet::new();
            let mut drawn = Vec::with_capacity(seats);
            for number in numbers.take(scanned) {
                let place = AgentHandle::at((number % places) as usize);
                let first = available.range(place..).next().or_else(|| available.first());
                let handle = *first.expect("more agents are available than scanned");
                if seen.insert(handle) && outsider(&handle) {
                    drawn.push(handle);
                    if drawn.len() == seats {
                        break;
                    }
                }
            }
            drawn
        };
        let weight = u64::from(limits::WEIGHT_ONE);
        let mut jurors: Vec<Voter> = drawn
            .into_iter()
            .map(|handle| Voter { agent: self.registry.by_handle(handle).id.clone(), weight })
            .collect();
        jurors.sort_by(|left, right| left.agent.cmp(&right.agent));
        jurors
    }

    /// Opens a drawn jury for its escrow, frozen by the dispute in this entry; with no juror drawn,
    /// refunds the escrow at once, the verdict a jury that never met would reach.
    pub(crate) fn open_jury(&mut self, context: &mut Context, drawn: DrawnJury) {
        let DrawnJury { jury, jurors } = drawn;
        let escrow = jury.escrow;
        if jurors.is_empty() {
            self.settle(context, escrow, EscrowState::Resolved, Verdict::Refund.payee_bps());
            context.emit(EventKind::JurySettled { proposal: None, escrow, verdict: Verdict::Refund, default: true });
            return;
        }
        let proposal_id = Name::new(format!("jury-escrow-{escrow}")).expect("a jury's id is a valid name");
        let creation = Digest(<sha2::Sha256 as sha2::Digest>::digest(proposal_id.as_str().as_bytes()).into());
        let closes_at_ms = context.now_ms.saturating_add(self.config.jury_voting_ms);
        let terms = ProposalTerms {
            title: format!("Jury for escrow {escrow}: release (0), refund (1) or split (2)"),
            description: None,
            vote_type: VoteType::Approval { options: OPTIONS },
            quorum: Quorum::Ballots(self.config.jury_quorum),
            eligible: Eligibility::Agents(jurors.iter().map(|voter| voter.agent.clone()).collect::<BTreeSet<_>>()),
            weight_source: WeightSource::Equal,
            veto_holders: BTreeSet::new(),
            closes_at_ms,
            action: Vec::new(),
        };
        let voters = u32::try_from(jurors.len()).expect("a jury is bounded by JURY_SIZE_MAX");
        let opening =
            Opening { proposer: Signer::Operator, proposal_id, creation, terms, electorate: jurors, jury: Some(jury) };
        let id = self.governance.open(opening, context.now_ms);
        self.ledger.escrows.get_mut(&escrow).expect("the dispute found it").jury = Some(id);
        context.emit(EventKind::JuryOpened { proposal: id, escrow, jurors: voters, closes_at_ms });
    }

    /// Settles a jury's escrow by its outcome, at the close that decides it.
    pub(super) fn settle_jury(&mut self, context: &mut Context, proposal: u64, jury: &Jury, outcome: &Outcome) {
        let (verdict, default) = Verdict::of(outcome);
        let escrow = self.ledger.escrow(jury.escrow).expect("an escrow under a jury is open, so retained");
        assert_eq!(escrow.state, EscrowState::Disputed, "only its jury settles an escrow under a jury");
        self.settle(context, jury.escrow, EscrowState::Resolved, verdict.payee_bps());
        context.emit(EventKind::JurySettled { proposal: Some(proposal), escrow: jury.escrow, verdict, default });
    }

    /// Refuses a party (or a party's family) casting a ballot on a jury, by name rather than as any
    /// outsider.
    pub(super) fn check_not_jury_party(&self, proposal: &Proposal, signer: &Signer) -> Result<(), Rejection> {
        match (&proposal.jury, signer) {
            (Some(jury), Signer::Agent(agent)) if jury.is_family(self, agent) => {
                Err(GovernanceRejection::JuryParty { proposal: proposal.id }.into())
            }
            _ => Ok(()),
        }
    }

    /// Refuses amending or cancelling a jury.
    pub(super) fn check_not_jury(proposal: &Proposal) -> Result<(), Rejection> {
        match proposal.jury {
            Some(_) => Err(GovernanceRejection::JuryFixed { proposal: proposal.id }.into()),
            None => Ok(()),
        }
    }
}
