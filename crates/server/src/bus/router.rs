//! Ephemeral fan-out: who listens on which subjects, and handing each message to them.
//!
//! Subscriptions sit in a [`SubjectTree`] keyed by their patterns, so a publish costs the matching
//! branches, not the number of subscriptions. Members of a queue group share one entry in the tree
//! and each message goes to one of them, round robin, skipping members whose buffer is full while
//! another has room. Two kinds of subject are private:
//!
//! - `agent.<id>.inbox` (and every subject below it) is delivered only to `<id>` (and the operator),
//!   whatever pattern matched;
//! - `_INBOX.…` (reply subjects of requests) only to the server's own request waiters.

// Problems are built only on the way out of a request, so their size on the error path does not matter.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use colony_core::bus::privacy::check_subscription;
use colony_core::bus::{Pattern, Privacy, REPLY_PREFIX, StoredMessage, Subject, SubjectTree};
use colony_core::{Name, Signer};
use colony_wire::bus::{BusStatsView, SubscriptionView};
use colony_wire::problem::{Problem, ServerCode};
use tokio::sync::Notify;

use super::mailbox::{BusText, ByteBudget, Mailbox, Outgoing};

/// At most this many subscriptions are open on one server, so that subscribing cannot exhaust memory.
pub const SUBSCRIPTIONS_MAX: usize = 100_000;
/// One owner (an agent, the operator, or all read-token readers together) holds at most this many
/// subscriptions, request waiters included, so that no one can take every slot of
/// [`SUBSCRIPTIONS_MAX`].
pub const SUBSCRIPTIONS_PER_OWNER_MAX: usize = 4_096;
/// A subscriber's buffer holds at most this many messages.
pub const BUFFER_MESSAGES_MAX: usize = 65_536;
/// A subscriber's buffer holds this many messages unless it asks otherwise.
pub const BUFFER_MESSAGES_DEFAULT: usize = 4_096;
/// The bytes of distinct messages the bus holds (in buffers and in streams being written) before
/// subscribers that are behind stop getting new ones (see [`ByteBudget`] and [`SubjectRouter::publish`]).
pub const BUFFERED_BYTES_MAX: u64 = 1 << 30;
/// A subscriber whose messages have waited this long without it taking any has stopped reading: its
/// subscription is closed and its buffer given back (event streams; a WebSocket has its own write
/// timeout).
pub const STALLED_READER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// How a subscriber is connected, for the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A server-sent event stream.
    Sse,
    /// A WebSocket connection.
    WebSocket,
    /// The server waiting for a request's reply.
    Request,
    /// A caller inside the process (benchmarks, tests).
    InProcess,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Sse => "sse",
            Transport::WebSocket => "websocket",
            Transport::Request => "request",
            Transport::InProcess => "in_process",
        }
    }
}

/// What a subscription asks for.
#[derive(Clone, Debug)]
pub struct SubscribeRequest {
    /// Who subscribes: `None` for a bearer-token reader, which sees no inbox.
    pub owner: Option<Signer>,
    /// The subject pattern.
    pub pattern: Pattern,
    /// The queue group, if any.
    pub queue: Option<Name>,
    /// Buffer size in messages.
    pub buffer_messages: usize,
    /// How it is connected.
    pub transport: Transport,
}

/// One subscriber.
pub struct Subscriber {
    id: u64,
    owner: Option<Signer>,
    owner_label: String,
    pattern: Pattern,
    queue: Option<Name>,
    transport: Transport,
    mailbox: Mailbox,
    delivered: AtomicU64,
}

impl Subscriber {
    /// The server's id for the subscription.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its buffer.
    pub fn mailbox(&self) -> &Mailbox {
        &self.mailbox
    }

    fn may_receive(&self, privacy: &Privacy) -> bool {
        privacy.admits(self.owner.as_ref(), self.transport == Transport::Request)
    }

