//! Every limit of the state machine, in one place.
//!
//! A limit exists so that no client, however hostile or buggy, can make the state grow without bound
//! or make one entry take unbounded time to apply. Each is enforced where the state would grow and
//! reported as [`crate::Rejection::LimitReached`] naming the limit, so an operator knows which knob
//! was hit. The assertions at the bottom keep the limits consistent with each other at compile time.

/// Live (registered, not deregistered) agents. Agents are interned (registry handles), so a million
/// of them stay well within one machine's memory: `colony-bench -- scale` registers this many and opens
/// [`OPEN_ESCROWS_MAX`] escrows between them, and reports the server's resident memory. Deregistered
/// agents do not count: see [`TOMBSTONES_MAX`].
pub const AGENTS_MAX: usize = 1_000_000;

/// Deregistered agents kept as tombstones, so that their ids are never reused (see `registry.rs`).
/// A tombstone drops its capabilities and nonces and costs a few hundred bytes; a million of them
/// is a few hundred MB. They do not count against [`AGENTS_MAX`], so churn cannot lock live agents
/// out; once this many exist, only the operator may register agents. The registration rate limit
/// (`registration_interval_ms`) makes reaching it take about twelve days at the default pace.
pub const TOMBSTONES_MAX: usize = 1_000_000;

/// Ids taken, live and deregistered: the bound on the registry's memory. Agents' registrations stop
/// at [`TOMBSTONES_MAX`] tombstones, the operator's at this many ids in all (deregistering never
/// adds ids, so the operator's churn past the tombstone limit is bounded too).
pub const AGENT_IDS_MAX: usize = AGENTS_MAX + TOMBSTONES_MAX;

/// Live children one agent may have. A parent registers its children, so without a bound one agent
/// could take every live slot of [`AGENTS_MAX`] for itself.
pub const CHILDREN_PER_PARENT_MAX: u32 = 1_000;

/// Longest `registration_interval_ms` the configuration accepts (one day); the operator turns
/// self-registration off rather than setting a longer pace.
pub const REGISTRATION_INTERVAL_MS_MAX: u64 = 24 * 3_600 * 1_000;

/// Largest `registration_burst`: the live-agent limit.
pub const REGISTRATION_BURST_MAX: u32 = AGENTS_MAX as u32;

/// Bytes in an agent id. Ids appear in subjects, URLs and log lines, so they stay short.
pub const AGENT_ID_BYTES_MAX: usize = 64;

/// Capabilities one agent may advertise.
pub const CAPABILITIES_PER_AGENT_MAX: usize = 32;

/// Bytes in one capability or role name.
pub const NAME_BYTES_MAX: usize = 64;

/// Roles the swarm configuration may define.
pub const ROLES_MAX: usize = 64;

/// Bytes in a free-text reason (halt reasons, labels).
pub const REASON_BYTES_MAX: usize = 256;

/// A weight of one, in millionths: agents' and roles' voting weights are integers on this scale, so
/// seed 001's 2.5 is 2,500,000 and no weight is ever a float.
pub const WEIGHT_ONE: u32 = 1_000_000;

/// Largest weight an agent may carry: a thousand ordinary voters' worth. Weights are relative voting
/// power; past a thousand to one a vote is one agent's decision and the swarm should say so by an
/// explicit electorate. The bound keeps any sum over all agents far from overflowing a `u64`
/// (`AGENTS_MAX * AGENT_WEIGHT_MAX < 2^63`) and fits the `u32` weights are stored in.
pub const AGENT_WEIGHT_MAX: u32 = 1_000 * WEIGHT_ONE;

/// Commands in one signed envelope (the batch endpoint). One entry is applied atomically by the single
/// writer, so this bounds how long any one entry can hold it.
pub const COMMANDS_PER_ENVELOPE_MAX: usize = 10_000;

/// Nonces remembered per signer beyond its floor; see `replay.rs`. Envelopes from one signer that arrive
/// at most this many positions out of order are still accepted.
pub const REPLAY_WINDOW_NONCES: usize = 64;

/// Read tokens the operator may have issued at once.
pub const READ_TOKENS_MAX: usize = 1_024;

/// Smallest heartbeat TTL the configuration accepts: below one second, ordinary scheduling jitter
/// would flap agents between active and unresponsive.
pub const HEARTBEAT_TTL_MS_MIN: u64 = 1_000;

/// Largest heartbeat TTL the configuration accepts (one week).
pub const HEARTBEAT_TTL_MS_MAX: u64 = 7 * 24 * 3_600 * 1_000;

/// Liveness expiries processed by one entry. Expiries beyond this wait for the next entry, so a mass
/// expiry cannot stall the writer; the driver schedules ticks until none are due.
pub const EXPIRIES_PER_ENTRY_MAX: usize = 10_000;

/// Transfers remembered for idempotency (by creator and transfer id). Beyond this, the oldest are
/// forgotten and a retry of one of them would be a new transfer; at ~150 bytes each this is ~150 MB.
pub const TRANSFERS_RETAINED_MAX: usize = 1_000_000;

/// Transfers in one linked batch, applied all or nothing.
pub const TRANSFERS_PER_BATCH_MAX: usize = 1_000;

/// Escrows that may be open (locked or disputed) at once.
pub const OPEN_ESCROWS_MAX: usize = 1_000_000;

/// Escrows kept in state, open and settled. Beyond this the oldest settled ones are forgotten (their
/// outcome stays in the log and the event stream).
pub const ESCROWS_RETAINED_MAX: usize = 2_000_000;

/// Shortest escrow timeout: one second.
pub const ESCROW_TIMEOUT_MS_MIN: u64 = 1_000;

/// Longest escrow timeout: 90 days.
pub const ESCROW_TIMEOUT_MS_MAX: u64 = 90 * 24 * 3_600 * 1_000;

