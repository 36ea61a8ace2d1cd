//! Barriers: a fixed number of parties meet, and all go on together once the last one arrives.
//!
//! A barrier is made once, with its number of parties, an optional list of the agents who may be
//! among them, and a timeout. Each party arrives through one of its leases, so an arrival is tied to
//! its heartbeats: a party whose lease ends while it waits has died at the barrier, and the barrier
//! breaks at once rather than keeping the others waiting for someone who will never come. The
//! arrival that completes the count trips the barrier: every waiter is released in that entry, and
//! the barrier opens its next generation for the next phase (reuse needs no reset). A generation
//! whose first arrival is older than the timeout with parties missing breaks. A broken barrier
//! refuses arrivals until its creator resets it, so that no party goes on believing the others met.
//!
//! Each command is checked whole before its first change.

use std::collections::{BTreeMap, BTreeSet};

use super::book::{Arrival, BarrierBreak, BarrierRecord};
use super::commands::{ArriveAtBarrier, CreateBarrier, RemoveBarrier, ResetBarrier};
use super::rejections::CoordinationRejection;
use crate::event::EventKind;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

fn limit(limit: &'static str, max: usize) -> Rejection {
    Rejection::LimitReached { limit, max: max as u64 }
}

impl State {
    pub(crate) fn create_barrier(&mut self, context: &mut Context, command: &CreateBarrier) -> CommandResult {
        if !(2..=limits::BARRIER_PARTIES_MAX).contains(&command.parties) {
            return Err(Rejection::invalid("parties", format!("must be from 2 to {}", limits::BARRIER_PARTIES_MAX)));
        }
        if !(limits::BARRIER_TIMEOUT_MIN_MS..=limits::BARRIER_TIMEOUT_MAX_MS).contains(&command.timeout_ms) {
            return Err(Rejection::invalid(
                "timeout_ms",
                format!("must be from {} to {}", limits::BARRIER_TIMEOUT_MIN_MS, limits::BARRIER_TIMEOUT_MAX_MS),
            ));
        }
        let members: Option<BTreeSet<_>> = command.members.as_ref().map(|members| members.iter().cloned().collect());
        if let Some(members) = &members {
            if members.len() != command.members.as_ref().map_or(0, Vec::len) {
                return Err(Rejection::invalid("members", "must not name an agent twice"));
            }
            if members.len() > limits::BARRIER_PARTIES_MAX as usize || members.len() < command.parties as usize {
                return Err(Rejection::invalid(
                    "members",
                    format!("must name from `parties` to {} agents", limits::BARRIER_PARTIES_MAX),
                ));
            }
            if let Some(unknown) = members.iter().find(|member| self.registry.get(member).is_none()) {
                return Err(Rejection::AgentNotFound { agent: unknown.clone() });
            }
        }
        if self.coordination.barriers.contains_key(&command.barrier) {
            return Err(CoordinationRejection::BarrierExists { barrier: command.barrier.clone() }.into());
        }
        let creator = context.signer().clone();
        if self.coordination.barriers_created_by(&creator) >= limits::BARRIERS_PER_CREATOR_MAX {
            return Err(limit("barriers_per_creator", limits::BARRIERS_PER_CREATOR_MAX));
        }
        if self.coordination.barriers.len() >= limits::BARRIERS_MAX {
            return Err(limit("barriers", limits::BARRIERS_MAX));
        }
        let barrier = BarrierRecord {
            name: command.barrier.clone(),
            creator: creator.clone(),
            parties: command.parties,
            members,
            timeout_ms: command.timeout_ms,
            created_at_ms: context.now_ms,
            generation: 1,
            arrivals: BTreeMap::new(),
            deadline_ms: None,
            broken: None,
            trips: 0,
            last_tripped_generation: 0,
        };
        let coordination = &mut self.coordination;
        coordination.barriers.insert(command.barrier.clone(), barrier);
        *coordination.barriers_by_creator.entry(creator.clone()).or_default() += 1;
        context.emit(EventKind::BarrierCreated {
            barrier: command.barrier.clone(),
            creator,
            parties: command.parties,
            timeout_ms: command.timeout_ms,
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn arrive_at_barrier(&mut self, context: &mut Context, command: &ArriveAtBarrier) -> CommandResult {
        let party = context.signer().clone();
        let lease = self.held_lease(&party, &command.lease)?;
        let barrier = self.barrier(&command.barrier)?;
        if let Some(members) = &barrier.members
            && !party.agent().is_some_and(|agent| members.contains(agent))
        {
            return Err(CoordinationRejection::NotBarrierMember { barrier: command.barrier.clone() }.into());
        }
        if let Some(reason) = barrier.broken {
            let generation = barrier.generation;
            return Err(
                CoordinationRejection::BarrierBroken { barrier: command.barrier.clone(), generation, reason }.into()
            );
        }
        if barrier.arrivals.contains_key(&party) {
            let generation = barrier.generation;
            return Err(CoordinationRejection::AlreadyArrived { barrier: command.barrier.clone(), generation }.into());
        }
        if lease.barriers.len() >= limits::BARRIER_ARRIVALS_PER_LEASE_MAX {
            return Err(limit("barrier_arrivals_per_lease", limits::BARRIER_ARRIVALS_PER_LEASE_MAX));
        }
        let (generation, parties) = (barrier.generation, barrier.parties);
        let arrived = u32::try_from(barrier.arrivals.len() + 1).expect("bounded by BARRIER_PARTIES_MAX");
        context.emit(EventKind::BarrierArrived {
            barrier: command.barrier.clone(),
            party: party.clone(),
            generation,
            arrived,
            parties,
        });
        if arrived == parties {
            // The last party never waits: nothing of its arrival is kept past the trip.
            self.trip_barrier(context, &command.barrier);
            return Ok(Accepted::BarrierArrived { generation, arrived, tripped: true });
        }
        let coordination = &mut self.coordination;
        let leases = coordination.leases.get_mut(&party).expect("found above");
        leases.get_mut(&command.lease).expect("found above").barriers.insert(command.barrier.clone());
        let barrier = coordination.barriers.get_mut(&command.barrier).expect("found above");
        barrier.arrivals.insert(party, Arrival { lease: command.lease.clone(), arrived_at_ms: context.now_ms });
        if barrier.deadline_ms.is_none() {
            let deadline_ms = context.now_ms.saturating_add(barrier.timeout_ms);
            barrier.deadline_ms = Some(deadline_ms);
            coordination.barrier_deadlines.insert((deadline_ms, command.barrier.clone()));
        }
        Ok(Accepted::BarrierArrived { generation, arrived, tripped: false })
    }

    pub(crate) fn reset_barrier(&mut self, context: &mut Context, command: &ResetBarrier) -> CommandResult {
        self.barrier_as_creator(context.signer(), &command.barrier)?;
        self.break_barrier(context, &command.barrier, BarrierBreak::Reset);
        let barrier = self.coordination.barriers.get_mut(&command.barrier).expect("found above");
        barrier.broken = None;
        barrier.generation += 1;
        let generation = barrier.generation;
        context.emit(EventKind::BarrierReset { barrier: command.barrier.clone(), generation });
        Ok(Accepted::Done)
    }

    pub(crate) fn remove_barrier(&mut self, context: &mut Context, command: &RemoveBarrier) -> CommandResult {
        self.barrier_as_creator(context.signer(), &command.barrier)?;
        self.break_barrier(context, &command.barrier, BarrierBreak::Removed);
        let coordination = &mut self.coordination;
        let barrier = coordination.barriers.remove(&command.barrier).expect("found above");
        let count = coordination.barriers_by_creator.get_mut(&barrier.creator).expect("counted at creation");
        *count -= 1;
        if *count == 0 {
            coordination.barriers_by_creator.remove(&barrier.creator);
        }
        context.emit(EventKind::BarrierRemoved { barrier: command.barrier.clone() });
        Ok(Accepted::Done)
    }

    fn barrier(&self, name: &Name) -> Result<&BarrierRecord, Rejection> {
        self.coordination
            .barriers
            .get(name)
            .ok_or_else(|| CoordinationRejection::BarrierNotFound { barrier: name.clone() }.into())
    }

    /// The barrier, when `signer` made it or is the operator: only they reset or remove it, so no
    /// party can wipe the others' arrivals.
    fn barrier_as_creator(&self, signer: &Signer, name: &Name) -> Result<&BarrierRecord, Rejection> {
        let barrier = self.barrier(name)?;
        if barrier.creator != *signer && *signer != Signer::Operator {
            return Err(CoordinationRejection::NotBarrierCreator { barrier: name.clone() }.into());
        }
        Ok(barrier)
    }

    /// Releases every waiter of the barrier's generation and opens the next one.
    fn trip_barrier(&mut self, context: &mut Context, name: &Name) {
        let barrier = self.coordination.barriers.get(name).expect("a barrier tripped exists");
        let (generation, parties) = (barrier.generation, barrier.parties);
        self.clear_arrivals(name);
        let barrier = self.coordination.barriers.get_mut(name).expect("a barrier tripped exists");
        barrier.generation += 1;
        barrier.trips += 1;
        barrier.last_tripped_generation = generation;
        context.emit(EventKind::BarrierTripped { barrier: name.clone(), generation, parties });
    }

    /// Ends the barrier's waiting generation, telling every waiter why; a barrier nobody waits at is
    /// left as it is (there is nobody to tell, and no meeting to call off).
    fn break_barrier(&mut self, context: &mut Context, name: &Name, reason: BarrierBreak) {
        let barrier = self.coordination.barriers.get(name).expect("a barrier broken exists");
        if barrier.arrivals.is_empty() {
            return;
        }
        let (generation, arrived) = (barrier.generation, barrier.arrivals.len() as u32);
        self.clear_arrivals(name);
        self.coordination.barriers.get_mut(name).expect("a barrier broken exists").broken = Some(reason);
        context.emit(EventKind::BarrierBroken { barrier: name.clone(), generation, reason, arrived });
    }

    /// Takes the generation's arrivals off the barrier, their leases and the deadline index. A lease
    /// that has just ended (and broke the barrier by ending) is already gone.
    fn clear_arrivals(&mut self, name: &Name) {
        let coordination = &mut self.coordination;
        let barrier = coordination.barriers.get_mut(name).expect("a barrier cleared exists");
        let arrivals = std::mem::take(&mut barrier.arrivals);
        if let Some(deadline_ms) = barrier.deadline_ms.take() {
            coordination.barrier_deadlines.remove(&(deadline_ms, name.clone()));
        }
        for (party, arrival) in arrivals {
            let lease = coordination.leases.get_mut(&party).and_then(|leases| leases.get_mut(&arrival.lease));
            if let Some(lease) = lease {
                lease.barriers.remove(name);
            }
        }
    }

    /// Breaks the barriers a lease waited at, as it ends: the party died while waiting.
    pub(crate) fn break_barriers_of_lease(&mut self, context: &mut Context, barriers: &BTreeSet<Name>) {
        for name in barriers {
            self.break_barrier(context, name, BarrierBreak::PartyLeaseEnded);
        }
    }

    /// Breaks the generations whose timeout passed with parties missing, earliest first, at most
    /// `BARRIER_BREAKS_PER_ENTRY_MAX` of them; the rest break in the next entries, due at once.
    pub(crate) fn expire_barriers(&mut self, context: &mut Context) {
        for _ in 0..limits::BARRIER_BREAKS_PER_ENTRY_MAX {
            let Some((deadline_ms, name)) = self.coordination.barrier_deadlines.first().cloned() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            self.break_barrier(context, &name, BarrierBreak::TimedOut);
        }
    }
}
