//! `colony task …` (the task market's commands and reads) and `colony agent reputation`.
//!
//! Amounts are integers of minor units; scores, confidences and weights are decimals from 0 to 1.

use colony_core::command::{AnnounceBatch, AnnounceTask, PlaceBid, SubmitResult};
use colony_core::market::{ContentReference, Distribution};
use colony_core::{AgentId, Amount, Digest, Fraction};
use colony_wire::views::{SubmitResponse, TaskView};

use crate::output::{name, print_json, print_submitted, print_table, query_string};
use crate::{CliResult, Connection};

fn agent(text: &str, flag: &str) -> Result<AgentId, String> {
    AgentId::new(text).map_err(|error| format!("{flag} '{text}': {error}"))
}

fn amount(text: &str, flag: &str) -> Result<Amount, String> {
    text.parse::<u64>().map(Amount).map_err(|_| format!("{flag} '{text}': an amount is an integer of minor units"))
}

fn fraction(text: &str, flag: &str) -> Result<Fraction, String> {
    Fraction::parse(text).map_err(|error| format!("{flag} '{text}': {error}"))
}

fn json_value<T: serde::de::DeserializeOwned>(text: &str, flag: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|error| format!("{flag}: {error}"))
}

/// `--reference URI --sha256 HEX`, both or neither.
fn reference(uri: Option<String>, sha256: Option<String>) -> Result<Option<ContentReference>, String> {
    match (uri, sha256) {
        (None, None) => Ok(None),
        (Some(uri), Some(sha256)) => {
            let sha256: Digest = json_value(&serde_json::to_string(&sha256).expect("a string encodes"), "--sha256")?;
            Ok(Some(ContentReference { uri, sha256 }))
        }
        _ => Err("--reference and --sha256 go together".to_owned()),
    }
}