/// Escrow timeout when a lock names none: 24 hours, a working day for the payee in any time zone
/// before the payer's funds come back on their own.
pub const ESCROW_TIMEOUT_MS_DEFAULT: u64 = 24 * 3_600 * 1_000;

/// Bytes of an escrow's free-text description: a line saying what the money is for, kept with the
/// escrow for as long as it is retained (larger documents go by reference).
pub const ESCROW_DESCRIPTION_BYTES_MAX: usize = 256;

/// Bytes in a hashlock preimage.
pub const PREIMAGE_BYTES_MAX: usize = 256;

// ----- Durable streams (see `bus/`) -----

/// Streams that may exist at once. Each publish finds its stream through a pattern tree, so the count
/// costs memory, not time; a thousand covers a swarm with a stream per team and purpose.
pub const STREAMS_MAX: usize = 1_024;

/// Streams one agent may own (the operator's are not limited), so that one agent cannot take all
/// [`STREAMS_MAX`].
pub const STREAMS_PER_AGENT_MAX: usize = 32;

/// Bytes (the sum of `max_bytes`) one agent's streams may reserve (the operator's are not
/// limited): an eighth of [`BUS_BYTES_MAX`], so that at least eight agents can take their share.
pub const STREAM_BYTES_PER_AGENT_MAX: u64 = BUS_BYTES_MAX / 8;

/// Subject patterns one stream may capture. Sixteen patterns describe any sensible grouping; more would
/// make the overlap check at creation (every new pattern against every existing one) expensive.
pub const SUBJECTS_PER_STREAM_MAX: usize = 16;

/// Messages one stream may hold, and what it holds when `max_messages` is not set: with the smallest
/// message about 100 bytes of bookkeeping, a million messages is about 100 MB.
pub const STREAM_MESSAGES_MAX: u64 = 1_000_000;

/// Bytes one stream may hold (`max_bytes` at most).
pub const STREAM_BYTES_MAX: u64 = 256 * 1024 * 1024;

/// Bytes a stream reserves when `max_bytes` is not set.
pub const STREAM_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;

/// Bytes all streams together may reserve (the sum of their `max_bytes`). Streams live in memory and
/// in every snapshot, so their total is bounded at creation rather than discovered when memory runs
/// out; 2 GiB holds 128 streams of the default size.
pub const BUS_BYTES_MAX: u64 = 2 * 1024 * 1024 * 1024;

/// Bytes counted for each stored message on top of its content, for the bookkeeping around it (the
/// sequence, times, the source, the map entry). Counting it makes `max_bytes` bound memory even for
/// empty messages.
pub const MESSAGE_OVERHEAD_BYTES: u64 = 64;

/// Longest `max_age_ms` of a stream: one year.
pub const STREAM_MAX_AGE_MS_MAX: u64 = 365 * 24 * 3_600 * 1_000;

/// Longest duplicate window: one day. Message ids are remembered this long at most.
pub const DUPLICATE_WINDOW_MS_MAX: u64 = 24 * 3_600 * 1_000;

/// The duplicate window of a stream that does not set one: two minutes, as in NATS JetStream.
pub const DUPLICATE_WINDOW_MS_DEFAULT: u64 = 120_000;

/// Message ids one stream remembers for deduplication. Beyond this, the oldest are forgotten before
/// their window ends (a retry of one of them would be stored again).
pub const DEDUPE_IDS_PER_STREAM_MAX: usize = 100_000;

/// Bytes in a message payload (after base64 decoding; JSON payloads count their canonical text).
/// 64 KiB fits structured messages between agents; bulk data belongs in a blob store, referenced.
pub const PAYLOAD_BYTES_MAX: usize = 64 * 1024;

/// Levels of arrays and objects a JSON payload may nest, ephemeral or durable alike: deep enough for
/// any structured message, shallow enough that no parser along the way (the server's, the
/// receivers') runs out of stack.
pub const PAYLOAD_NESTING_MAX: usize = 64;

/// Headers on one message.
pub const HEADERS_PER_MESSAGE_MAX: usize = 32;

/// Bytes in one header value.
pub const HEADER_VALUE_BYTES_MAX: usize = 1_024;

/// Consumers one stream may have.
pub const CONSUMERS_PER_STREAM_MAX: usize = 256;

/// Agents and roles together one consumer's access list names: enough for a team, small enough that
/// a consumer stays a small record.
pub const CONSUMER_MEMBERS_MAX: usize = 64;

/// Shortest ack wait: below a second, ordinary processing jitter would cause redeliveries.
pub const ACK_WAIT_MS_MIN: u64 = 1_000;

/// Longest ack wait (and backoff step, and nak delay): twelve hours.
pub const ACK_WAIT_MS_MAX: u64 = 12 * 3_600 * 1_000;

/// The ack wait of a consumer that does not set one: thirty seconds, as in NATS JetStream.
pub const ACK_WAIT_MS_DEFAULT: u64 = 30_000;

/// Largest `max_deliver`.
pub const MAX_DELIVER_MAX: u32 = 1_000;

/// The `max_deliver` of a consumer that does not set one.
pub const MAX_DELIVER_DEFAULT: u32 = 5;

/// Steps in a consumer's backoff list.
pub const BACKOFF_STEPS_MAX: usize = 16;

/// Largest `max_ack_pending`: a fetch scans a consumer's pending deliveries for redeliveries, so this
/// also bounds the work of one fetch.
pub const MAX_ACK_PENDING_MAX: u32 = 10_000;

/// The `max_ack_pending` of a consumer that does not set one.
pub const MAX_ACK_PENDING_DEFAULT: u32 = 1_000;

/// Messages one fetch may return.
pub const FETCH_BATCH_MAX: u32 = 256;