    fn deliver(&self, message: &Outgoing) -> u64 {
        self.delivered.fetch_add(1, Ordering::Relaxed);
        self.mailbox.push(Arc::clone(message))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Subscriber(u64),
    Group(u64),
}

struct Group {
    members: Vec<Arc<Subscriber>>,
    cursor: AtomicUsize,
}

impl Group {
    /// The next member allowed to receive, preferring one whose buffer has room.
    fn pick(&self, privacy: &Privacy) -> Option<&Arc<Subscriber>> {
        let count = self.members.len();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut fallback = None;
        for offset in 0..count {
            let member = &self.members[(start + offset) % count];
            if !member.may_receive(privacy) {
                continue;
            }
            if !member.mailbox.is_full() {
                return Some(member);
            }
            fallback.get_or_insert(member);
        }
        fallback
    }
}

#[derive(Default)]
struct Table {
    tree: SubjectTree<Target>,
    subscribers: HashMap<u64, Arc<Subscriber>>,
    groups: HashMap<u64, Group>,
    group_ids: HashMap<(String, Name), u64>,
    /// Subscriptions per owner: `None` is all read-token readers together (a key that no agent id can
    /// collide with).
    per_owner: HashMap<Option<Signer>, usize>,
}

#[derive(Default)]
struct Counters {
    published: AtomicU64,
    delivered: AtomicU64,
    dropped: AtomicU64,
    unmatched: AtomicU64,
}

/// The ephemeral router.
pub struct SubjectRouter {
    table: RwLock<Table>,
    next_id: AtomicU64,
    counters: Counters,
    budget: Arc<ByteBudget>,
}

/// An open subscription; dropping it unsubscribes.
pub struct SubscriptionHandle {
    subscriber: Arc<Subscriber>,
    router: Arc<SubjectRouter>,
}

impl SubscriptionHandle {
    /// The subscriber (its buffer, its id).
    pub fn subscriber(&self) -> &Subscriber {
        &self.subscriber
    }

    /// The subscriber, shared (for a watchdog that outlives a borrow of the handle).
    pub fn subscriber_arc(&self) -> Arc<Subscriber> {
        Arc::clone(&self.subscriber)
    }
}

impl Drop for SubscriptionHandle {
    fn drop(&mut self) {
        self.router.unsubscribe(self.subscriber.id);
    }
}

impl SubjectRouter {
    /// An empty router whose buffers share [`BUFFERED_BYTES_MAX`].
    pub fn new() -> Arc<SubjectRouter> {
        SubjectRouter::with_budget(BUFFERED_BYTES_MAX)
    }

    /// An empty router whose buffers share `bytes_max`.
    pub fn with_budget(bytes_max: u64) -> Arc<SubjectRouter> {
        Arc::new(SubjectRouter {
            table: RwLock::default(),
            next_id: AtomicU64::new(0),
            counters: Counters::default(),
            budget: ByteBudget::new(bytes_max),
        })
    }

    /// Bytes of distinct messages held now (in buffers, and in streams being written).
    pub fn buffered_bytes(&self) -> u64 {
        self.budget.used()
    }

    /// A message's JSON text, charged to the bus's budget for as long as anyone holds it.
    pub fn encode(&self, text: String) -> Outgoing {
        BusText::charged(text, &self.budget)
    }

    /// Hands durable message `message`, stored in stream `stream`, to its subscribers as
    /// [`SubjectRouter::publish`] does. It goes as core's value: the first subscriber that reads it
    /// encodes it (see [`BusText::stored`]), so the caller, the writer thread, does no JSON.
    pub fn publish_stored(&self, stream: Name, message: StoredMessage) -> u64 {
        let subject = message.subject.clone();
        self.publish(&subject, &BusText::stored(stream, message, &self.budget))
    }

    /// Closes subscription `id` and lets go of its buffer (a reader that stopped reading). Its
    /// stream ends the next time it is polled.
    pub fn evict(&self, id: u64) {
        if let Some(subscriber) = self.table.read().expect("router lock").subscribers.get(&id) {
            subscriber.mailbox.close_and_clear();
        }
        self.unsubscribe(id);
    }

