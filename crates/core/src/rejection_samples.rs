//! One value of every [`Rejection`] variant, in every family.
//!
//! What must hold of every refusal (a code documented in the README and the OpenAPI document, one
//! HTTP status, a generator in the testkit that reaches it) is checked against these samples, so a
//! new variant without a sample would slip past all of those checks. Two guards prevent it:
//! [`variant_name`] matches every variant exhaustively, so a new one does not compile until it is
//! named beside the samples, and a test compares the samples with the variants declared in the
//! sources of the enums.

use crate::amount::Amount;
use crate::bus::{Pattern, Subject};
use crate::coordination::{BarrierBreak, LockKind};
use crate::governance::TallyError;
use crate::ids::{AgentId, Name};
use crate::kv::StoreKey;
use crate::outcome::{
    BusRejection, ConfigRejection, CoordinationRejection, GovernanceRejection, KvRejection, LedgerRejection,
    MarketRejection, RegistryRejection, Rejection, StigmergyRejection,
};

/// One rejection of each variant, in the order the variants are declared.
pub fn rejection_samples() -> Vec<Rejection> {
    let agent = AgentId::new("scout-1").expect("a valid agent id");
    let stream = Name::new("orders").expect("a valid name");
    let consumer = Name::new("workers").expect("a valid name");
    let subject = Subject::new("orders.new").expect("a valid subject");
    let insufficient = LedgerRejection::InsufficientFunds { available: Amount(5), requested: Amount(7) };
    vec![
        Rejection::UnknownSigner,
        Rejection::KeyMismatch,
        Rejection::NonceReplayed { nonce: 1 },
        Rejection::Unauthorized { reason: "only the operator may do this" },
        Rejection::AgentNotFound { agent: agent.clone() },
        Rejection::AgentDeregistered { agent: agent.clone() },
        Rejection::AgentHalted { agent: agent.clone() },
        Rejection::invalid("amount", "must be positive"),
        Rejection::LimitReached { limit: "children_per_parent_max", max: 1_000 },
        Rejection::RateLimited { limit: "registration_interval_ms", retry_after_ms: 250 },
        Rejection::Genesis { reason: "the swarm has a genesis already" },
        RegistryRejection::AgentExists { agent: agent.clone() }.into(),
        RegistryRejection::UnknownRole { role: "pilot".to_owned() }.into(),
        RegistryRejection::RoleClosed { role: "auditor".to_owned() }.into(),
        ConfigRejection::ReadTokenNotFound.into(),
        insufficient.clone().into(),
        LedgerRejection::WalletFrozen { agent: agent.clone() }.into(),
        LedgerRejection::DailyLimitExceeded { limit: Amount(10), spent_today: Amount(8), requested: Amount(3) }.into(),
        LedgerRejection::WithdrawForbidden { agent }.into(),
        LedgerRejection::TransferConflict { transfer_id: Name::new("pay-1").expect("a valid name") }.into(),
        LedgerRejection::BatchFailed { index: 1, reason: Box::new(insufficient.into()) }.into(),
        LedgerRejection::EscrowNotFound { escrow: 3 }.into(),
        LedgerRejection::EscrowState { escrow: 3, state: "released", action: "be refunded" }.into(),
        LedgerRejection::EscrowTaskConflict { task_id: Name::new("task-1").expect("a valid name"), escrow: 3 }.into(),
        LedgerRejection::HashlockMismatch { escrow: 3 }.into(),
        LedgerRejection::EscrowUnderJury { escrow: 3, proposal: 4 }.into(),
        BusRejection::StreamNotFound { stream: stream.clone() }.into(),
        BusRejection::StreamConflict { stream: stream.clone() }.into(),
        BusRejection::SubjectsOverlap {
            pattern: Pattern::new("orders.>").expect("a valid pattern"),
            stream: stream.clone(),
        }
        .into(),
        BusRejection::NoStream { subject }.into(),
        BusRejection::StreamFull { stream: stream.clone(), limit: "max_messages", max: 2 }.into(),
        BusRejection::ConsumerNotFound { stream: stream.clone(), consumer: consumer.clone() }.into(),
        BusRejection::ConsumerConflict { stream: stream.clone(), consumer }.into(),
        BusRejection::DeliveryNotPending { sequence: 4, action: "be acked" }.into(),
        BusRejection::DeadLetterNotFound { stream, dead_letter: 2 }.into(),
        MarketRejection::TaskNotFound { task: 7 }.into(),
        MarketRejection::TaskState { task: 7, state: "running", action: "be cancelled" }.into(),
        MarketRejection::TaskIdConflict { task_id: Name::new("scan-1").expect("a valid name"), task: 7 }.into(),
        MarketRejection::DependencyNotFound { task_id: Name::new("scan-0").expect("a valid name") }.into(),
        MarketRejection::DependencyCycle { task_id: Name::new("scan-1").expect("a valid name") }.into(),
        MarketRejection::MissingCapability { capability: Name::new("rsi").expect("a valid name") }.into(),
        MarketRejection::BidderUnresponsive { agent: AgentId::new("analyst-2").expect("a valid agent id") }.into(),
        MarketRejection::BidAboveMaxCost { max_cost: Amount(10) }.into(),
        MarketRejection::BidBeyondDeadline { deadline_ms: 1_000 }.into(),
        MarketRejection::BiddingClosed { task: 7 }.into(),
        MarketRejection::OwnTask { task: 7 }.into(),
        MarketRejection::NotInvited { task: 7 }.into(),
        MarketRejection::BidderExcluded { task: 7 }.into(),
        MarketRejection::BidNotFound { task: 7 }.into(),
        MarketRejection::AnnounceBeyondFunds {
            payer: AgentId::new("manager").expect("a valid agent id"),
            committed: 120,
            balance: Amount(100),
        }
        .into(),
        MarketRejection::UnknownTaskKind { kind: Name::new("mine").expect("a valid name") }.into(),
        MarketRejection::EscrowOwnedByTask { escrow: 3, task: 7 }.into(),
        MarketRejection::DirectTask { task: 7 }.into(),
        MarketRejection::NoEligibleAgent { batch: 0 }.into(),
        GovernanceRejection::ProposalNotFound { proposal: 4 }.into(),
        GovernanceRejection::ProposalState { proposal: 4, state: "closed", action: "take ballots" }.into(),
        GovernanceRejection::ProposalIdConflict {
            proposal_id: Name::new("budget-1").expect("a valid name"),
            proposal: 4,
        }
        .into(),
        GovernanceRejection::ProposalHasBallots { proposal: 4, ballots: 2 }.into(),
        GovernanceRejection::NotEligible { proposal: 4 }.into(),
        GovernanceRejection::NotVetoHolder { proposal: 4 }.into(),
        GovernanceRejection::MalformedBallot { proposal: 4, error: TallyError::WrongChoice { voter: 1 } }.into(),
        GovernanceRejection::EmptyElectorate.into(),
        GovernanceRejection::Guarded { kind: "ledger.mint" }.into(),
        GovernanceRejection::JuryParty { proposal: 4 }.into(),
        GovernanceRejection::JuryFixed { proposal: 4 }.into(),
        StigmergyRejection::MapNotFound { map: Name::new("trails").expect("a valid name") }.into(),
        StigmergyRejection::MapExists { map: Name::new("trails").expect("a valid name") }.into(),
        StigmergyRejection::NotMapCreator { map: Name::new("trails").expect("a valid name") }.into(),
        StigmergyRejection::NotDepositor { map: Name::new("trails").expect("a valid name") }.into(),
        StigmergyRejection::SignalPresent {
            map: Name::new("trails").expect("a valid name"),
            key: crate::stigmergy::SignalKey::new("task-17:claimed").expect("a valid key"),
        }
        .into(),
        CoordinationRejection::LeaseNotFound { lease: Name::new("worker").expect("a valid name") }.into(),
        CoordinationRejection::LeaseExists { lease: Name::new("worker").expect("a valid name") }.into(),
        CoordinationRejection::NotLeaseHolder { lease: Name::new("worker").expect("a valid name") }.into(),
        CoordinationRejection::HolderUnresponsive.into(),
        CoordinationRejection::LockHeld { lock: Name::new("ledger-export").expect("a valid name") }.into(),
        CoordinationRejection::LockAlreadyHeld { lock: Name::new("ledger-export").expect("a valid name") }.into(),
        CoordinationRejection::LockNotHeld { lock: Name::new("ledger-export").expect("a valid name") }.into(),
        CoordinationRejection::LockKindMismatch {
            lock: Name::new("gpu-pool").expect("a valid name"),
            kind: LockKind::Semaphore { permits: 4 },
        }
        .into(),
        CoordinationRejection::Deadlock { lock: Name::new("ledger-export").expect("a valid name") }.into(),
        CoordinationRejection::BarrierNotFound { barrier: Name::new("phase-1").expect("a valid name") }.into(),
        CoordinationRejection::BarrierExists { barrier: Name::new("phase-1").expect("a valid name") }.into(),
        CoordinationRejection::NotBarrierCreator { barrier: Name::new("phase-1").expect("a valid name") }.into(),
        CoordinationRejection::NotBarrierMember { barrier: Name::new("phase-1").expect("a valid name") }.into(),
        CoordinationRejection::BarrierBroken {
            barrier: Name::new("phase-1").expect("a valid name"),
            generation: 2,
            reason: BarrierBreak::TimedOut,
        }
        .into(),
        CoordinationRejection::AlreadyArrived { barrier: Name::new("phase-1").expect("a valid name"), generation: 2 }
            .into(),
        CoordinationRejection::VoteElectionNotFound { election: election() }.into(),
        CoordinationRejection::VoteElectionExists { election: election() }.into(),
        CoordinationRejection::NotVoteElectionCreator { election: election() }.into(),
        CoordinationRejection::NotElectionMember { election: election() }.into(),
        CoordinationRejection::VoteRoundOpen { election: election(), term: 3 }.into(),
        CoordinationRejection::LeaderHealthy {
            election: election(),
            leader: AgentId::new("executor-2").expect("a valid id"),
            term: 3,
        }
        .into(),
        CoordinationRejection::NoVoteRound { election: election() }.into(),
        CoordinationRejection::StaleTerm { election: election(), term: 2, current: 3 }.into(),
        CoordinationRejection::NotVoter { election: election(), term: 3 }.into(),
        CoordinationRejection::NotCandidate {
            election: election(),
            candidate: AgentId::new("outsider").expect("a valid id"),
        }
        .into(),
        CoordinationRejection::AlreadyVoted { election: election(), term: 3 }.into(),
        KvRejection::NamespaceNotFound { namespace: namespace() }.into(),
        KvRejection::NamespaceExists { namespace: namespace() }.into(),
        KvRejection::NotNamespaceCreator { namespace: namespace() }.into(),
        KvRejection::NotWriter { namespace: namespace() }.into(),
        KvRejection::NotReader { namespace: namespace() }.into(),
        KvRejection::KeyNotFound { namespace: namespace(), key: store_key() }.into(),
        KvRejection::RevisionMismatch { namespace: namespace(), key: store_key(), expected: 7, actual: 9 }.into(),
        KvRejection::Compacted { namespace: namespace(), compacted_revision: 12 }.into(),
    ]
}