/// Bytes of messages (as `size_bytes` counts them) all the fetches of one envelope may return
/// together. An envelope's answer is built in memory before it is sent, so without this a 16 KiB
/// envelope of 10,000 fetches could ask for 10,000 × 256 messages of 64 KiB: 160 GiB. A fetch that
/// reaches the limit returns what fits (at least one message while the envelope has any budget
/// left) and leaves the rest for the next fetch; 8 MiB keeps any answer a few megabytes.
pub const FETCH_BYTES_PER_ENVELOPE_MAX: u64 = 8 << 20;

/// Stored messages one fetch examines for new deliveries. Messages that do not match the filter are
/// skipped (the cursor moves past them), so a sparse filter needs several fetches, not one long one.
pub const FETCH_SCAN_MAX: usize = 10_000;

/// Sequences in one `consumer.ack`.
pub const ACK_SEQUENCES_MAX: usize = 1_000;

/// Dead letters one stream keeps. Beyond this the oldest are dropped (and counted).
pub const DEAD_LETTERS_PER_STREAM_MAX: usize = 10_000;

/// Dead letters one `dlq.replay` or `dlq.discard` names.
pub const DEAD_LETTERS_PER_COMMAND_MAX: usize = 1_000;

/// Bus expiries (ack deadlines, aged messages) processed by one entry; like liveness expiries, the
/// rest wait for the next entry.
pub const BUS_EXPIRIES_PER_ENTRY_MAX: usize = 10_000;

const _: () = assert!(OPEN_ESCROWS_MAX <= ESCROWS_RETAINED_MAX);
const _: () =
    assert!(ESCROW_TIMEOUT_MS_MIN <= ESCROW_TIMEOUT_MS_DEFAULT && ESCROW_TIMEOUT_MS_DEFAULT <= ESCROW_TIMEOUT_MS_MAX);
const _: () = assert!(AGENTS_MAX as u64 * AGENT_WEIGHT_MAX as u64 <= i64::MAX as u64);
const _: () = assert!(HEARTBEAT_TTL_MS_MIN < HEARTBEAT_TTL_MS_MAX);
const _: () = assert!(REPLAY_WINDOW_NONCES >= 1);
const _: () = assert!(AGENT_ID_BYTES_MAX <= NAME_BYTES_MAX);
const _: () = assert!(STREAM_BYTES_DEFAULT <= STREAM_BYTES_MAX && STREAM_BYTES_MAX <= BUS_BYTES_MAX);
const _: () = assert!(ACK_WAIT_MS_MIN <= ACK_WAIT_MS_DEFAULT && ACK_WAIT_MS_DEFAULT <= ACK_WAIT_MS_MAX);
const _: () = assert!(1 <= MAX_DELIVER_DEFAULT && MAX_DELIVER_DEFAULT <= MAX_DELIVER_MAX);
const _: () = assert!(1 <= MAX_ACK_PENDING_DEFAULT && MAX_ACK_PENDING_DEFAULT <= MAX_ACK_PENDING_MAX);
const _: () = assert!(DUPLICATE_WINDOW_MS_DEFAULT <= DUPLICATE_WINDOW_MS_MAX);
const _: () = assert!(PAYLOAD_BYTES_MAX as u64 + MESSAGE_OVERHEAD_BYTES <= STREAM_BYTES_DEFAULT);
const _: () = assert!(STREAM_BYTES_MAX <= STREAM_BYTES_PER_AGENT_MAX && STREAMS_PER_AGENT_MAX <= STREAMS_MAX);

// ----- The task market -----

/// Tasks not yet ended, swarm-wide. Each holds its terms (up to [`TASK_PAYLOAD_BYTES_MAX`] inline)
/// and its bids; 100,000 of them with a hundred bids each stay within a few GB.
pub const OPEN_TASKS_MAX: usize = 100_000;

/// Tasks not yet ended, per manager, so that one agent cannot take every slot of [`OPEN_TASKS_MAX`]:
/// a hundred funded managers are needed to fill it. Announcing also needs the paying wallet's
/// balance to cover the `max_cost` of its tasks not yet awarded, so slots cost money to hold.
pub const OPEN_TASKS_PER_MANAGER_MAX: usize = 1_000;

/// Ended tasks kept for reading (results, history); the oldest are forgotten beyond this, and their
/// task ids become free again.
pub const TASKS_RETAINED_MAX: usize = 200_000;

/// Live bids on one task: the award ranks them all, in one entry.
pub const BIDS_PER_TASK_MAX: usize = 1_000;

/// Live bids per bidder, so that one agent cannot fill [`LIVE_BIDS_MAX`]: two thousand agents are
/// needed, and registrations are paced (`registration_interval_ms`). A worker rarely has a use for
/// more than a thousand offers out at once.
pub const LIVE_BIDS_PER_AGENT_MAX: usize = 1_000;

/// Live bids swarm-wide (about 150 bytes each in memory).
pub const LIVE_BIDS_MAX: usize = 2_000_000;

/// Bytes of a task's inline payload (canonical JSON); larger inputs go by reference and digest.
pub const TASK_PAYLOAD_BYTES_MAX: usize = 4_096;

/// Bytes of a task's inline result (canonical JSON); larger results go by reference and digest.
pub const TASK_RESULT_BYTES_MAX: usize = 4_096;

/// Bytes of a content reference's URI.
pub const TASK_REFERENCE_BYTES_MAX: usize = 512;

/// Task kinds a swarm may configure.
pub const TASK_KINDS_MAX: usize = 64;

/// Capabilities a task may require.
pub const REQUIRED_CAPABILITIES_MAX: usize = 16;

/// Dependencies one task may declare.
pub const DEPENDENCIES_PER_TASK_MAX: usize = 32;

/// Agents one task may invite.
pub const INVITED_PER_TASK_MAX: usize = 100;