    /// Opens a subscription whose buffer wakes `notify`. Refuses private subjects that are not the
    /// subscriber's, and subscriptions beyond the limit.
    pub fn subscribe(
        self: &Arc<SubjectRouter>,
        request: SubscribeRequest,
        notify: Arc<Notify>,
    ) -> Result<SubscriptionHandle, Problem> {
        check_may_subscribe(&request)?;
        let buffer_messages = request.buffer_messages.clamp(1, BUFFER_MESSAGES_MAX);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let subscriber = Arc::new(Subscriber {
            id,
            owner_label: request.owner.as_ref().map_or_else(|| "read-token".to_owned(), ToString::to_string),
            owner: request.owner,
            pattern: request.pattern,
            queue: request.queue,
            transport: request.transport,
            mailbox: Mailbox::new(buffer_messages, notify),
            delivered: AtomicU64::new(0),
        });
        let mut table = self.table.write().expect("router lock");
        if table.subscribers.len() >= SUBSCRIPTIONS_MAX {
            return Err(Problem::new(
                ServerCode::BusLimitReached,
                format!("the server holds its limit of {SUBSCRIPTIONS_MAX} subscriptions"),
            ));
        }
        let owned = table.per_owner.entry(subscriber.owner.clone()).or_default();
        if *owned >= SUBSCRIPTIONS_PER_OWNER_MAX {
            return Err(Problem::new(
                ServerCode::BusLimitReached,
                format!(
                    "{} holds its limit of {SUBSCRIPTIONS_PER_OWNER_MAX} subscriptions (request waiters included)",
                    subscriber.owner_label
                ),
            ));
        }
        *owned += 1;
        table.subscribers.insert(id, Arc::clone(&subscriber));
        match &subscriber.queue {
            None => {
                table.tree.insert(&subscriber.pattern, Target::Subscriber(id));
            }
            Some(queue) => {
                let key = (subscriber.pattern.as_str().to_owned(), queue.clone());
                let group_id = match table.group_ids.get(&key) {
                    Some(group_id) => *group_id,
                    None => {
                        let group_id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                        table.group_ids.insert(key, group_id);
                        table.groups.insert(group_id, Group { members: Vec::new(), cursor: AtomicUsize::new(0) });
                        table.tree.insert(&subscriber.pattern, Target::Group(group_id));
                        group_id
                    }
                };
                table.groups.get_mut(&group_id).expect("group exists").members.push(Arc::clone(&subscriber));
            }
        }
        drop(table);
        Ok(SubscriptionHandle { subscriber, router: Arc::clone(self) })
    }

    fn unsubscribe(&self, id: u64) {
        let mut table = self.table.write().expect("router lock");
        let Some(subscriber) = table.subscribers.remove(&id) else { return };
        subscriber.mailbox.close();
        if let Some(owned) = table.per_owner.get_mut(&subscriber.owner) {
            *owned -= 1;
            if *owned == 0 {
                table.per_owner.remove(&subscriber.owner);
            }
        }
        match &subscriber.queue {
            None => {
                table.tree.remove(&subscriber.pattern, &Target::Subscriber(id));
            }
            Some(queue) => {
                let key = (subscriber.pattern.as_str().to_owned(), queue.clone());
                let group_id = *table.group_ids.get(&key).expect("a member's group exists");
                let group = table.groups.get_mut(&group_id).expect("a member's group exists");
                group.members.retain(|member| member.id != id);
                if group.members.is_empty() {
                    table.groups.remove(&group_id);
                    table.group_ids.remove(&key);
                    table.tree.remove(&subscriber.pattern, &Target::Group(group_id));
                }
            }
        }
    }

