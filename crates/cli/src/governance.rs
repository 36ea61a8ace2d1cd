//! `colony proposal …`: create, amend, cancel, veto and inspect proposals, and cast ballots;
//! `colony governance end-bootstrap`.
//!
//! Weights and thresholds are in millionths (`4000000` is seed 001's 4.0); vote types, quorums and
//! choices are written as in the command's JSON (`'{"threshold":{"yes_weight":4000000}}'`, `yes`).

use colony_core::command::{AmendProposal, CreateProposal};
use colony_core::governance::{Choice, Eligibility, Quorum, VoteType, WeightSource};
use colony_core::{AgentId, Name};
use colony_wire::governance::ProposalView;
use colony_wire::views::SubmitResponse;

use crate::output::{print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// A value written as JSON, or as a bare word standing for a JSON string (`yes`, `plurality`).
fn json_or_word<T: serde::de::DeserializeOwned>(text: &str, flag: &str) -> Result<T, String> {
    serde_json::from_str(text)
        .or_else(|_| serde_json::from_value(serde_json::Value::String(text.to_owned())))
        .map_err(|error| format!("{flag} '{text}': {error}"))
}

/// The proposal commands.
#[derive(Debug, clap::Subcommand)]
pub enum ProposalCommand {
    /// Put a question to an electorate, frozen now with its weights.
    Create {
        /// The proposer's own id for the proposal (creating it again returns the same proposal).
        #[arg(long = "id")]
        proposal_id: String,
        /// One line.
        #[arg(long)]
        title: String,
        /// More, if needed.
        #[arg(long)]
        description: Option<String>,
        /// The vote type, as JSON or a word: `plurality`, `consensus`,
        /// `'{"threshold":{"yes_weight":4000000}}'`, `'{"approval":{"options":3}}'`, …
        #[arg(long)]
        vote_type: String,
        /// The quorum, as JSON or a word: `none`, `'{"ballots":3}'`, … (seed 000's by default).
        #[arg(long)]
        quorum: Option<String>,
        /// Voters by role (repeat); every active agent unless roles or agents are given.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Voters by id (repeat).
        #[arg(long = "voter")]
        voters: Vec<String>,
        /// Weights: `role` (the configuration's), `agent` (registered) or `equal`.
        #[arg(long, default_value = "role")]
        weights: String,
        /// How long ballots are taken, in milliseconds.
        #[arg(long)]
        voting_ms: u64,
        /// Agents who may veto it (repeat).
        #[arg(long = "veto-holder")]
        veto_holders: Vec<String>,
        /// A JSON file holding the action: a command, or an array of commands, as an envelope carries
        /// them, run with the operator's authority if the proposal is approved.
        #[arg(long)]
        action: Option<std::path::PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a proposal's terms before anyone votes (proposer).
    Amend {
        /// The proposal.
        proposal: u64,
        /// A new title.
        #[arg(long)]
        title: Option<String>,
        /// A new vote type (JSON or a word).
        #[arg(long)]
        vote_type: Option<String>,
        /// A new voting period from now, in milliseconds.
        #[arg(long)]
        voting_ms: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw an open proposal (proposer or operator).
    Cancel {
        /// The proposal.
        proposal: u64,
        /// Why.
        #[arg(long)]
        reason: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Veto an open proposal (a veto holder): it closes rejected.
    Veto {
        /// The proposal.
        proposal: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cast or change a ballot.
    Cast {
        /// The proposal.
        proposal: u64,
        /// The choice, as JSON or a word: `yes`, `no`, `abstain`, `'{"approve":[0,2]}'`, …
        choice: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One proposal in full: terms, electorate, ballots, tally, decision and seal.
    Show {
        /// The proposal.
        proposal: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Proposals by number.
    List {
        /// Only those in this state: `open`, `closed` or `cancelled`.
        #[arg(long)]
        state: Option<String>,
        /// Only those of this proposer (an agent id or `operator`).
        #[arg(long)]
        proposer: Option<String>,
        /// Start after this proposal (the previous page's `next_after`).
        #[arg(long)]
        after: Option<u64>,
        /// Proposals per page.
        #[arg(long)]
        limit: Option<u32>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn report(response: &SubmitResponse, json: bool) {
    let proposal = response.results.first().and_then(|result| result.proposal);
    print_submitted(response, json, proposal.map(|proposal| format!("proposal {proposal}")));
}

#[allow(clippy::too_many_arguments)]
fn create_command(
    proposal_id: &str,
    title: String,
    description: Option<String>,
    vote_type: &str,
    quorum: Option<&str>,
    roles: &[String],
    voters: &[String],
    weights: &str,
    voting_ms: u64,
    veto_holders: &[String],
    action: Vec<colony_core::Command>,
) -> Result<CreateProposal, String> {
    let name = |text: &str, flag: &str| Name::new(text).map_err(|error| format!("{flag} '{text}': {error}"));
    let agent = |text: &String, flag: &str| AgentId::new(text).map_err(|error| format!("{flag} '{text}': {error}"));
    let eligible = match (roles.is_empty(), voters.is_empty()) {
        (true, true) => Eligibility::AllActive,
        (false, true) => Eligibility::Roles(roles.iter().map(|role| name(role, "--role")).collect::<Result<_, _>>()?),
        (true, false) => {
            Eligibility::Agents(voters.iter().map(|voter| agent(voter, "--voter")).collect::<Result<_, _>>()?)
        }
        (false, false) => return Err("--role and --voter do not go together".to_owned()),
    };
    Ok(CreateProposal {
        proposal_id: name(proposal_id, "--id")?,
        title,
        description,
        vote_type: json_or_word::<VoteType>(vote_type, "--vote-type")?,
        quorum: quorum.map(|quorum| json_or_word::<Quorum>(quorum, "--quorum")).transpose()?,
        eligible,
        weight_source: json_or_word::<WeightSource>(weights, "--weights")?,
        voting_ms,
        veto_holders: veto_holders.iter().map(|holder| agent(holder, "--veto-holder")).collect::<Result<_, _>>()?,
        action,
    })
}

/// The commands of an action file: one command object, or an array of them.
fn read_action(path: &std::path::Path) -> Result<Vec<colony_core::Command>, String> {
    let text = std::fs::read_to_string(path).map_err(|error| format!("--action {}: {error}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|error| format!("--action {}: {error}", path.display()))?;
    let value = if value.is_array() { value } else { serde_json::Value::Array(vec![value]) };
    serde_json::from_value(value).map_err(|error| format!("--action {}: {error}", path.display()))
}

/// Runs a proposal command.
pub async fn run(command: ProposalCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        ProposalCommand::Create {
            proposal_id,
            title,
            description,
            vote_type,
            quorum,
            roles,
            voters,
            weights,
            voting_ms,
            veto_holders,
            action,
            json,
        } => {
            let action = action.as_deref().map(read_action).transpose()?.unwrap_or_default();
            let create = create_command(
                &proposal_id,
                title,
                description,
                &vote_type,
                quorum.as_deref(),
                &roles,
                &voters,
                &weights,
                voting_ms,
                &veto_holders,
                action,
            )?;
            report(&client.submit_one(colony_core::Command::CreateProposal(create)).await?, json);
        }
        ProposalCommand::Amend { proposal, title, vote_type, voting_ms, json } => {
            let vote_type = vote_type.map(|text| json_or_word::<VoteType>(&text, "--vote-type")).transpose()?;
            let amend = AmendProposal { proposal, title, description: None, vote_type, quorum: None, voting_ms };
            report(&client.amend_proposal(amend).await?, json);
        }
        ProposalCommand::Cancel { proposal, reason, json } => {
            report(&client.cancel_proposal(proposal, reason).await?, json)
        }
        ProposalCommand::Veto { proposal, json } => report(&client.veto_proposal(proposal).await?, json),
        ProposalCommand::Cast { proposal, choice, json } => {
            let choice = json_or_word::<Choice>(&choice, "choice")?;
            report(&client.cast_ballot(proposal, choice).await?, json);
        }
        ProposalCommand::Show { proposal, json } => {
            let proposal = client.proposal(proposal).await?;
            if json { print_json(&proposal) } else { print_proposal(&proposal) }
        }
        ProposalCommand::List { state, proposer, after, limit, json } => {
            let query = query_string(&[
                ("state", state),
                ("proposer", proposer),
                ("after", after.map(|after| after.to_string())),
                ("limit", limit.map(|limit| limit.to_string())),
            ]);
            let page = client.proposals(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .proposals
                .iter()
                .map(|proposal| {
                    vec![
                        proposal.id.to_string(),
                        proposal.proposal_id.to_string(),
                        proposal.state.name().to_owned(),
                        proposal.proposer.to_string(),
                        format!("{}/{}", proposal.ballots, proposal.voters),
                        proposal.closes_at_ms.to_string(),
                        proposal.title.clone(),
                    ]
                })
                .collect();
            print_table(&["ID", "PROPOSAL", "STATE", "PROPOSER", "BALLOTS", "CLOSES AT MS", "TITLE"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
    }
    Ok(())
}

fn print_proposal(proposal: &ProposalView) {
    println!("proposal {} '{}' by {}: {}", proposal.id, proposal.proposal_id, proposal.proposer, proposal.state.name());
    println!("  {}", proposal.terms.title);
    println!("  closes at {} ms (log time)", proposal.terms.closes_at_ms);
    if let Some(jury) = &proposal.jury {
        println!(
            "  jury for escrow {} ({} paying {}, disputed by {}): 0 release, 1 refund, 2 split",
            jury.escrow, jury.payer, jury.payee, jury.disputer
        );
    }
    let rows: Vec<Vec<String>> = proposal
        .ballots
        .iter()
        .map(|ballot| {
            let choice = serde_json::to_string(&ballot.ballot.choice).expect("a choice encodes");
            vec![ballot.voter.to_string(), ballot.weight.to_string(), choice, ballot.ballot.sequence.to_string()]
        })
        .collect();
    println!("  {} of {} voters have voted", proposal.ballots.len(), proposal.electorate.len());
    print_table(&["VOTER", "WEIGHT (MILLIONTHS)", "CHOICE", "ENTRY"], &rows);
    let outcome = serde_json::to_string(&proposal.tally.outcome).expect("an outcome encodes");
    println!("  tally: {outcome}");
    if let Some(decision) = &proposal.decision {
        let closure = serde_json::to_string(&decision.closure).expect("a closure encodes");
        println!(
            "  decided at entry {} ({closure}); seal {} (#{})",
            decision.sequence, decision.seal, decision.chain_position
        );
        println!("  previous seal {}", decision.previous_seal);
        if let Some(result) = &decision.action_result {
            println!("  action: {}", serde_json::to_string(result).expect("a result encodes"));
        }
    }
    if !proposal.terms.action.is_empty() {
        let kinds: Vec<&str> = proposal.terms.action.iter().map(colony_core::Command::kind).collect();
        println!("  action of {} commands: {}", kinds.len(), kinds.join(", "));
    }
}

/// The governance commands that are not about one proposal.
#[derive(Debug, clap::Subcommand)]
pub enum GovernanceCommand {
    /// End bootstrap, for good (operator): from then on guarded kinds run only as approved proposals'
    /// actions.
    EndBootstrap {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a governance command.
pub async fn run_governance(command: GovernanceCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        GovernanceCommand::EndBootstrap { json } => report(&client.end_bootstrap().await?, json),
    }
    Ok(())
}