/// The longest a task's work may take from its award (30 days).
pub const TASK_DEADLINE_MS_MAX: u64 = 30 * 24 * 3_600 * 1_000;

/// The default bidding window (seed 000's two seconds).
pub const BID_WINDOW_MS_DEFAULT: u64 = 2_000;

/// The longest bidding window (one day).
pub const BID_WINDOW_MS_MAX: u64 = 24 * 3_600 * 1_000;

/// The default time a verifier has to score a result (one hour).
pub const VERIFY_WINDOW_MS_DEFAULT: u64 = 3_600 * 1_000;

/// The longest time a verifier may be given (seven days).
pub const VERIFY_WINDOW_MS_MAX: u64 = 7 * 24 * 3_600 * 1_000;

/// A task's escrow times out this long after its deadline and verification window, so that the
/// market's own deadlines always settle it first, even when they pile up.
pub const TASK_ESCROW_GRACE_MS: u64 = 24 * 3_600 * 1_000;

/// The most retries a task may ask for.
pub const TASK_RETRIES_MAX: u32 = 10;

/// Awards of one task in all (declines included), bounding its history.
pub const ATTEMPTS_PER_TASK_MAX: usize = 64;

/// Bidding rounds of one task.
pub const BID_ROUNDS_PER_TASK_MAX: usize = 16;

/// Market deadlines (window closes, late work, unscored results) handled in one entry; the rest
/// in the next. Each award ranks at most [`BIDS_PER_TASK_MAX`] bids.
pub const TASK_DEADLINES_PER_ENTRY_MAX: usize = 10_000;

/// Bids the market's deadlines rank in one entry, at least one award's: 10,000 auctions of 100 bids
/// closing at once are awarded over ten entries rather than one long one.
pub const AWARD_BIDS_PER_ENTRY_MAX: usize = 100_000;

// ----- Direct assignment and batches -----

/// A task's load unless it says otherwise: one unit, one ordinary task.
pub const TASK_LOAD_DEFAULT: u32 = 1;

/// The heaviest load one task may declare: a hundred ordinary tasks' worth. Heavier work is better
/// split (`task.announce_batch`) than held by one agent.
pub const TASK_LOAD_MAX: u32 = 100;

/// An agent's capacity until it declares its own: eight units, eight ordinary tasks at once, about
/// what one worker process runs side by side (a few per core on a small machine) without its deadlines
/// slipping. A busier agent says so with `task.capacity`.
pub const AGENT_CAPACITY_DEFAULT: u32 = 8;

/// The largest capacity an agent may declare: a hundred of the heaviest tasks at once. The number
/// only orders work, so its bound only keeps sums small; it reserves nothing.
pub const AGENT_CAPACITY_MAX: u32 = 10_000;

/// Queued direct tasks one entry looks at; the rest wait for the next entry (written at once, since
/// they are due). A look ranks up to every agent of the swarm, so this bounds an entry's work.
pub const ASSIGNMENTS_PER_ENTRY_MAX: usize = 1_000;

/// Agents one entry examines for queued direct tasks, in all; a task whose turn comes after the
/// budget is spent waits for the next entry. The first task of an entry is always looked at, so one
/// task always progresses; it looks at no more than [`ASSIGNMENT_CANDIDATES_PER_TASK_MAX`] agents
/// besides its manager's affinities.
pub const ASSIGNMENT_CANDIDATES_PER_ENTRY_MAX: usize = 200_000;

/// Agents one direct task (or one batch's planning) examines, besides the manager's affinities for
/// its kind (at most [`AFFINITIES_PER_MANAGER_MAX`], always looked at). A task requiring capabilities
/// walks the holders of the rarest one, a task requiring none every live agent; past this many, it
/// walks a window of this many that starts after the agent last assigned directly, so the work of
/// ranking a crowd is spread over tasks. Ten thousand keep one task's look within a few milliseconds,
/// and give a task the best of a population large enough that being best of the whole swarm would
/// rarely be worth more.
pub const ASSIGNMENT_CANDIDATES_PER_TASK_MAX: usize = 10_000;

/// Agents the commands of one envelope may examine in all, looking for agents to plan batches with
/// (`task.announce_batch`); a command whose look the rest cannot pay for in full is refused. As many
/// as one assignment pass examines, so an entry costs at most two passes' worth of looks, however many
/// commands it carries, and at least one batch's look always fits.
pub const ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX: usize = ASSIGNMENT_CANDIDATES_PER_ENTRY_MAX;

/// Affinities (a worker completed a task of a kind for a manager) kept per manager: enough for a
/// team's every worker across its kinds; past it, the manager's affinity renewed longest ago is
/// forgotten.
pub const AFFINITIES_PER_MANAGER_MAX: u32 = 1_000;

/// Affinities kept in all: a hundred managers at [`AFFINITIES_PER_MANAGER_MAX`]. Each names two
/// agents and a kind and is indexed three ways (about a kilobyte at the longest ids and names, a few
/// hundred bytes at typical ones), so the swarm's whole memory of who did what for whom stays within
/// 100 MB at worst, tens of MB in practice, however many managers come and go;
/// past it, the affinity renewed longest ago is forgotten (see `market/affinities.rs` for why not
/// the newest).
pub const AFFINITIES_MAX: usize = 100_000;

/// Items per batch unless asked otherwise (seed 004's `BatchCoordinator`).
pub const BATCH_SIZE_DEFAULT: u32 = 100;

/// The largest batch: its items are split over at most [`BATCH_AGENTS_MAX`] agents.
pub const BATCH_SIZE_MAX: u32 = 10_000;

/// Items one `task.announce_batch` may announce (by reference; inline items are bounded by the
/// envelope's size first).
pub const BATCH_ITEMS_MAX: u32 = 1_000_000;