fn election() -> Name {
    Name::new("order-desk").expect("a valid name")
}

fn namespace() -> Name {
    Name::new("pipeline").expect("a valid name")
}

fn store_key() -> StoreKey {
    StoreKey::new("stage-2/config").expect("a valid key")
}

/// The variant of `rejection` as declared: `Rejection::UnknownSigner`, or for a family's refusal the
/// family's variant, `LedgerRejection::BatchFailed`. Every match is exhaustive: a variant added
/// anywhere does not compile until it is named here, next to [`rejection_samples`], which needs
/// one of it too.
pub fn variant_name(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::UnknownSigner => "Rejection::UnknownSigner",
        Rejection::KeyMismatch => "Rejection::KeyMismatch",
        Rejection::NonceReplayed { .. } => "Rejection::NonceReplayed",
        Rejection::Unauthorized { .. } => "Rejection::Unauthorized",
        Rejection::AgentNotFound { .. } => "Rejection::AgentNotFound",
        Rejection::AgentDeregistered { .. } => "Rejection::AgentDeregistered",
        Rejection::AgentHalted { .. } => "Rejection::AgentHalted",
        Rejection::InvalidField { .. } => "Rejection::InvalidField",
        Rejection::LimitReached { .. } => "Rejection::LimitReached",
        Rejection::RateLimited { .. } => "Rejection::RateLimited",
        Rejection::Genesis { .. } => "Rejection::Genesis",
        Rejection::Registry(rejection) => match rejection {
            RegistryRejection::AgentExists { .. } => "RegistryRejection::AgentExists",
            RegistryRejection::UnknownRole { .. } => "RegistryRejection::UnknownRole",
            RegistryRejection::RoleClosed { .. } => "RegistryRejection::RoleClosed",
        },
        Rejection::Config(rejection) => match rejection {
            ConfigRejection::ReadTokenNotFound => "ConfigRejection::ReadTokenNotFound",
        },
        Rejection::Ledger(rejection) => match rejection {
            LedgerRejection::InsufficientFunds { .. } => "LedgerRejection::InsufficientFunds",
            LedgerRejection::WalletFrozen { .. } => "LedgerRejection::WalletFrozen",
            LedgerRejection::DailyLimitExceeded { .. } => "LedgerRejection::DailyLimitExceeded",
            LedgerRejection::WithdrawForbidden { .. } => "LedgerRejection::WithdrawForbidden",
            LedgerRejection::TransferConflict { .. } => "LedgerRejection::TransferConflict",
            LedgerRejection::BatchFailed { .. } => "LedgerRejection::BatchFailed",
            LedgerRejection::EscrowNotFound { .. } => "LedgerRejection::EscrowNotFound",
            LedgerRejection::EscrowState { .. } => "LedgerRejection::EscrowState",
            LedgerRejection::EscrowTaskConflict { .. } => "LedgerRejection::EscrowTaskConflict",
            LedgerRejection::HashlockMismatch { .. } => "LedgerRejection::HashlockMismatch",
            LedgerRejection::EscrowUnderJury { .. } => "LedgerRejection::EscrowUnderJury",
        },
        Rejection::Bus(rejection) => match rejection {
            BusRejection::StreamNotFound { .. } => "BusRejection::StreamNotFound",
            BusRejection::StreamConflict { .. } => "BusRejection::StreamConflict",
            BusRejection::SubjectsOverlap { .. } => "BusRejection::SubjectsOverlap",
            BusRejection::NoStream { .. } => "BusRejection::NoStream",
            BusRejection::StreamFull { .. } => "BusRejection::StreamFull",
            BusRejection::ConsumerNotFound { .. } => "BusRejection::ConsumerNotFound",
            BusRejection::ConsumerConflict { .. } => "BusRejection::ConsumerConflict",
            BusRejection::DeliveryNotPending { .. } => "BusRejection::DeliveryNotPending",
            BusRejection::DeadLetterNotFound { .. } => "BusRejection::DeadLetterNotFound",
        },
        Rejection::Market(rejection) => match rejection {
            MarketRejection::TaskNotFound { .. } => "MarketRejection::TaskNotFound",
            MarketRejection::TaskState { .. } => "MarketRejection::TaskState",
            MarketRejection::TaskIdConflict { .. } => "MarketRejection::TaskIdConflict",
            MarketRejection::DependencyNotFound { .. } => "MarketRejection::DependencyNotFound",
            MarketRejection::DependencyCycle { .. } => "MarketRejection::DependencyCycle",
            MarketRejection::MissingCapability { .. } => "MarketRejection::MissingCapability",
            MarketRejection::BidderUnresponsive { .. } => "MarketRejection::BidderUnresponsive",
            MarketRejection::BidAboveMaxCost { .. } => "MarketRejection::BidAboveMaxCost",
            MarketRejection::BidBeyondDeadline { .. } => "MarketRejection::BidBeyondDeadline",
            MarketRejection::BiddingClosed { .. } => "MarketRejection::BiddingClosed",
            MarketRejection::OwnTask { .. } => "MarketRejection::OwnTask",
            MarketRejection::NotInvited { .. } => "MarketRejection::NotInvited",
            MarketRejection::BidderExcluded { .. } => "MarketRejection::BidderExcluded",
            MarketRejection::BidNotFound { .. } => "MarketRejection::BidNotFound",
            MarketRejection::AnnounceBeyondFunds { .. } => "MarketRejection::AnnounceBeyondFunds",
            MarketRejection::UnknownTaskKind { .. } => "MarketRejection::UnknownTaskKind",
            MarketRejection::EscrowOwnedByTask { .. } => "MarketRejection::EscrowOwnedByTask",
            MarketRejection::DirectTask { .. } => "MarketRejection::DirectTask",
            MarketRejection::NoEligibleAgent { .. } => "MarketRejection::NoEligibleAgent",
        },
        Rejection::Governance(rejection) => match rejection {
            GovernanceRejection::ProposalNotFound { .. } => "GovernanceRejection::ProposalNotFound",
            GovernanceRejection::ProposalState { .. } => "GovernanceRejection::ProposalState",
            GovernanceRejection::ProposalIdConflict { .. } => "GovernanceRejection::ProposalIdConflict",
            GovernanceRejection::ProposalHasBallots { .. } => "GovernanceRejection::ProposalHasBallots",
            GovernanceRejection::NotEligible { .. } => "GovernanceRejection::NotEligible",
            GovernanceRejection::NotVetoHolder { .. } => "GovernanceRejection::NotVetoHolder",
            GovernanceRejection::MalformedBallot { .. } => "GovernanceRejection::MalformedBallot",
            GovernanceRejection::EmptyElectorate => "GovernanceRejection::EmptyElectorate",
            GovernanceRejection::Guarded { .. } => "GovernanceRejection::Guarded",
            GovernanceRejection::JuryParty { .. } => "GovernanceRejection::JuryParty",
            GovernanceRejection::JuryFixed { .. } => "GovernanceRejection::JuryFixed",
        },
        Rejection::Stigmergy(rejection) => match rejection {
            StigmergyRejection::MapNotFound { .. } => "StigmergyRejection::MapNotFound",
            StigmergyRejection::MapExists { .. } => "StigmergyRejection::MapExists",
            StigmergyRejection::NotMapCreator { .. } => "StigmergyRejection::NotMapCreator",
            StigmergyRejection::NotDepositor { .. } => "StigmergyRejection::NotDepositor",
            StigmergyRejection::SignalPresent { .. } => "StigmergyRejection::SignalPresent",
        },
        Rejection::Coordination(rejection) => match rejection {
            CoordinationRejection::LeaseNotFound { .. } => "CoordinationRejection::LeaseNotFound",
            CoordinationRejection::LeaseExists { .. } => "CoordinationRejection::LeaseExists",
            CoordinationRejection::NotLeaseHolder { .. } => "CoordinationRejection::NotLeaseHolder",
            CoordinationRejection::HolderUnresponsive => "CoordinationRejection::HolderUnresponsive",
            CoordinationRejection::LockHeld { .. } => "CoordinationRejection::LockHeld",
            CoordinationRejection::LockAlreadyHeld { .. } => "CoordinationRejection::LockAlreadyHeld",
            CoordinationRejection::LockKindMismatch { .. } => "CoordinationRejection::LockKindMismatch",
            CoordinationRejection::LockNotHeld { .. } => "CoordinationRejection::LockNotHeld",
            CoordinationRejection::Deadlock { .. } => "CoordinationRejection::Deadlock",
            CoordinationRejection::BarrierNotFound { .. } => "CoordinationRejection::BarrierNotFound",
            CoordinationRejection::BarrierExists { .. } => "CoordinationRejection::BarrierExists",
            CoordinationRejection::NotBarrierCreator { .. } => "CoordinationRejection::NotBarrierCreator",
            CoordinationRejection::NotBarrierMember { .. } => "CoordinationRejection::NotBarrierMember",
            CoordinationRejection::BarrierBroken { .. } => "CoordinationRejection::BarrierBroken",
            CoordinationRejection::AlreadyArrived { .. } => "CoordinationRejection::AlreadyArrived",
            CoordinationRejection::VoteElectionNotFound { .. } => "CoordinationRejection::VoteElectionNotFound",
            CoordinationRejection::VoteElectionExists { .. } => "CoordinationRejection::VoteElectionExists",
            CoordinationRejection::NotVoteElectionCreator { .. } => "CoordinationRejection::NotVoteElectionCreator",
            CoordinationRejection::NotElectionMember { .. } => "CoordinationRejection::NotElectionMember",
            CoordinationRejection::VoteRoundOpen { .. } => "CoordinationRejection::VoteRoundOpen",
            CoordinationRejection::LeaderHealthy { .. } => "CoordinationRejection::LeaderHealthy",
            CoordinationRejection::NoVoteRound { .. } => "CoordinationRejection::NoVoteRound",
            CoordinationRejection::StaleTerm { .. } => "CoordinationRejection::StaleTerm",
            CoordinationRejection::NotVoter { .. } => "CoordinationRejection::NotVoter",
            CoordinationRejection::NotCandidate { .. } => "CoordinationRejection::NotCandidate",
            CoordinationRejection::AlreadyVoted { .. } => "CoordinationRejection::AlreadyVoted",
        },
        Rejection::Kv(rejection) => match rejection {
            KvRejection::NamespaceNotFound { .. } => "KvRejection::NamespaceNotFound",
            KvRejection::NamespaceExists { .. } => "KvRejection::NamespaceExists",
            KvRejection::NotNamespaceCreator { .. } => "KvRejection::NotNamespaceCreator",
            KvRejection::NotWriter { .. } => "KvRejection::NotWriter",
            KvRejection::NotReader { .. } => "KvRejection::NotReader",
            KvRejection::KeyNotFound { .. } => "KvRejection::KeyNotFound",
            KvRejection::RevisionMismatch { .. } => "KvRejection::RevisionMismatch",
            KvRejection::Compacted { .. } => "KvRejection::Compacted",
        },
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The sources of the rejection enums: `Rejection` itself, then each family's enum with the
    /// variant of `Rejection` that wraps it.
    const REJECTION_SOURCE: &str = include_str!("outcome.rs");
    const FAMILIES: &[(&str, &str, &str)] = &[
        ("Registry", "RegistryRejection", include_str!("registry/rejections.rs")),
        ("Config", "ConfigRejection", include_str!("config/rejections.rs")),
        ("Ledger", "LedgerRejection", include_str!("ledger/rejections.rs")),
        ("Bus", "BusRejection", include_str!("bus/rejections.rs")),
        ("Market", "MarketRejection", include_str!("market/rejections.rs")),
        ("Governance", "GovernanceRejection", include_str!("governance/rejections.rs")),
        ("Stigmergy", "StigmergyRejection", include_str!("stigmergy/rejections.rs")),
        ("Coordination", "CoordinationRejection", include_str!("coordination/rejections.rs")),
        ("Kv", "KvRejection", include_str!("kv/rejections.rs")),
    ];

    /// The variants of `pub enum {name}` in `source`, each with whether it wraps a value in
    /// parentheses (a family) rather than naming fields or none. rustfmt indents a variant by four
    /// spaces and its fields and doc comments' continuation by more, so a variant is a line of four
    /// spaces and a capital letter.
    fn declared_variants(source: &str, name: &str) -> Vec<(String, bool)> {
        let header = format!("pub enum {name} {{");
        let body = source.split_once(&header).unwrap_or_else(|| panic!("no `{header}` in the source")).1;
        let body = body.split_once("\n}").expect("the enum ends").0;
        body.lines()
            .filter_map(|line| line.strip_prefix("    "))
            .filter(|line| line.starts_with(|character: char| character.is_ascii_uppercase()))
            .map(|line| {
                let variant: String = line.chars().take_while(char::is_ascii_alphanumeric).collect();
                let wraps = line[variant.len()..].starts_with('(');
                (variant, wraps)
            })
            .collect()
    }

    #[test]
    fn every_declared_variant_has_exactly_one_sample() {
        let variants = declared_variants(REJECTION_SOURCE, "Rejection");
        let wrappers: Vec<&str> =
            variants.iter().filter(|(_, wraps)| *wraps).map(|(variant, _)| variant.as_str()).collect();
        let families: Vec<&str> = FAMILIES.iter().map(|(wrapper, _, _)| *wrapper).collect();
        assert_eq!(wrappers, families, "every family's enum is scanned");
        let declared: Vec<String> = variants
            .iter()
            .filter(|(_, wraps)| !wraps)
            .map(|(variant, _)| format!("Rejection::{variant}"))
            .chain(FAMILIES.iter().flat_map(|(_, family, source)| {
                declared_variants(source, family).into_iter().map(move |(variant, _)| format!("{family}::{variant}"))
            }))
            .collect();
        let sampled: Vec<String> = rejection_samples().iter().map(|sample| variant_name(sample).to_owned()).collect();
        assert_eq!(sampled, declared, "one sample per variant, in the order declared");
    }

    #[test]
    fn the_scan_reads_variants_and_tells_families_apart() {
        let source = "/// An enum.\npub enum Example {\n    /// A variant.\n    Plain,\n    Fields {\n        /// A field.\n        value: u64,\n    },\n    Family(FamilyRejection),\n}\n";
        let variants = declared_variants(source, "Example");
        let expected =
            [("Plain", false), ("Fields", false), ("Family", true)].map(|(name, wraps)| (name.to_owned(), wraps));
        assert_eq!(variants, expected);
    }

    #[test]
    fn each_code_names_one_variant() {
        let samples = rejection_samples();
        let codes: BTreeSet<&str> = samples.iter().map(Rejection::code).collect();
        assert_eq!(codes.len(), samples.len(), "two variants share a code");
    }
}
