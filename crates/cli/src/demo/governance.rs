//! Part 7: governance. Seed 001's four roles decide by signed, weighted ballots (architect 2.5,
//! developer 1.0, security 2.0, auditor 1.5; approved when the yes weight reaches 4.0), every decision
//! sealed into one hash chain; then bootstrap ends and a mint the operator may no longer make alone
//! runs as the action of an approved proposal.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use colony_client::{Client, Identity};
use colony_core::command::CreateProposal;
use colony_core::command::Mint;
use colony_core::governance::{ActionResult, Choice, Counts, Eligibility, Outcome, Quorum, VoteType, WeightSource};
use colony_core::{AgentId, Amount, Command, Name, Signer};
use colony_wire::KeyPair;

use super::{DemoResult, step, units};
use crate::demo::trading::UNIT;

/// Seed 001's council, each with its role (and so its weight).
const COUNCIL: [(&str, &str); 4] =
    [("architect-1", "architect"), ("developer-1", "developer"), ("security-1", "security"), ("auditor-1", "auditor")];

/// Seed 001's rule: approved when the yes weight reaches 4.0 (weights in millionths).
const YES_WEIGHT_TO_APPROVE: u64 = 4_000_000;

/// What the council decided, for the report.
pub struct GovernanceReport {
    /// One row per decision, in the order they were sealed.
    pub decisions: Vec<DecisionRow>,
    /// The guarded mint's story, when this server is the demo's own.
    pub guarded: Option<GuardedMint>,
}

/// One sealed decision.
pub struct DecisionRow {
    pub title: String,
    pub voters: Vec<&'static str>,
    pub yes_weight_millionths: u128,
    pub outcome: Outcome,
    pub chain_position: u64,
    pub seal: String,
}

/// The operator refused, then the swarm approving the same mint.
pub struct GuardedMint {
    pub operator_refusal: String,
    pub minted_minor: u128,
    pub to: &'static str,
}

/// Registers the council, puts seed 001's three questions to it, then (on the demo's own server
/// only, because ending bootstrap cannot be undone) shows a guarded mint.
pub async fn run(server_url: &str, operator: &Client, own_server: bool) -> DemoResult<GovernanceReport> {
    let mut council = Vec::new();
    for (id, role) in COUNCIL {
        let key = KeyPair::generate();
        let client =
            Client::new(server_url.to_owned()).with_identity(Identity::new(Signer::Agent(AgentId::new(id)?), key));
        client.register_self(Name::new(role)?, &[]).await?;
        council.push((id, client));
    }
    let member = |id: &str| council.iter().find(|(member, _)| *member == id).expect("in COUNCIL").1.clone();
    let architect = member("architect-1");

    // Seed 001's three cases. The first two close on the ballot that reaches 4.0, which no later
    // ballot can undo; the third's 3.5 could still be outvoted, so it runs to its deadline.
    let cases = [
        ("Adopt the REST API design", ["architect-1", "security-1"], 60_000),
        ("Add an audit trail to every deploy", ["architect-1", "auditor-1"], 60_000),
        ("Ship the release without an architecture review", ["security-1", "auditor-1"], 1_500),
    ];
    let mut decisions = Vec::new();
    for (number, (title, voters, voting_ms)) in cases.into_iter().enumerate() {
        let proposal =
            propose(&architect, &format!("seed-001-case-{number}"), title, voting_ms, Vec::new(), false).await?;
        for voter in voters {
            member(voter).cast_ballot(proposal, Choice::Yes).await?;
        }
        decisions.push(closed(operator, proposal, title, voters.to_vec()).await?);
    }
    step(
        14,
        &format!(
            "seed 001's council (architect 2.5, developer 1.0, security 2.0, auditor 1.5) decided {} proposals \
             by signed ballots under `yes weight >= 4.0`; each decision was sealed into one hash chain",
            decisions.len()
        ),
    );

    let guarded = if own_server {
        Some(guarded_mint(operator, &architect, &member("security-1"), &mut decisions).await?)
    } else {
        step(15, "guarded mint skipped: ending bootstrap cannot be undone, and this server is not the demo's own");
        None
    };
    Ok(GovernanceReport { decisions, guarded })
}