/// Agents one batch may be split over.
pub const BATCH_AGENTS_MAX: u32 = 100;

/// Chunks (tasks) one `task.announce_batch` may create: each is a task and an escrow lock, made in
/// one entry, so a thousand keep that entry within a few milliseconds.
pub const BATCH_CHUNKS_MAX: usize = 1_000;

const _: () = assert!(TASK_LOAD_DEFAULT <= TASK_LOAD_MAX && TASK_LOAD_MAX <= AGENT_CAPACITY_MAX);
const _: () = assert!(TASK_LOAD_DEFAULT <= AGENT_CAPACITY_DEFAULT && AGENT_CAPACITY_DEFAULT <= AGENT_CAPACITY_MAX);
const _: () = assert!(1 <= BATCH_SIZE_DEFAULT && BATCH_SIZE_DEFAULT <= BATCH_SIZE_MAX);
const _: () = assert!(BATCH_CHUNKS_MAX <= OPEN_TASKS_PER_MANAGER_MAX);
const _: () = assert!(
    ASSIGNMENT_CANDIDATES_PER_TASK_MAX + AFFINITIES_PER_MANAGER_MAX as usize <= ASSIGNMENT_CANDIDATES_PER_ENTRY_MAX,
    "one task's look fits in an entry's budget"
);
const _: () = assert!(
    ASSIGNMENT_CANDIDATES_PER_TASK_MAX + AFFINITIES_PER_MANAGER_MAX as usize <= ASSIGNMENT_CANDIDATES_PER_ENVELOPE_MAX,
    "one batch's look always fits in an envelope"
);
const _: () = assert!(AFFINITIES_PER_MANAGER_MAX as usize <= AFFINITIES_MAX);

const _: () = assert!(AWARD_BIDS_PER_ENTRY_MAX >= BIDS_PER_TASK_MAX, "one award always fits in an entry");
const _: () = assert!(
    TASK_DEADLINE_MS_MAX + VERIFY_WINDOW_MS_MAX + TASK_ESCROW_GRACE_MS <= ESCROW_TIMEOUT_MS_MAX,
    "a task's escrow timeout is a valid escrow timeout"
);
const _: () = assert!(OPEN_TASKS_PER_MANAGER_MAX <= OPEN_TASKS_MAX);
const _: () = assert!(LIVE_BIDS_PER_AGENT_MAX <= LIVE_BIDS_MAX);
const _: () = assert!(BID_ROUNDS_PER_TASK_MAX <= ATTEMPTS_PER_TASK_MAX);

/// Options of one vote (approval, quadratic, ranked choice, weighted split). Instant runoff takes
/// up to one round per option and walks every ranking each round, so its work grows with the square
/// of this; a ballot names each option at most once, so it also bounds a ballot's length.
pub const TALLY_OPTIONS_MAX: u32 = 256;

// ----- Governance -----

/// Voters in one proposal's electorate. The electorate and each voter's weight are frozen at creation
/// and kept with the proposal (about 100 bytes a voter), and closing a proposal tallies every ballot
/// in one entry; ten thousand voters keep a proposal within a megabyte and a close within a
/// millisecond or so, and far exceed any committee a swarm votes in. A larger body votes through
/// delegates, or by roles narrow enough to fit.
pub const ELECTORATE_MAX: usize = 10_000;

/// Proposals open at once per proposer, so that one agent cannot take every slot of
/// [`OPEN_PROPOSALS_MAX`] or flood every voter with questions: eight questions before the swarm at
/// once is more than any one voice needs.
pub const OPEN_PROPOSALS_PER_PROPOSER_MAX: usize = 8;

/// Proposals open at once, swarm-wide: each holds its frozen electorate (up to [`ELECTORATE_MAX`]
/// voters) and ballots, so 256 of them bound governance's open state to a few hundred megabytes at the
/// very worst, and thirty-two proposers at the per-proposer limit are needed to fill it.
pub const OPEN_PROPOSALS_MAX: usize = 256;

/// Ended proposals (closed or cancelled) kept for reading; the oldest are forgotten beyond this. A
/// forgotten proposal's seal stays folded into the chain head, and its decision in the log and the
/// event stream.
pub const PROPOSALS_RETAINED_MAX: usize = 256;

/// Bytes of a proposal's title: one line, for lists and events.
pub const PROPOSAL_TITLE_BYTES_MAX: usize = 256;

/// Bytes of a proposal's description: a few paragraphs kept with the proposal in state; longer
/// documents go by reference (a URI and digest written into it).
pub const PROPOSAL_DESCRIPTION_BYTES_MAX: usize = 4_096;

/// The longest a proposal may stay open (30 days of log time, like a task's deadline), so that an
/// abandoned question does not hold its slot and its electorate forever.
pub const PROPOSAL_VOTING_MS_MAX: u64 = 30 * 24 * 3_600 * 1_000;

/// Agents who may veto one proposal: a veto is a single agent overruling the electorate, so the
/// holders are a short, named list.
pub const VETO_HOLDERS_MAX: usize = 16;

/// Proposals closed by their deadline in one entry; the rest close in the next entries (due at once,
/// so the driver writes them without waiting). Each close tallies up to [`ELECTORATE_MAX`] ballots
/// (and a ranked choice up to [`TALLY_OPTIONS_MAX`] rounds), so 64 bound an entry's closing work to
/// well under a million ballots counted even when every open proposal shares one deadline.
pub const PROPOSAL_CLOSES_PER_ENTRY_MAX: usize = 64;

/// Voters the commands of one envelope may draw into electorates by role or of every active agent:
/// ten full electorates. Each is walked from an index of active agents by role, never the registry,
/// and refused before the walk when too large; this bounds what an envelope of creates and cancels
/// could make one entry walk and copy.
pub const ELECTORATE_SCAN_PER_ENVELOPE_MAX: usize = 10 * ELECTORATE_MAX;