    /// Hands `message` (on `subject`) to every matching subscriber and to one member of every
    /// matching queue group. Returns how many received it.
    ///
    /// While the budget is spent, a receiver whose buffer is not empty (a subscriber behind) does not
    /// get the message: it is counted as dropped for it, and reported like any drop. Subscribers that
    /// keep up still get every message. So the bytes held stay within the budget plus at most one
    /// message per subscriber that was keeping up, whatever the publishers do.
    pub fn publish(&self, subject: &Subject, message: &Outgoing) -> u64 {
        let privacy = Privacy::of(subject);
        let spent = self.budget.spent();
        let mut delivered = 0u64;
        let mut dropped = 0u64;
        {
            let table = self.table.read().expect("router lock");
            table.tree.for_each_match(subject, |target| {
                let receiver = match target {
                    Target::Subscriber(id) => {
                        let subscriber = &table.subscribers[id];
                        subscriber.may_receive(&privacy).then_some(subscriber)
                    }
                    Target::Group(id) => table.groups[id].pick(&privacy),
                };
                if let Some(receiver) = receiver {
                    if spent && !receiver.mailbox.is_empty() {
                        receiver.mailbox.skip();
                        dropped += 1;
                        return;
                    }
                    delivered += 1;
                    dropped += receiver.deliver(message);
                }
            });
        }
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        self.counters.delivered.fetch_add(delivered, Ordering::Relaxed);
        if dropped > 0 {
            self.counters.dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        if delivered == 0 {
            self.counters.unmatched.fetch_add(1, Ordering::Relaxed);
        }
        delivered
    }

    /// Whether any subscriber would receive a message on `subject` now.
    pub fn has_receivers(&self, subject: &Subject) -> bool {
        let privacy = Privacy::of(subject);
        let table = self.table.read().expect("router lock");
        let mut found = false;
        table.tree.for_each_match(subject, |target| {
            found |= match target {
                Target::Subscriber(id) => table.subscribers[id].may_receive(&privacy),
                Target::Group(id) => table.groups[id].members.iter().any(|member| member.may_receive(&privacy)),
            };
        });
        found
    }

    /// Counters and every open subscription (for the operator and metrics).
    pub fn stats(&self) -> BusStatsView {
        self.stats_for(None)
    }

    /// Counters, and the open subscriptions `reader` may see: all of them for the operator (`None`
    /// means the server itself), otherwise only the reader's own. A request waiter's subject is never
    /// shown: it is where its reply must come from.
    pub fn stats_for(&self, reader: Option<&Option<Signer>>) -> BusStatsView {
        let table = self.table.read().expect("router lock");
        let visible = |subscriber: &Subscriber| match reader {
            None | Some(Some(Signer::Operator)) => true,
            Some(owner) => subscriber.owner.as_ref() == owner.as_ref(),
        };
        let mut subscriptions: Vec<SubscriptionView> = table
            .subscribers
            .values()
            .filter(|subscriber| visible(subscriber))
            .map(|subscriber| SubscriptionView {
                id: subscriber.id,
                owner: subscriber.owner_label.clone(),
                subject: if subscriber.transport == Transport::Request {
                    format!("{REPLY_PREFIX}.*")
                } else {
                    subscriber.pattern.as_str().to_owned()
                },
                queue: subscriber.queue.as_ref().map(ToString::to_string),
                transport: subscriber.transport.name().to_owned(),
                pending: subscriber.mailbox.pending() as u64,
                capacity: subscriber.mailbox.capacity() as u64,
                delivered: subscriber.delivered.load(Ordering::Relaxed),
                dropped: subscriber.mailbox.dropped_total(),
            })
            .collect();
        subscriptions.sort_by_key(|subscription| subscription.id);
        BusStatsView {
            published: self.counters.published.load(Ordering::Relaxed),
            delivered: self.counters.delivered.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            unmatched: self.counters.unmatched.load(Ordering::Relaxed),
            buffered_bytes: self.budget.used(),
            subscriptions,
        }
    }
}

/// Refuses subscriptions to other agents' inboxes and to reply subjects.
fn check_may_subscribe(request: &SubscribeRequest) -> Result<(), Problem> {
    check_subscription(&request.pattern, request.owner.as_ref(), request.transport == Transport::Request)
        .map_err(|refusal| Problem::new(ServerCode::Forbidden, refusal.to_string()).with_field("subject"))?;
    // A queue group shares work among its members; a bearer-token reader (a dashboard) joining one
    // would silently take a share of the work away from the agents doing it.
    if request.queue.is_some() && request.owner.is_none() {
        return Err(Problem::new(
            ServerCode::Forbidden,
            "only a signed agent or the operator may join a queue group; a read token may subscribe without one",
        )
        .with_field("queue"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use colony_core::AgentId;

    fn agent(id: &str) -> Option<Signer> {
        Some(Signer::Agent(AgentId::new(id).unwrap()))
    }

    fn request(owner: Option<Signer>, pattern: &str, queue: Option<&str>) -> SubscribeRequest {
        SubscribeRequest {
            owner,
            pattern: Pattern::new(pattern).unwrap(),
            queue: queue.map(|queue| Name::new(queue).unwrap()),
            buffer_messages: 16,
            transport: Transport::InProcess,
        }
    }

    fn drain(handle: &SubscriptionHandle) -> Vec<String> {
        let mut out = Vec::new();
        handle.subscriber().mailbox().take(&mut out, usize::MAX);
        out.iter().map(|message| message.to_string()).collect()
    }

    fn publish(router: &SubjectRouter, subject: &str, text: &str) -> u64 {
        router.publish(&Subject::new(subject).unwrap(), &BusText::uncharged(text))
    }

    #[test]
    fn every_matching_subscriber_gets_each_message_and_others_none() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let all = router.subscribe(request(agent("a"), "market.>", None), Arc::clone(&notify)).unwrap();
        let prices = router.subscribe(request(agent("b"), "market.price.*", None), Arc::clone(&notify)).unwrap();
        let risk = router.subscribe(request(agent("c"), "risk.>", None), Arc::clone(&notify)).unwrap();
        assert_eq!(publish(&router, "market.price.aapl", "1"), 2);
        assert_eq!(publish(&router, "market.signal.spread", "2"), 1);
        assert_eq!(drain(&all), vec!["1", "2"]);
        assert_eq!(drain(&prices), vec!["1"]);
        assert!(drain(&risk).is_empty());
        assert_eq!(router.stats().unmatched, 0);
        assert_eq!(publish(&router, "nobody.listens", "3"), 0);
        assert_eq!(router.stats().unmatched, 1);
    }

    #[test]
    fn a_queue_group_shares_messages_evenly_and_each_goes_to_one_member() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let members: Vec<_> = (0..3)
            .map(|index| {
                router
                    .subscribe(request(agent(&format!("x{index}")), "work.>", Some("executors")), Arc::clone(&notify))
                    .unwrap()
            })
            .collect();
        let watcher = router.subscribe(request(agent("w"), "work.>", None), Arc::clone(&notify)).unwrap();
        for index in 0..12 {
            assert_eq!(publish(&router, "work.item", &index.to_string()), 2, "one member plus the watcher");
        }
        let mut seen: Vec<String> = Vec::new();
        for member in &members {
            let got = drain(member);
            assert_eq!(got.len(), 4, "round robin spreads evenly");
            seen.extend(got);
        }
        seen.sort_by_key(|text| text.parse::<u32>().unwrap());
        assert_eq!(seen, (0..12).map(|index| index.to_string()).collect::<Vec<_>>(), "each message exactly once");
        assert_eq!(drain(&watcher).len(), 12);
    }

    #[test]
    fn a_full_member_is_skipped_while_another_has_room() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let mut slow = request(agent("slow"), "jobs", Some("g"));
        slow.buffer_messages = 1;
        let slow = router.subscribe(slow, Arc::clone(&notify)).unwrap();
        let fast = router.subscribe(request(agent("fast"), "jobs", Some("g")), Arc::clone(&notify)).unwrap();
        for index in 0..10 {
            publish(&router, "jobs", &index.to_string());
        }
        assert_eq!(drain(&slow).len(), 1);
        assert_eq!(drain(&fast).len(), 9);
        assert_eq!(router.stats().dropped, 0, "nothing was lost while a member had room");
    }

    #[test]
    fn a_slow_subscriber_drops_its_own_oldest_messages_only() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let mut slow = request(agent("slow"), "ticks", None);
        slow.buffer_messages = 4;
        let slow = router.subscribe(slow, Arc::clone(&notify)).unwrap();
        let fast = router.subscribe(request(agent("fast"), "ticks", None), Arc::clone(&notify)).unwrap();
        for index in 0..10 {
            publish(&router, "ticks", &index.to_string());
            drain(&fast).iter().for_each(|text| assert_eq!(text, &index.to_string()));
        }
        assert_eq!(drain(&slow), vec!["6", "7", "8", "9"]);
        let stats = router.stats();
        assert_eq!(stats.dropped, 6);
        let slow_view = stats.subscriptions.iter().find(|view| view.owner == "slow").unwrap();
        assert_eq!(slow_view.dropped, 6);
        let fast_view = stats.subscriptions.iter().find(|view| view.owner == "fast").unwrap();
        assert_eq!(fast_view.dropped, 0);
    }