/// Ends bootstrap, has the operator's own mint refused, then runs the same mint as the action of a
/// proposal the council approves.
async fn guarded_mint(
    operator: &Client,
    architect: &Client,
    security: &Client,
    decisions: &mut Vec<DecisionRow>,
) -> DemoResult<GuardedMint> {
    const TO: &str = "developer-1";
    let amount = Amount(250 * UNIT);
    operator.end_bootstrap().await?;
    let refusal = match operator.mint("grant-developer-direct", AgentId::new(TO)?, amount).await {
        Ok(_) => return Err("the operator minted alone after bootstrap ended".into()),
        Err(error) => error.code().unwrap_or("transport").to_owned(),
    };
    let mint = Command::Mint(Mint { transfer_id: Name::new("grant-developer")?, to: AgentId::new(TO)?, amount });
    let title = "Grant developer-1 250 units";
    let proposal = propose(architect, "grant-developer", title, 60_000, vec![mint], true).await?;
    architect.cast_ballot(proposal, Choice::Yes).await?;
    security.cast_ballot(proposal, Choice::Yes).await?;
    let row = closed(operator, proposal, title, vec!["architect-1", "security-1"]).await?;
    let view = operator.proposal(proposal).await?;
    let executed = view.decision.as_ref().and_then(|decision| decision.action_result.as_ref());
    if !matches!(executed, Some(ActionResult::Executed { .. })) {
        return Err(format!("the approved mint did not run: {executed:?}").into());
    }
    let minted_minor = u128::from(operator.wallet(&AgentId::new(TO)?).await?.balance.0);
    step(
        15,
        &format!(
            "bootstrap ended: the operator's own mint to {TO} was refused with `{refusal}`; architect-1 proposed the \
             same mint as an action, architect-1 and security-1 approved it (4.5), and the close ran it: \
             {TO} holds {} (seal #{})",
            units(minted_minor),
            row.chain_position
        ),
    );
    decisions.push(row);
    Ok(GuardedMint { operator_refusal: refusal, minted_minor, to: TO })
}

/// The architect's proposal to the council under seed 001's rule. An action must be decided by
/// roles, not a list, with a quorum of half the council.
async fn propose(
    architect: &Client,
    proposal_id: &str,
    title: &str,
    voting_ms: u64,
    action: Vec<Command>,
    by_roles: bool,
) -> DemoResult<u64> {
    let eligible = if by_roles {
        Eligibility::Roles(COUNCIL.iter().map(|(_, role)| Name::new(*role)).collect::<Result<BTreeSet<_>, _>>()?)
    } else {
        Eligibility::Agents(COUNCIL.iter().map(|(id, _)| AgentId::new(*id)).collect::<Result<BTreeSet<_>, _>>()?)
    };
    let (proposal, _) = architect
        .create_proposal(CreateProposal {
            proposal_id: Name::new(proposal_id)?,
            title: title.to_owned(),
            description: None,
            vote_type: VoteType::Threshold { yes_weight: YES_WEIGHT_TO_APPROVE },
            quorum: Some(if by_roles { Quorum::Ballots(2) } else { Quorum::None }),
            eligible,
            weight_source: WeightSource::Role,
            voting_ms,
            veto_holders: BTreeSet::new(),
            action,
        })
        .await?;
    Ok(proposal)
}

/// Waits (up to ten seconds) for the proposal's sealed decision.
async fn closed(operator: &Client, proposal: u64, title: &str, voters: Vec<&'static str>) -> DemoResult<DecisionRow> {
    let started = Instant::now();
    loop {
        let view = operator.proposal(proposal).await?;
        if let Some(decision) = view.decision {
            let yes_weight_millionths = match &decision.tally.counts {
                Counts::YesNo(counts) => counts.yes_weight,
                other => return Err(format!("a threshold vote tallied as {other:?}").into()),
            };
            return Ok(DecisionRow {
                title: title.to_owned(),
                voters,
                yes_weight_millionths,
                outcome: decision.outcome,
                chain_position: decision.chain_position,
                seal: decision.seal.to_string(),
            });
        }
        if started.elapsed() > Duration::from_secs(10) {
            return Err(format!("proposal {proposal} did not close within ten seconds").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Millionths as a weight with one decimal (the council's weights have no more).
pub fn weight(millionths: u128) -> String {
    format!("{}.{}", millionths / 1_000_000, millionths % 1_000_000 / 100_000)
}

pub fn outcome(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Approved => "approved",
        Outcome::Rejected => "rejected",
        Outcome::Abstained => "abstained",
        Outcome::NoQuorum => "no quorum",
        Outcome::Winner { .. } => "winner",
        Outcome::Tie { .. } => "tie",
    }
}