const _: () = assert!(OPEN_PROPOSALS_PER_PROPOSER_MAX <= OPEN_PROPOSALS_MAX);
const _: () = assert!(ELECTORATE_MAX as u64 * AGENT_WEIGHT_MAX as u64 <= u64::MAX / 2, "an electorate's weight fits");
const _: () = assert!(ELECTORATE_MAX <= u32::MAX as usize, "voters are numbered by u32");

/// Bytes of a pheromone trail's key. Seed 000's keys name a symbol, a side and a pattern
/// (`BTC:long:momentum`), seed 003's a task and what happened to it: 128 bytes hold those with room
/// for a namespace, and keep a full map's keys ([`PHEROMONE_KEYS_PER_MAP_MAX`]) near a megabyte.
pub const SIGNAL_KEY_BYTES_MAX: usize = 128;

/// Pheromone maps one signer may hold at once. A map is a shared environment for a whole team, not a
/// per-agent scratchpad; sixteen are a map per strategy or work queue, and the bound keeps one signer
/// from holding more than a small share of [`PHEROMONE_KEYS_MAX`] through maps of its own.
pub const PHEROMONE_MAPS_PER_SIGNER_MAX: usize = 16;

/// Trails in one map. A top-N read of a multiplicative map walks an index, but a linear map's top-N
/// and a map's deletion walk every trail, so a map stays small enough to walk in one read: 10,000
/// trails, each well under 200 bytes.
pub const PHEROMONE_KEYS_PER_MAP_MAX: usize = 10_000;

/// Trails one signer may have opened (deposited first on a key that had no trail), in all maps, until
/// they fade and are pruned. Below [`PHEROMONE_KEYS_PER_MAP_MAX`] so that one hostile depositor
/// cannot fill a shared map: ten such signers would be needed, and each is a registered agent.
pub const PHEROMONE_KEYS_PER_SIGNER_MAX: usize = 1_000;

/// Trails in all maps: the bound on stigmergy's memory (a few hundred MB at most).
pub const PHEROMONE_KEYS_MAX: usize = 1_000_000;

/// Agents a map may name as its depositors: a team, named; larger groups use every registered agent.
pub const PHEROMONE_DEPOSITORS_MAX: usize = 256;

/// Trails a conditional deposit may name as absent (`unless_present`). A claim names its own
/// `claimed` trail and the task's `completed` one; eight leave room for any state a seed names,
/// and keep the check a few lookups.
pub const PHEROMONE_UNLESS_KEYS_MAX: usize = 8;

const _: () = assert!(PHEROMONE_KEYS_PER_SIGNER_MAX < PHEROMONE_KEYS_PER_MAP_MAX);
const _: () = assert!(PHEROMONE_KEYS_PER_MAP_MAX <= PHEROMONE_KEYS_MAX);
const _: () = assert!(PHEROMONE_KEYS_PER_MAP_MAX <= u32::MAX as usize, "trails are counted by u32");
/// Commands in one proposal's action: an action is a reviewable decision (a mint and a configuration
/// change, say), voted on as a whole, so a handful suffices; and the close that runs it holds the
/// writer, which must stay short whatever the proposer asked for.
pub const ACTION_COMMANDS_MAX: usize = 8;

/// Bytes of a proposal's action in its stored (postcard) encoding. The action is kept in state with the
/// proposal until it is forgotten, so [`OPEN_PROPOSALS_MAX`] and [`PROPOSALS_RETAINED_MAX`] times this
/// bound what actions may hold (8 MiB); 16 KiB takes a whole swarm configuration with room to spare.
pub const ACTION_BYTES_MAX: usize = 16 * 1_024;

/// Command kinds the configuration may name as guarded: at most every kind there is.
pub const GUARDED_KINDS_MAX: usize = 64;

/// The shortest lease. Each lease's deadline makes the driver write a tick entry when nobody else
/// writes, so a second keeps one holder's leases from asking for more than a few entries a second;
/// shorter leases would not survive a heartbeat's round trip anyway.
pub const LEASE_TTL_MIN_MS: u64 = 1_000;

/// The longest lease: a day. A lease is a promise to stay alive; one held longer belongs in the
/// registry's liveness, and its locks would outlive any holder that crashed without a heartbeat TTL.
pub const LEASE_TTL_MAX_MS: u64 = 86_400_000;

/// Leases one signer holds at once: one per worker loop or resource group of an agent, with room.
/// The bound keeps a hostile self-registered agent's leases (and through [`LOCKS_PER_LEASE_MAX`] its
/// locks) a small share of [`LEASES_MAX`], and bounds what its silence ends in one pass.
pub const LEASES_PER_HOLDER_MAX: usize = 64;

/// Leases in all: the bound on coordination's lease memory (each a few hundred bytes with its locks'
/// names), 25 MB or so.
pub const LEASES_MAX: usize = 100_000;

/// Locks one lease holds or waits for: a transaction's worth of resources. With
/// [`LEASES_PER_HOLDER_MAX`] this bounds one holder at 1,024 locks, and a lease's end at that many
/// releases and handovers.
pub const LOCKS_PER_LEASE_MAX: usize = 16;

/// Locks held or awaited in all (a lock nobody uses has no record): the bound on lock records.
pub const LOCKS_MAX: usize = 100_000;

/// Permits of one semaphore: its holders, each a place on a lease listed in the semaphore's view.
/// 4,096 covers a pool of workers for a large swarm; a bound beyond that is a semaphore that never
/// refuses anyone, and its view would no longer be one small read.
pub const SEMAPHORE_PERMITS_MAX: u32 = 4_096;

