//! The task market: typed helpers for each `task.*` command and the market's reads.

use colony_core::command::{
    AcceptTask, AnnounceBatch, AnnounceTask, AwardTask, CancelTask, DeclareCapacity, DeclineTask, PlaceBid,
    ReportProgress, SubmitResult, VerifyResult, WithdrawBid,
};
use colony_core::{AgentId, Command, Fraction};
use colony_wire::views::{ReputationView, SubmitResponse, TaskPage, TaskView};

use crate::{Client, ClientError};

impl Client {
    /// Announces a task (as its manager); returns the market's id for it and whether it already
    /// existed (announced before under the same task id).
    pub async fn announce_task(&self, announce: AnnounceTask) -> Result<(u64, bool), ClientError> {
        let response = self.submit_one(Command::AnnounceTask(announce)).await?;
        let result = response.results.first();
        let existing = result.and_then(|result| result.status.as_deref()) == Some("existing");
        result
            .and_then(|result| result.task)
            .map(|task| (task, existing))
            .ok_or_else(|| ClientError::Decode("the announce's result carries no task id".to_owned()))
    }

    /// Announces a batch of items split across agents (as its manager); returns its chunks' tasks,
    /// batch by batch, chunk by chunk, each assigned already.
    pub async fn announce_batch(&self, batch: AnnounceBatch) -> Result<Vec<u64>, ClientError> {
        let response = self.submit_one(Command::AnnounceBatch(batch)).await?;
        response
            .results
            .into_iter()
            .next()
            .and_then(|result| result.tasks)
            .ok_or_else(|| ClientError::Decode("the batch's result carries no tasks".to_owned()))
    }

    /// Declares how much direct work the client takes on at once, in load units (0: none).
    pub async fn declare_capacity(&self, max_load: u32) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeclareCapacity(DeclareCapacity { max_load })).await
    }

    /// Bids on an open task, or replaces the client's bid.
    pub async fn place_bid(&self, bid: PlaceBid) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::PlaceBid(bid)).await
    }

    /// Withdraws the client's bid.
    pub async fn withdraw_bid(&self, task: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::WithdrawBid(WithdrawBid { task })).await
    }

    /// Closes bidding now and awards the task (its manager).
    pub async fn award_task(&self, task: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::AwardTask(AwardTask { task })).await
    }

    /// Takes an awarded task on (its winner).
    pub async fn accept_task(&self, task: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::AcceptTask(AcceptTask { task })).await
    }

    /// Turns an awarded task down before accepting it (its winner).
    pub async fn decline_task(&self, task: u64) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::DeclineTask(DeclineTask { task })).await
    }

    /// Reports how far the work is (its winner).
    pub async fn report_progress(&self, task: u64, percent: u8, note: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::ReportProgress(ReportProgress { task, percent, note: note.to_owned() })).await
    }

    /// Delivers a result (its winner).
    pub async fn submit_result(&self, submission: SubmitResult) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::SubmitResult(submission)).await
    }

    /// Scores a submitted result (its verifier).
    pub async fn verify_result(&self, task: u64, score: Fraction) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::VerifyResult(VerifyResult { task, score })).await
    }

    /// Cancels a task nobody has accepted yet (its manager).
    pub async fn cancel_task(&self, task: u64, reason: &str) -> Result<SubmitResponse, ClientError> {
        self.submit_one(Command::CancelTask(CancelTask { task, reason: reason.to_owned() })).await
    }

    /// One page of tasks. `query` is a URL query string without `?` (`state=open&limit=10`).
    pub async fn tasks(&self, query: &str) -> Result<TaskPage, ClientError> {
        let path = if query.is_empty() { "/v1/tasks".to_owned() } else { format!("/v1/tasks?{query}") };
        self.get(&path).await
    }

    /// One task in full: terms, ranked bids, attempts, dependencies.
    pub async fn task(&self, id: u64) -> Result<TaskView, ClientError> {
        self.get(&format!("/v1/tasks/{id}")).await
    }

    /// An agent's record as a worker, with its load and capacity.
    pub async fn reputation(&self, agent: &AgentId) -> Result<ReputationView, ClientError> {
        self.get(&format!("/v1/agents/{agent}/reputation")).await
    }
}