fn report(response: &SubmitResponse, json: bool) {
    let result = response.results.first();
    let detail = match (result.and_then(|result| result.tasks.as_ref()), result.and_then(|result| result.task)) {
        (Some(tasks), _) => {
            Some(format!("tasks {}", tasks.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")))
        }
        (None, Some(task)) => Some(format!("task {task}")),
        (None, None) => None,
    };
    print_submitted(response, json, detail);
}

/// Arguments of `colony task announce`: the fields of `task.announce`.
#[derive(Debug, clap::Args)]
pub struct AnnounceArgs {
    /// The manager's own id for the task (announcing it again returns the same task).
    #[arg(long = "id")]
    task_id: String,
    /// What kind of work (`analyze`, `execute`, `monitor`, …).
    #[arg(long)]
    kind: String,
    /// The most the manager pays, in minor units.
    #[arg(long)]
    max_cost: String,
    /// The longest the work may take from its award.
    #[arg(long)]
    deadline_ms: u64,
    /// How long bids are taken (the server's default unless given).
    #[arg(long)]
    bid_window_ms: Option<u64>,
    /// A capability bidders must have (repeatable).
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    /// The work's input inline, as JSON.
    #[arg(long)]
    payload: Option<String>,
    /// Or where the input is (with --sha256).
    #[arg(long)]
    reference: Option<String>,
    /// The SHA-256 (hex) of the content at --reference.
    #[arg(long)]
    sha256: Option<String>,
    /// A task id of the same manager that must complete first (repeatable).
    #[arg(long = "depends-on")]
    depends_on: Vec<String>,
    /// `fail` or `skip` when a dependency ends without completing.
    #[arg(long)]
    on_dependency_failure: Option<String>,
    /// Who scores the result (the manager unless given).
    #[arg(long)]
    verifier: Option<String>,
    /// Who settles a disputed escrow (the operator unless given).
    #[arg(long)]
    arbiter: Option<String>,
    /// Results scored below this are rejected.
    #[arg(long)]
    min_score: Option<String>,
    /// Awards after a rejected result or a missed deadline.
    #[arg(long)]
    max_retries: Option<u32>,
    /// Higher first.
    #[arg(long)]
    priority: Option<u8>,
    /// The wallet that pays: the manager's or one of its children's.
    #[arg(long)]
    payer: Option<String>,
    /// Only this agent may bid (repeatable).
    #[arg(long = "invite")]
    invited: Vec<String>,
    /// How long the verifier has to score a result before it is paid anyway.
    #[arg(long)]
    verify_window_ms: Option<u64>,
    /// Bid weights as JSON (`{"cost":"0.5","time":"0.2","confidence":"0.3"}`).
    #[arg(long)]
    weights: Option<String>,
    /// No bids: assign the task to the best eligible agent with room, at --max-cost.
    #[arg(long)]
    direct: bool,
    /// The task's load on its agent's capacity, in units (1 unless given).
    #[arg(long)]
    load: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl AnnounceArgs {
    /// The command, with the defaults of `task.announce` wherever a flag is absent.
    fn command(self) -> Result<AnnounceTask, String> {
        let max_cost = amount(&self.max_cost, "--max-cost")?;
        let mut fields = serde_json::json!({
            "task_id": self.task_id, "kind": self.kind, "max_cost": max_cost, "deadline_ms": self.deadline_ms,
        });
        let optional = [
            ("bid_window_ms", self.bid_window_ms.map(Into::into)),
            ("max_retries", self.max_retries.map(Into::into)),
            ("priority", self.priority.map(Into::into)),
            ("verify_window_ms", self.verify_window_ms.map(Into::into)),
            ("on_dependency_failure", self.on_dependency_failure.map(Into::into)),
            (
                "min_score",
                self.min_score
                    .map(|text| fraction(&text, "--min-score"))
                    .transpose()?
                    .map(|score| score.to_string().into()),
            ),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                fields[field] = value;
            }
        }
        let mut command: AnnounceTask = serde_json::from_value(fields).map_err(|error| error.to_string())?;
        command.required_capabilities =
            self.capabilities.iter().map(|text| name(text, "--capability")).collect::<Result<_, _>>()?;
        command.payload = self.payload.as_deref().map(|text| json_value(text, "--payload")).transpose()?;
        command.reference = reference(self.reference, self.sha256)?;
        command.depends_on = self.depends_on.iter().map(|text| name(text, "--depends-on")).collect::<Result<_, _>>()?;
        command.verifier = self.verifier.as_deref().map(|text| agent(text, "--verifier")).transpose()?;
        command.arbiter = self.arbiter.as_deref().map(|text| agent(text, "--arbiter")).transpose()?;
        command.payer = self.payer.as_deref().map(|text| agent(text, "--payer")).transpose()?;
        command.invited = self.invited.iter().map(|text| agent(text, "--invite")).collect::<Result<_, _>>()?;
        if let Some(weights) = &self.weights {
            command.weights = json_value(weights, "--weights")?;
        }
        if self.direct {
            command.distribution = Distribution::Direct;
        }
        if let Some(load) = self.load {
            command.estimated_load = load;
        }
        Ok(command)
    }
}

/// Arguments of `colony task batch`: the fields of `task.announce_batch`.
#[derive(Debug, clap::Args)]
pub struct BatchArgs {
    /// The batch's id: chunk C of batch B becomes the manager's task `<id>.<B>.<C>`.
    #[arg(long = "id")]
    batch_id: String,
    /// What kind of work.
    #[arg(long)]
    kind: String,
    /// The items inline, as a JSON array (each chunk's payload is its part of it).
    #[arg(long)]
    items: Option<String>,
    /// Or how many items the content at --reference holds (with --sha256).
    #[arg(long)]
    item_count: Option<u32>,
    /// Where the items are.
    #[arg(long)]
    reference: Option<String>,
    /// The SHA-256 (hex) of the content at --reference.
    #[arg(long)]
    sha256: Option<String>,
    /// Items per batch (100 unless given).
    #[arg(long)]
    batch_size: Option<u32>,
    /// How many agents each batch is split over, at most.
    #[arg(long)]
    agents: u32,
    /// What one item pays, in minor units (a chunk's price is this times its items).
    #[arg(long)]
    max_cost_per_item: String,
    /// The longest a chunk's work may take from its assignment.
    #[arg(long)]
    deadline_ms: u64,
    /// A capability the agents must have (repeatable).
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    /// Higher first.
    #[arg(long)]
    priority: Option<u8>,
    /// Only this agent may take chunks (repeatable).
    #[arg(long = "invite")]
    invited: Vec<String>,
    /// Each chunk's load on its agent's capacity (1 unless given).
    #[arg(long)]
    load: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

impl BatchArgs {
    /// The command, with the defaults of `task.announce_batch` wherever a flag is absent.
    fn command(self) -> Result<AnnounceBatch, String> {
        let mut fields = serde_json::json!({
            "batch_id": self.batch_id, "kind": self.kind, "agents": self.agents, "deadline_ms": self.deadline_ms,
            "max_cost_per_item": amount(&self.max_cost_per_item, "--max-cost-per-item")?,
        });
        let optional = [
            ("batch_size", self.batch_size.map(Into::into)),
            ("priority", self.priority.map(Into::into)),
            ("estimated_load", self.load.map(Into::into)),
            ("item_count", self.item_count.map(Into::into)),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                fields[field] = value;
            }
        }
        let mut command: AnnounceBatch = serde_json::from_value(fields).map_err(|error| error.to_string())?;
        command.items = self.items.as_deref().map(|text| json_value(text, "--items")).transpose()?;
        command.reference = reference(self.reference, self.sha256)?;
        command.required_capabilities =
            self.capabilities.iter().map(|text| name(text, "--capability")).collect::<Result<_, _>>()?;
        command.invited = self.invited.iter().map(|text| agent(text, "--invite")).collect::<Result<_, _>>()?;
        Ok(command)
    }
}

/// `colony task …`.
#[derive(Debug, clap::Subcommand)]
pub enum TaskCommand {
    /// Announce a task for bids, or (--direct) for direct assignment (the manager's key).
    Announce(Box<AnnounceArgs>),
    /// Announce many items split across agents, one directly assigned task per chunk (the manager).
    Batch(Box<BatchArgs>),
    /// Declare how much direct work you take on at once, in load units (0: none).
    Capacity {
        /// Your capacity.
        max_load: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Bid on an open task, or replace your bid.
    Bid {
        /// The task (the market's id).
        task: u64,
        /// What you ask to be paid, in minor units.
        #[arg(long)]
        cost: String,
        /// How long you need from the award.
        #[arg(long)]
        time_ms: u64,
        /// Your confidence, from 0 to 1.
        #[arg(long)]
        confidence: String,
        /// A SHA-256 (hex) of your evidence of capability.
        #[arg(long)]
        capability_proof: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Withdraw your bid.
    WithdrawBid(TaskArgs),
    /// Close bidding now and award the task (the manager).
    Award(TaskArgs),
    /// Take an awarded task on (the winner).
    Accept(TaskArgs),
    /// Turn an awarded task down (the winner): the next-best bid wins.
    Decline(TaskArgs),
    /// Report progress (the winner).
    Progress {
        /// The task.
        task: u64,
        /// Percent done, 0 to 100.
        #[arg(long)]
        percent: u8,
        /// A note.
        #[arg(long, default_value = "")]
        note: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver a result (the winner).
    Submit {
        /// The task.
        task: u64,
        /// The result inline, as JSON.
        #[arg(long)]
        result: Option<String>,
        /// Or where the result is (with --sha256).
        #[arg(long)]
        reference: Option<String>,
        /// The SHA-256 (hex) of the content at --reference.
        #[arg(long)]
        sha256: Option<String>,
        /// What the work cost, in minor units.
        #[arg(long, default_value = "0")]
        actual_cost: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Score a submitted result (the verifier): at or above the minimum pays, below disputes.
    Verify {
        /// The task.
        task: u64,
        /// The result's quality, from 0 to 1.
        #[arg(long)]
        score: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Cancel a task nobody has accepted yet (the manager).
    Cancel {
        /// The task.
        task: u64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one task: terms, bids with scores, attempts, dependencies.
    Show {
        /// The task.
        task: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List tasks by id.
    List {
        /// Only tasks in this state.
        #[arg(long)]
        state: Option<String>,
        /// Only this manager's tasks.
        #[arg(long)]
        manager: Option<String>,
        /// Only tasks this agent was awarded (now or earlier).
        #[arg(long)]
        winner: Option<String>,
        /// Only tasks of this kind.
        #[arg(long)]
        kind: Option<String>,
        /// Start after this task id.
        #[arg(long)]
        after: Option<u64>,
        /// At most this many.
        #[arg(long)]
        limit: Option<usize>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// A command that names only its task.
#[derive(Debug, clap::Args)]
pub struct TaskArgs {
    /// The task (the market's id).
    task: u64,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Runs a task command.
pub async fn run(command: TaskCommand, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    match command {
        TaskCommand::Announce(args) => {
            let json = args.json;
            let response = client.submit_one(colony_core::Command::AnnounceTask((*args).command()?)).await?;
            report(&response, json);
        }
        TaskCommand::Batch(args) => {
            let json = args.json;
            let response = client.submit_one(colony_core::Command::AnnounceBatch((*args).command()?)).await?;
            report(&response, json);
        }
        TaskCommand::Capacity { max_load, json } => report(&client.declare_capacity(max_load).await?, json),
        TaskCommand::Bid { task, cost, time_ms, confidence, capability_proof, json } => {
            let capability_proof = capability_proof
                .map(|text| json_value(&serde_json::to_string(&text).expect("a string encodes"), "--capability-proof"))
                .transpose()?;
            let bid = PlaceBid {
                task,
                estimated_cost: amount(&cost, "--cost")?,
                estimated_time_ms: time_ms,
                confidence: fraction(&confidence, "--confidence")?,
                capability_proof,
            };
            report(&client.place_bid(bid).await?, json);
        }
        TaskCommand::WithdrawBid(args) => report(&client.withdraw_bid(args.task).await?, args.json),
        TaskCommand::Award(args) => report(&client.award_task(args.task).await?, args.json),
        TaskCommand::Accept(args) => report(&client.accept_task(args.task).await?, args.json),
        TaskCommand::Decline(args) => report(&client.decline_task(args.task).await?, args.json),
        TaskCommand::Progress { task, percent, note, json } => {
            report(&client.report_progress(task, percent, &note).await?, json)
        }
        TaskCommand::Submit { task, result, reference: uri, sha256, actual_cost, json } => {
            let submission = SubmitResult {
                task,
                result: result.as_deref().map(|text| json_value(text, "--result")).transpose()?,
                reference: reference(uri, sha256)?,
                actual_cost: amount(&actual_cost, "--actual-cost")?,
            };
            report(&client.submit_result(submission).await?, json);
        }
        TaskCommand::Verify { task, score, json } => {
            report(&client.verify_result(task, fraction(&score, "--score")?).await?, json)
        }
        TaskCommand::Cancel { task, reason, json } => report(&client.cancel_task(task, &reason).await?, json),
        TaskCommand::Show { task, json } => {
            let task = client.task(task).await?;
            if json { print_json(&task) } else { print_task(&task) }
        }
        TaskCommand::List { state, manager, winner, kind, after, limit, json } => {
            let query = query_string(&[
                ("state", state),
                ("manager", manager),
                ("winner", winner),
                ("kind", kind),
                ("after", after.map(|after| after.to_string())),
                ("limit", limit.map(|limit| limit.to_string())),
            ]);
            let page = client.tasks(&query).await?;
            if json {
                print_json(&page);
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page
                .tasks
                .iter()
                .map(|task| {
                    vec![
                        task.id.to_string(),
                        task.task_id.to_string(),
                        task.kind.to_string(),
                        task.state.name().to_owned(),
                        task.manager.to_string(),
                        task.winner.as_ref().map_or("-".to_owned(), ToString::to_string),
                        task.max_cost.to_string(),
                        task.bids.to_string(),
                        task.attempts.to_string(),
                    ]
                })
                .collect();
            print_table(&["ID", "TASK", "KIND", "STATE", "MANAGER", "WINNER", "MAX COST", "BIDS", "ATTEMPTS"], &rows);
            if let Some(next) = page.next_after {
                println!("  more: --after {next}");
            }
        }
    }
    Ok(())
}

fn print_task(task: &TaskView) {
    let terms = &task.terms;
    println!("task {} ({}) by {}: {}", task.id, terms.task_id, task.manager, task.state.name());
    println!("  kind              {}", terms.kind);
    println!("  distribution      {} (load {})", terms.distribution.name(), terms.estimated_load);
    println!("  max cost          {}", terms.max_cost);
    println!("  deadline          {} ms from award", terms.deadline_ms);
    println!("  bid window        {} ms", terms.bid_window_ms);
    println!("  payer             {}", terms.payer);
    println!("  verifier          {}", terms.verifier.as_ref().unwrap_or(&task.manager));
    println!("  min score         {}  (retries {} of {})", terms.min_score, task.retries, terms.max_retries);
    if !terms.required_capabilities.is_empty() {
        let capabilities: Vec<String> = terms.required_capabilities.iter().map(ToString::to_string).collect();
        println!("  capabilities      {}", capabilities.join(", "));
    }
    if let Some(reason) = &task.reason {
        println!("  reason            {reason}");
    }
    if !task.dependencies.is_empty() {
        println!("dependencies:");
        for dependency in &task.dependencies {
            let state = dependency.state.map_or("forgotten", |state| state.name());
            println!("  {} {}", dependency.id, state);
        }
    }
    println!("bids (best first):");
    let rows: Vec<Vec<String>> = task
        .bids
        .iter()
        .map(|ranked| {
            vec![
                ranked.bidder.to_string(),
                ranked.score.to_string(),
                ranked.bid.estimated_cost.to_string(),
                ranked.bid.estimated_time_ms.to_string(),
                ranked.bid.confidence.to_string(),
            ]
        })
        .collect();
    print_table(&["BIDDER", "SCORE", "COST", "TIME MS", "CONFIDENCE"], &rows);
    println!("attempts:");
    let rows: Vec<Vec<String>> = task
        .attempts
        .iter()
        .map(|attempt| {
            let outcome = match &attempt.outcome {
                colony_core::AttemptOutcome::Rejected { score } => format!("rejected at {score}"),
                colony_core::AttemptOutcome::Completed { score: Some(score) } => format!("completed at {score}"),
                other => other.name().to_owned(),
            };
            vec![
                attempt.winner.to_string(),
                attempt.price.to_string(),
                attempt.score.to_string(),
                attempt.escrow.to_string(),
                outcome,
                attempt.progress.as_ref().map_or("-".to_owned(), |(percent, _)| format!("{percent}%")),
            ]
        })
        .collect();
    print_table(&["WINNER", "PRICE", "SCORE", "ESCROW", "OUTCOME", "PROGRESS"], &rows);
}

/// Runs `colony agent reputation ID`.
pub async fn reputation(id: &str, json: bool, connection: &Connection) -> CliResult {
    let client = connection.client()?;
    let view = client.reputation(&agent(id, "agent")?).await?;
    if json {
        print_json(&view);
        return Ok(());
    }
    println!("reputation of {}", view.agent);
    println!("  performance score   {}", view.performance_score);
    println!("  tasks               {} ({} succeeded, {} declined)", view.tasks, view.succeeded, view.declined);
    println!("  success rate        {}", view.success_rate);
    println!("  on time rate        {}", view.on_time_rate);
    println!("  mean completion     {} ms", view.mean_completion_ms);
    println!("  total cost          {}", view.total_cost);
    println!("  earned              {}", view.earned);
    println!("  load                {} of {}", view.load, view.capacity);
    Ok(())
}