/// Waiters queued for one lock. A release hands the lock over to the head of its queue in the same
/// entry, granting at most this many shared waiters at once; 64 waiters is a contended resource,
/// more is a design asking for a work queue.
pub const LOCK_QUEUE_MAX: usize = 64;

/// Queue places one signer takes in all locks. Below [`LOCK_QUEUE_MAX`] so that one hostile agent
/// cannot fill a lock's queue alone (one place per lock and signer), and small so the wait-for
/// graph's edges out of one agent stay few.
pub const LOCK_WAITS_PER_HOLDER_MAX: usize = 16;

/// Steps each of a deadlock check's two walks of the wait-for graph may take: back from the agent
/// asking to wait (each lock it holds or awaits, each waiter behind it, and so on), then, only if that
/// runs out, forward from the awaited lock's holders and queue (each lock they wait for and its holders
/// and earlier waiters). The wait is refused with `limit_reached` only when both run out. 4,096 cover
/// cycles through every agent of a team of hundreds while bounding an acquire's work to a few thousand
/// map lookups.
pub const DEADLOCK_WALK_EDGES_MAX: usize = 4_096;

/// Leases ended by their deadline in one entry, and, as a second budget, leases ended by their
/// holders' silence (the liveness pass stops before the agent whose leases would pass it, and one
/// agent's [`LEASES_PER_HOLDER_MAX`] always fits); the rest end in the next entries, due at once, so a
/// crowd of agents falling silent together cannot stall the writer. Each end releases at most
/// [`LOCKS_PER_LEASE_MAX`] locks, each handing over to at most [`LOCK_QUEUE_MAX`] waiters, and breaks
/// at most [`BARRIER_ARRIVALS_PER_LEASE_MAX`] barriers of at most [`BARRIER_PARTIES_MAX`] arrivals, so
/// an entry's expiry work stays near a million steps at the worst.
pub const LEASE_EXPIRIES_PER_ENTRY_MAX: usize = 1_000;

const _: () = assert!(LEASE_TTL_MIN_MS < LEASE_TTL_MAX_MS);
const _: () = assert!(LEASES_PER_HOLDER_MAX <= LEASES_MAX);
const _: () = assert!(LEASES_PER_HOLDER_MAX <= LEASE_EXPIRIES_PER_ENTRY_MAX);
const _: () = assert!(LOCK_WAITS_PER_HOLDER_MAX < LOCK_QUEUE_MAX);

/// Parties of one barrier. A trip or a break touches every waiting party's lease, so this bounds the
/// work of one arrival or one lease's end; 256 agents meeting at once is a large phase of a swarm,
/// and a larger one meets in groups (a barrier per group, then one of the groups' leaders).
pub const BARRIER_PARTIES_MAX: u32 = 256;

/// Barriers one signer has made. A barrier costs memory until removed, and 16 phases in flight is
/// plenty for one coordinator; the bound keeps a hostile agent's barriers a small share of
/// [`BARRIERS_MAX`].
pub const BARRIERS_PER_CREATOR_MAX: usize = 16;

/// Barriers in all: the bound on barrier records. Each holds at most [`BARRIER_PARTIES_MAX`] members and
/// as many arrivals, some 50 KB when both are full of the longest ids, so 2,048 keep barriers under
/// 100 MB at the very worst; it takes 128 creators' whole quotas to fill them.
pub const BARRIERS_MAX: usize = 2_048;

/// Barriers one lease waits at. A party waits at one barrier at a time in the usual case; four leave
/// room for nested phases while keeping the barriers one lease's end breaks (and so one agent's
/// silence) small.
pub const BARRIER_ARRIVALS_PER_LEASE_MAX: usize = 4;

/// The shortest barrier timeout: each waiting generation's deadline makes the driver write a tick when
/// nobody else writes, as a lease's does (see [`LEASE_TTL_MIN_MS`]).
pub const BARRIER_TIMEOUT_MIN_MS: u64 = 1_000;

/// The longest barrier timeout: a day, as a lease's TTL. Parties that meet further apart do not wait.
pub const BARRIER_TIMEOUT_MAX_MS: u64 = 86_400_000;

/// Generations broken by their timeout in one entry; the rest break in the next entries, due at once.
/// Each break touches at most [`BARRIER_PARTIES_MAX`] leases, so 256 keep an entry's work near 65,000
/// steps.
pub const BARRIER_BREAKS_PER_ENTRY_MAX: usize = 256;

const _: () = assert!(BARRIER_TIMEOUT_MIN_MS < BARRIER_TIMEOUT_MAX_MS);
const _: () = assert!(BARRIERS_PER_CREATOR_MAX <= BARRIERS_MAX);

/// Jurors on one jury. A dispute is judged by a sample of the active agents, not the whole swarm:
/// 101 independent jurors decide as well as ten thousand, keep each jury's electorate (and its seal)
/// small, and an odd count avoids ties among jurors who all vote one option each.
pub const JURY_SIZE_MAX: u32 = 101;

/// Places in the registry a dispute draws to fill its jury (or, when no more agents are available,
/// all of them, shuffled): enough to fill [`JURY_SIZE_MAX`] seats after skipping the parties and their
/// families (a parent with many children is skipped child by child), bounded so a dispute costs a
/// fixed draw; charged to the envelope's electorate scan.
pub const JURY_CANDIDATES_SCANNED_MAX: usize = 4 * JURY_SIZE_MAX as usize;

/// Juries one agent's disputes may hold open at once. Every jury asks up to [`JURY_SIZE_MAX`] agents to
/// vote and takes a place among [`OPEN_PROPOSALS_MAX`]; four are as many disputes as an honest agent
/// has at once, and keep one hostile party (locking escrows to itself through a child, say) from
/// flooding the electorate with cases.
pub const OPEN_JURIES_PER_DISPUTER_MAX: usize = 4;

