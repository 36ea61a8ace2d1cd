//! `colony vote-election …`: seed 004's vote-based elections: make one among members, open a round,
//! vote in it, and see the term, the leader and who voted for whom.

use colony_core::AgentId;
use colony_wire::coordination::VoteElectionView;

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

/// The vote-based election commands.
#[derive(Debug, clap::Subcommand)]
pub enum VoteElectionCommand {
    /// Make an election among members: a healthy member opens a round, the healthy members vote,
    /// and more than half of them elect the leader of the term.
    Create {
        /// The election's name.
        election: String,
        /// Its members, comma-separated (1 to 64 registered agents).
        #[arg(long, value_delimiter = ',', required = true)]
        members: Vec<String>,
        /// How long a round stays open without a majority.
        #[arg(long, default_value_t = 10_000)]
        round_timeout_ms: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open the next round (as a healthy member): the term goes up by one.
    Start {
        /// The election.
        election: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Vote for a candidate of the open round (as one of its candidates), once per term.
    Vote {
        /// The election.
        election: String,
        /// The candidate chosen.
        candidate: String,
        /// The round's term; the open round's when absent.
        #[arg(long)]
        term: Option<u64>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delete an election (as its creator or the operator).
    Delete {
        /// The election.
        election: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The term, the leader, and who voted for whom in the open round.
    Show {
        /// The election.
        election: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Elections by name.
    List {
        /// Start after this name (a page's `next_after`).
        #[arg(long)]
        after: Option<String>,
        /// Elections per page.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn agent(text: &str, what: &str) -> Result<AgentId, String> {
    AgentId::new(text).map_err(|error| format!("{what} '{text}': {error}"))
}

fn print_vote_election(view: &VoteElectionView) {
    println!("vote election {} (term {}, created by {})", view.election, view.term, view.creator);
    match &view.leader {
        Some(leader) => println!(
            "  leader: {} (term {}, {} of {} votes, elected at {} ms)",
            leader.agent, leader.term, leader.votes, leader.candidates, leader.elected_at_ms
        ),
        None => println!("  no leader"),
    }
    let Some(round) = &view.round else {
        println!("  no round open");
        return;
    };
    println!(
        "  round of term {}: {} candidates, {} votes elect, open until {} ms",
        round.term,
        round.candidates.len(),
        round.majority,
        round.deadline_ms
    );
    let rows: Vec<Vec<String>> = round
        .candidates
        .iter()
        .map(|candidate| {
            let voters: Vec<String> = round
                .votes
                .iter()
                .filter(|vote| vote.candidate == *candidate)
                .map(|vote| vote.voter.to_string())
                .collect();
            vec![candidate.to_string(), voters.len().to_string(), voters.join(",")]
        })
        .collect();
    print_table(&["CANDIDATE", "VOTES", "VOTERS"], &rows);
}

/// Runs a vote-based election command.
pub async fn run(command: VoteElectionCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        VoteElectionCommand::Create { election, members, round_timeout_ms, json } => {
            let members = members.iter().map(|member| agent(member, "--members")).collect::<Result<Vec<_>, _>>()?;
            let response = client.create_vote_election(name(&election, "election")?, members, round_timeout_ms).await?;
            print_submitted(&response, json, None);
        }
        VoteElectionCommand::Start { election, json } => {
            let election = name(&election, "election")?;
            let response = client.start_vote_round(election.clone()).await?;
            if json {
                print_json(&response);
            } else {
                let view = client.vote_election(&election).await?;
                let majority = view.round.as_ref().map_or(0, |round| round.majority);
                print_submitted(&response, false, Some(format!("term {} open, {majority} votes elect", view.term)));
            }
        }
        VoteElectionCommand::Vote { election, candidate, term, json } => {
            let election = name(&election, "election")?;
            let term = match term {
                Some(term) => term,
                None => client.vote_election(&election).await?.term,
            };
            let response = client.vote_in_election(election.clone(), term, agent(&candidate, "candidate")?).await?;
            if json {
                print_json(&response);
            } else {
                let view = client.vote_election(&election).await?;
                let detail = match view.leader.filter(|leader| leader.term == term) {
                    Some(leader) => format!("term {term} elected {}", leader.agent),
                    None => format!("voted in term {term}; no majority yet"),
                };
                print_submitted(&response, false, Some(detail));
            }
        }
        VoteElectionCommand::Delete { election, json } => {
            print_submitted(&client.delete_vote_election(name(&election, "election")?).await?, json, None)
        }
        VoteElectionCommand::Show { election, json } => {
            let view = client.vote_election(&name(&election, "election")?).await?;
            if json {
                print_json(&view);
            } else {
                print_vote_election(&view);
            }
        }
        VoteElectionCommand::List { after, limit, json } => {
            let query = query_string(&[("after", after), ("limit", limit.map(|limit| limit.to_string()))]);
            let page = client.vote_elections(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .elections
                .iter()
                .map(|view| {
                    let leader = view.leader.as_ref().map_or("-".to_owned(), |leader| leader.agent.to_string());
                    let round = view.round.as_ref().map_or("-".to_owned(), |round| format!("term {}", round.term));
                    vec![
                        view.election.to_string(),
                        view.members.len().to_string(),
                        view.term.to_string(),
                        leader,
                        round,
                    ]
                })
                .collect();
            print_table(&["ELECTION", "MEMBERS", "TERM", "LEADER", "OPEN_ROUND"], &rows);
            if let Some(next) = page.next_after {
                println!("more: --after {next}");
            }
        }
    }
    Ok(())
}