    #[test]
    fn inboxes_reach_only_their_agent_and_reply_subjects_only_request_waiters() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let everything = router.subscribe(request(agent("snoop"), ">", None), Arc::clone(&notify)).unwrap();
        let all_inboxes = router.subscribe(request(agent("bob"), "agent.*.inbox", None), Arc::clone(&notify)).unwrap();
        let operator =
            router.subscribe(request(Some(Signer::Operator), "agent.*.inbox", None), notify.clone()).unwrap();
        let token = router.subscribe(request(None, ">", None), Arc::clone(&notify)).unwrap();
        assert_eq!(publish(&router, "agent.bob.inbox", "for bob"), 2, "bob and the operator");
        assert_eq!(drain(&all_inboxes), vec!["for bob"]);
        assert_eq!(drain(&operator), vec!["for bob"]);
        assert!(drain(&everything).is_empty());
        assert!(drain(&token).is_empty());

        let refused = router.subscribe(request(agent("snoop"), "agent.bob.inbox", None), Arc::clone(&notify));
        assert_eq!(refused.err().unwrap().code, ServerCode::Forbidden.code());
        assert!(router.subscribe(request(agent("bob"), "agent.bob.inbox", None), Arc::clone(&notify)).is_ok());
        let refused = router.subscribe(request(agent("snoop"), "_INBOX.>", None), Arc::clone(&notify));
        assert_eq!(refused.err().unwrap().code, ServerCode::Forbidden.code());