const _: () = assert!(OPEN_JURIES_PER_DISPUTER_MAX <= OPEN_PROPOSALS_MAX);
const _: () = assert!((JURY_SIZE_MAX as usize) <= ELECTORATE_MAX);
const _: () = assert!(JURY_CANDIDATES_SCANNED_MAX <= ELECTORATE_SCAN_PER_ENVELOPE_MAX);

/// Members of one vote-based election: a group that votes together (seed 004's `agents`). Every vote
/// counts the candidate's votes among at most this many, and a round's record stays a few
/// kilobytes.
pub const VOTE_ELECTION_MEMBERS_MAX: usize = 64;

/// Vote-based elections one signer may make and still hold: one per group it runs.
pub const VOTE_ELECTIONS_PER_CREATOR_MAX: usize = 16;

/// Vote-based elections in all. A leader's silence looks through every election for the ones it
/// leads, so this bounds that pass (with the silent agents an entry ends) as well as the memory.
pub const VOTE_ELECTIONS_MAX: usize = 1_024;

/// The shortest round: each open round's deadline makes the driver write a tick when nobody else
/// writes, as a lease's does (see [`LEASE_TTL_MIN_MS`]).
pub const VOTE_ROUND_TIMEOUT_MIN_MS: u64 = 1_000;

/// The longest round: an hour. Members that have not voted by then are not coming; a new round
/// counts the members healthy by then.
pub const VOTE_ROUND_TIMEOUT_MAX_MS: u64 = 3_600_000;

/// Rounds failed by their timeout in one entry; the rest fail in the next entries, due at once.
/// Each failure is a constant amount of work.
pub const VOTE_ROUND_FAILURES_PER_ENTRY_MAX: usize = 1_000;

/// Bytes of a key in the shared key-value store. Keys name a piece of shared state with a path
/// (`pipeline/stage-2/config`), not data; 256 bytes hold any such path and keep a namespace's keys
/// ([`KV_KEYS_PER_NAMESPACE_MAX`]) a few megabytes at most.
pub const KV_KEY_BYTES_MAX: usize = 256;

/// Bytes of one value (its canonical JSON text). The store holds coordination state (a
/// configuration, a checkpoint's position, a plan), read whole and replaced whole under
/// compare-and-swap; a larger document belongs in a stream, or referenced by its digest.
pub const KV_VALUE_BYTES_MAX: usize = 16 * 1024;

/// What one stored key costs beyond its key and value bytes, in the byte counts the limits read:
/// its version, revisions, writer and indexes. So a flood of empty values is bounded by bytes too.
pub const KV_ENTRY_OVERHEAD_BYTES: u64 = 64;

/// Keys in one namespace. Ten thousand are every agent of a large swarm with a record each; a range
/// read pages through them.
pub const KV_KEYS_PER_NAMESPACE_MAX: usize = 10_000;

/// Bytes stored in one namespace (keys, values and [`KV_ENTRY_OVERHEAD_BYTES`] each). Sixteen
/// megabytes is a large shared configuration; one namespace is one team's, not the swarm's memory.
pub const KV_NAMESPACE_BYTES_MAX: u64 = 16 * 1024 * 1024;

/// Namespaces one signer may create and still hold: one per team or pipeline it runs.
pub const KV_NAMESPACES_PER_SIGNER_MAX: usize = 16;

/// Namespaces in the swarm. Each carries its access lists and indexes; four thousand are a
/// namespace for every sixteen agents of a swarm of 65,536.
pub const KV_NAMESPACES_MAX: usize = 4_096;

/// Bytes of stored keys whose last writer is one signer, across every namespace. A namespace open to
/// every registered writer is otherwise one hostile agent's to fill; a quarter of a namespace's
/// bound leaves the rest to the others.
pub const KV_BYTES_PER_SIGNER_MAX: u64 = 4 * 1024 * 1024;

/// Keys of the shared store that live with one lease (a service's registration, its health and
/// its endpoints). With [`LEASES_PER_HOLDER_MAX`] this bounds one holder at 1,024 leased keys, and
/// with [`LEASE_EXPIRIES_PER_ENTRY_MAX`] the deletions one entry's expiries make at 16,000.
pub const KV_KEYS_PER_LEASE_MAX: usize = 16;

/// Keys whose last writer is one signer, across every namespace: a quarter of a namespace, like
/// [`KV_BYTES_PER_SIGNER_MAX`], so that no single writer fills a namespace that others write to.
pub const KV_KEYS_PER_SIGNER_MAX: usize = 2_500;

/// Bytes stored in the key-value store in all: the most it adds to the state that every snapshot
/// copies and every replica holds in memory.
pub const KV_BYTES_MAX: u64 = 512 * 1024 * 1024;

/// Deleted keys a namespace keeps telling watchers about. A watch that resumes from before the
/// oldest one forgotten is told its history is compacted and reads the namespace again, as etcd's
/// watchers do after a compaction; 1,024 deletions cover a watcher's ordinary absence.
pub const KV_TOMBSTONES_PER_NAMESPACE_MAX: usize = 1_024;

/// Agents named in one access list (readers or writers). A longer list is a role's job.
pub const KV_ACCESS_AGENTS_MAX: usize = 256;

const _: () =
    assert!(KV_KEY_BYTES_MAX as u64 + KV_VALUE_BYTES_MAX as u64 + KV_ENTRY_OVERHEAD_BYTES <= KV_BYTES_PER_SIGNER_MAX);
const _: () = assert!(KV_BYTES_PER_SIGNER_MAX < KV_NAMESPACE_BYTES_MAX);
const _: () = assert!(KV_KEYS_PER_SIGNER_MAX < KV_KEYS_PER_NAMESPACE_MAX);
const _: () = assert!(KV_NAMESPACE_BYTES_MAX <= KV_BYTES_MAX);
