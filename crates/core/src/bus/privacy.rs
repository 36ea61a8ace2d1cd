//! Subjects private to one reader: the one owner of the rule, for the durable streams (which never
//! capture them) and the server's ephemeral fan-out (which delivers them only to their reader).
//!
//! - `agent.<id>.inbox` (and every subject below it) reaches only `<id>` and the operator, whatever
//!   pattern matched it;
//! - `_INBOX.…` (reply subjects of requests) reaches only the server's own request waiters;
//! - `colony.…` is the server's own: what it tells of the state's changes (a pheromone map's deposits
//!   on `colony.pheromone.<map>`), which anyone may read but no agent may publish or store.

use std::fmt;

use super::subject::{Pattern, Subject};
use crate::ids::Signer;

/// The first token of request reply subjects.
pub const REPLY_PREFIX: &str = "_INBOX";

/// The first token of the subjects the server publishes on itself.
pub const SERVER_PREFIX: &str = "colony";

/// The patterns of the private subjects, and of the server's own. No stream may capture a subject
/// they match: private messages are delivered to whoever may listen now and must not be stored for
/// others to read, and the server's must come only from the server.
pub const RESERVED_PATTERNS: [&str; 4] = ["agent.*.inbox", "agent.*.inbox.>", "_INBOX.>", "colony.>"];

/// Whether only the server publishes on `subject` (no agent, and not the operator's envelopes).
pub fn server_only(subject: &Subject) -> bool {
    subject.tokens().next() == Some(SERVER_PREFIX)
}

/// Who may receive a subject.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privacy<'a> {
    /// Anyone who subscribed.
    Public,
    /// `agent.<id>.inbox…`: only `<id>` (and the operator).
    Inbox(&'a str),
    /// `_INBOX.…`: only request waiters.
    Reply,
}

impl Privacy<'_> {
    /// The privacy of a subject.
    pub fn of(subject: &Subject) -> Privacy<'_> {
        let mut tokens = subject.tokens();
        match (tokens.next(), tokens.next(), tokens.next()) {
            (Some(REPLY_PREFIX), ..) => Privacy::Reply,
            (Some("agent"), Some(agent), Some("inbox")) => Privacy::Inbox(agent),
            _ => Privacy::Public,
        }
    }

    /// Whether `reader` (`None`: a bearer-token reader) may receive it; `request_waiter` when the
    /// reader is the server waiting for a request's reply.
    pub fn admits(&self, reader: Option<&Signer>, request_waiter: bool) -> bool {
        match self {
            Privacy::Public => true,
            Privacy::Inbox(agent) => match reader {
                Some(Signer::Operator) => true,
                Some(Signer::Agent(owner)) => owner.as_str() == *agent,
                None => false,
            },
            Privacy::Reply => request_waiter,
        }
    }
}

/// Whether some subject `pattern` matches is private: a stream may not capture it.
pub fn overlaps_private(pattern: &Pattern) -> bool {
    RESERVED_PATTERNS
        .iter()
        .any(|reserved| pattern.overlaps(&Pattern::new(*reserved).expect("reserved patterns are valid")))
}

/// Why a subscription to a pattern is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriptionRefusal {
    /// Reply subjects are only for the server's request waiters.
    ReplySubjects,
    /// An inbox named by id is only for that agent (and the operator).
    OthersInbox {
        /// The inbox's agent, as written in the pattern.
        agent: String,
    },
}

impl fmt::Display for SubscriptionRefusal {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionRefusal::ReplySubjects => {
                write!(formatter, "subjects under {REPLY_PREFIX}. carry replies to requests; use the request endpoint")
            }
            SubscriptionRefusal::OthersInbox { agent } => {
                write!(formatter, "agent.{agent}.inbox is readable only by {agent}")
            }
        }
    }
}

/// Whether `reader` may subscribe to `pattern`. A pattern with a wildcard for the inbox's agent is
/// allowed: delivery still gives each inbox's messages only to its agent ([`Privacy::admits`]).
pub fn check_subscription(
    pattern: &Pattern,
    reader: Option<&Signer>,
    request_waiter: bool,
) -> Result<(), SubscriptionRefusal> {
    let mut tokens = pattern.as_str().split('.');
    let (first, second, third) = (tokens.next(), tokens.next(), tokens.next());
    if first == Some(REPLY_PREFIX) && !request_waiter {
        return Err(SubscriptionRefusal::ReplySubjects);
    }
    if let (Some("agent"), Some(agent), Some("inbox")) = (first, second, third)
        && agent != "*"
        && agent != ">"
    {
        let own = match reader {
            Some(Signer::Operator) => true,
            Some(Signer::Agent(owner)) => owner.as_str() == agent,
            None => false,
        };
        if !own {
            return Err(SubscriptionRefusal::OthersInbox { agent: agent.to_owned() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::AgentId;

    fn agent(id: &str) -> Signer {
        Signer::Agent(AgentId::new(id).unwrap())
    }

    #[test]
    fn inboxes_admit_their_agent_and_the_operator_and_replies_only_waiters() {
        let inbox = Subject::new("agent.scout-1.inbox.task").unwrap();
        let privacy = Privacy::of(&inbox);
        assert_eq!(privacy, Privacy::Inbox("scout-1"));
        assert!(privacy.admits(Some(&agent("scout-1")), false));
        assert!(privacy.admits(Some(&Signer::Operator), false));
        assert!(!privacy.admits(Some(&agent("scout-2")), false));
        assert!(!privacy.admits(None, false));
        let reply = Subject::new("_INBOX.abc").unwrap();
        assert!(!Privacy::of(&reply).admits(Some(&Signer::Operator), false));
        assert!(Privacy::of(&reply).admits(None, true));
        assert_eq!(Privacy::of(&Subject::new("agent.scout-1.status").unwrap()), Privacy::Public);
    }

    #[test]
    fn subscriptions_and_streams_follow_the_same_private_subjects() {
        let pattern = |text: &str| Pattern::new(text).unwrap();
        assert!(check_subscription(&pattern("agent.scout-1.inbox"), Some(&agent("scout-1")), false).is_ok());
        assert!(check_subscription(&pattern("agent.scout-1.inbox.>"), Some(&agent("scout-2")), false).is_err());
        assert!(check_subscription(&pattern("agent.*.inbox"), None, false).is_ok());
        assert!(check_subscription(&pattern("_INBOX.>"), Some(&Signer::Operator), false).is_err());
        assert!(check_subscription(&pattern("_INBOX.x"), None, true).is_ok());
        for private in
            ["agent.*.inbox", "agent.a.inbox.x", "_INBOX.abc", ">", "agent.>", "colony.pheromone.>", "*.pheromone.x"]
        {
            assert!(overlaps_private(&pattern(private)), "{private}");
        }
        for public in ["agent.*.status", "orders.>", "agent.a.inboxes", "colonies.>"] {
            assert!(!overlaps_private(&pattern(public)), "{public}");
        }
        let server_only = |text: &str| super::server_only(&Subject::new(text).unwrap());
        assert!(server_only("colony.pheromone.signals") && !server_only("colonies.x") && !server_only("x.colony"));
    }
}