        let mut waiter = request(agent("asker"), "_INBOX.abc", None);
        waiter.transport = Transport::Request;
        let waiter = router.subscribe(waiter, Arc::clone(&notify)).unwrap();
        assert_eq!(publish(&router, "_INBOX.abc", "reply"), 1);
        assert_eq!(drain(&waiter), vec!["reply"]);
        assert!(drain(&everything).is_empty(), "a '>' subscriber never sees replies");
    }

    #[test]
    fn subjects_below_an_inbox_are_as_private_as_the_inbox() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let snoop = router.subscribe(request(agent("eve"), ">", None), Arc::clone(&notify)).unwrap();
        let bob = router.subscribe(request(agent("bob"), "agent.bob.inbox.>", None), Arc::clone(&notify)).unwrap();
        assert_eq!(publish(&router, "agent.bob.inbox.orders", "x"), 1);
        assert_eq!(drain(&bob), vec!["x"]);
        assert!(drain(&snoop).is_empty());
        let refused = router.subscribe(request(agent("eve"), "agent.bob.inbox.>", None), Arc::clone(&notify));
        assert_eq!(refused.err().unwrap().code, ServerCode::Forbidden.code());
    }

    #[test]
    fn read_token_readers_may_not_join_queue_groups_and_owners_have_a_quota() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let refused = router.subscribe(request(None, "work.>", Some("executors")), Arc::clone(&notify));
        assert_eq!(refused.err().unwrap().field.as_deref(), Some("queue"));
        let mut held = Vec::new();
        for _ in 0..SUBSCRIPTIONS_PER_OWNER_MAX {
            held.push(router.subscribe(request(agent("greedy"), "a", None), Arc::clone(&notify)).unwrap());
        }
        let over = router.subscribe(request(agent("greedy"), "a", None), Arc::clone(&notify));
        assert_eq!(over.err().unwrap().code, ServerCode::BusLimitReached.code());
        assert!(router.subscribe(request(agent("other"), "a", None), Arc::clone(&notify)).is_ok(), "others still can");
        held.pop();
        assert!(router.subscribe(request(agent("greedy"), "a", None), Arc::clone(&notify)).is_ok(), "a slot came back");
    }

    #[test]
    fn stats_show_readers_their_own_subscriptions_and_never_a_reply_subject() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let _mine = router.subscribe(request(agent("a"), "x", None), Arc::clone(&notify)).unwrap();
        let _theirs = router.subscribe(request(agent("b"), "y", None), Arc::clone(&notify)).unwrap();
        let mut waiter = request(agent("b"), "_INBOX.secret", None);
        waiter.transport = Transport::Request;
        let _waiter = router.subscribe(waiter, Arc::clone(&notify)).unwrap();
        let own = router.stats_for(Some(&agent("a")));
        assert_eq!(own.subscriptions.iter().map(|view| view.subject.as_str()).collect::<Vec<_>>(), vec!["x"]);
        let all = router.stats_for(Some(&Some(Signer::Operator)));
        assert_eq!(all.subscriptions.len(), 3);
        assert!(all.subscriptions.iter().all(|view| !view.subject.contains("secret")), "reply subjects stay hidden");
    }

    #[test]
    fn idle_subscribers_cannot_make_the_bus_hold_more_than_its_budget() {
        // Many subscribers that never read, on one subject and on a subject each, while publishers
        // send 64 KiB messages: the bytes held stay within the budget plus one message per
        // subscriber that was keeping up, and a subscriber that reads still gets everything.
        const BUDGET: u64 = 4 << 20;
        let router = SubjectRouter::with_budget(BUDGET);
        let notify = Arc::new(Notify::new());
        let message_bytes = 64 << 10;
        let idle: Vec<_> = (0..64)
            .flat_map(|index| {
                let shared = router.subscribe(request(agent("idle"), "flood", None), Arc::clone(&notify)).unwrap();
                let own = router
                    .subscribe(request(agent("idle"), &format!("own.{index}"), None), Arc::clone(&notify))
                    .unwrap();
                [shared, own]
            })
            .collect();
        let reader = router.subscribe(request(agent("reader"), "flood", None), Arc::clone(&notify)).unwrap();
        let mut peak = 0;
        for round in 0..200 {
            let text = format!("\"{}{round}\"", "x".repeat(message_bytes));
            assert!(publish_charged(&router, "flood", &text) >= 1);
            for index in 0..64 {
                publish_charged(&router, &format!("own.{index}"), &text);
            }
            peak = peak.max(router.buffered_bytes());
            assert_eq!(drain(&reader).len(), 1, "the subscriber that keeps up gets every message");
        }
        let bound = BUDGET + 129 * (message_bytes as u64 + 16);
        assert!(peak <= bound, "peak {peak} bytes held, bound {bound}");
        assert!(router.stats().dropped > 0, "idle subscribers were told what they missed");
        drop(idle);
        drop(reader);
        assert_eq!(router.buffered_bytes(), 0, "every byte comes back when the subscribers leave");
    }

    fn publish_charged(router: &SubjectRouter, subject: &str, text: &str) -> u64 {
        router.publish(&Subject::new(subject).unwrap(), &router.encode(text.to_owned()))
    }

    #[test]
    fn an_evicted_subscription_gives_its_buffer_back_and_ends() {
        let router = SubjectRouter::with_budget(1 << 20);
        let handle = router.subscribe(request(agent("a"), "x", None), Arc::new(Notify::new())).unwrap();
        publish_charged(&router, "x", "\"hello\"");
        assert!(router.buffered_bytes() > 0);
        router.evict(handle.subscriber().id());
        assert_eq!(router.buffered_bytes(), 0);
        let mut out = Vec::new();
        assert!(handle.subscriber().mailbox().take(&mut out, 10).is_none(), "the reader sees the end");
        assert_eq!(router.stats().subscriptions.len(), 0);
    }

    #[test]
    fn an_agent_named_like_the_read_token_owner_does_not_share_its_quota() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let _tokens: Vec<_> = (0..SUBSCRIPTIONS_PER_OWNER_MAX)
            .map(|_| router.subscribe(request(None, "a", None), Arc::clone(&notify)).unwrap())
            .collect();
        assert!(router.subscribe(request(None, "a", None), Arc::clone(&notify)).is_err());
        let mut waiter = request(agent("asker"), "_INBOX.abc", None);
        waiter.transport = Transport::Request;
        assert!(router.subscribe(waiter, Arc::clone(&notify)).is_ok(), "an agent's quota is its own");
    }

    #[test]
    fn dropping_a_handle_unsubscribes_and_prunes_groups() {
        let router = SubjectRouter::new();
        let notify = Arc::new(Notify::new());
        let one = router.subscribe(request(agent("a"), "a.b", Some("g")), Arc::clone(&notify)).unwrap();
        let two = router.subscribe(request(agent("b"), "a.b", Some("g")), Arc::clone(&notify)).unwrap();
        drop(one);
        assert_eq!(publish(&router, "a.b", "x"), 1);
        assert_eq!(drain(&two), vec!["x"]);
        drop(two);
        assert_eq!(publish(&router, "a.b", "y"), 0);
        let table = router.table.read().unwrap();
        assert!(table.tree.is_empty() && table.groups.is_empty() && table.group_ids.is_empty());
    }
}
