//! Granting, keeping alive and revoking leases, and their ends by log time or their holder's death:
//! each command checked whole before its first change.

use std::collections::BTreeSet;

use super::book::{LeaseEnd, LeaseRecord, LockRelease};
use super::commands::{GrantLease, KeepLeaseAlive, RevokeLease};
use super::rejections::CoordinationRejection;
use crate::event::EventKind;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::registry::Liveness;
use crate::state::{Context, State};

fn limit(limit: &'static str, max: usize) -> Rejection {
    Rejection::LimitReached { limit, max: max as u64 }
}

impl State {
    /// The lease `holder` holds under `name`.
    pub(crate) fn held_lease(&self, holder: &Signer, name: &Name) -> Result<&LeaseRecord, Rejection> {
        self.coordination
            .lease(holder, name)
            .ok_or_else(|| CoordinationRejection::LeaseNotFound { lease: name.clone() }.into())
    }

    pub(crate) fn grant_lease(&mut self, context: &mut Context, command: &GrantLease) -> CommandResult {
        if !(limits::LEASE_TTL_MIN_MS..=limits::LEASE_TTL_MAX_MS).contains(&command.ttl_ms) {
            return Err(Rejection::invalid(
                "ttl_ms",
                format!("must be from {} to {}", limits::LEASE_TTL_MIN_MS, limits::LEASE_TTL_MAX_MS),
            ));
        }
        let holder = context.signer().clone();
        if let Some(agent) = holder.agent().and_then(|id| self.registry.get(id))
            && agent.liveness != Liveness::Active
        {
            return Err(CoordinationRejection::HolderUnresponsive.into());
        }
        if self.coordination.lease(&holder, &command.lease).is_some() {
            return Err(CoordinationRejection::LeaseExists { lease: command.lease.clone() }.into());
        }
        if self.coordination.leases_held_by(&holder) as usize >= limits::LEASES_PER_HOLDER_MAX {
            return Err(limit("leases_per_holder", limits::LEASES_PER_HOLDER_MAX));
        }
        if self.coordination.lease_total >= limits::LEASES_MAX {
            return Err(limit("leases", limits::LEASES_MAX));
        }
        let expires_at_ms = context.now_ms.saturating_add(command.ttl_ms);
        let lease = LeaseRecord {
            holder: holder.clone(),
            name: command.lease.clone(),
            ttl_ms: command.ttl_ms,
            granted_at_ms: context.now_ms,
            expires_at_ms,
            locks: BTreeSet::new(),
            barriers: BTreeSet::new(),
            keys: BTreeSet::new(),
        };
        let coordination = &mut self.coordination;
        coordination.leases.entry(holder.clone()).or_default().insert(command.lease.clone(), lease);
        coordination.lease_total += 1;
        coordination.lease_deadlines.insert((expires_at_ms, holder.clone(), command.lease.clone()));
        context.emit(EventKind::LeaseGranted {
            holder,
            lease: command.lease.clone(),
            ttl_ms: command.ttl_ms,
            expires_at_ms,
        });
        Ok(Accepted::Lease { expires_at_ms })
    }

    pub(crate) fn keep_lease_alive(&mut self, context: &mut Context, command: &KeepLeaseAlive) -> CommandResult {
        let holder = context.signer().clone();
        let lease = self.held_lease(&holder, &command.lease)?;
        let (previous_ms, expires_at_ms) = (lease.expires_at_ms, context.now_ms.saturating_add(lease.ttl_ms));
        let coordination = &mut self.coordination;
        coordination.lease_deadlines.remove(&(previous_ms, holder.clone(), command.lease.clone()));
        coordination.lease_deadlines.insert((expires_at_ms, holder.clone(), command.lease.clone()));
        let lease = coordination.leases.get_mut(&holder).and_then(|leases| leases.get_mut(&command.lease));
        lease.expect("found above").expires_at_ms = expires_at_ms;
        context.emit(EventKind::LeaseKeptAlive { holder, lease: command.lease.clone(), expires_at_ms });
        Ok(Accepted::Lease { expires_at_ms })
    }

    pub(crate) fn revoke_lease(&mut self, context: &mut Context, command: &RevokeLease) -> CommandResult {
        let signer = context.signer().clone();
        let holder = command.holder.clone().map_or_else(|| signer.clone(), Signer::Agent);
        if holder != signer && signer != Signer::Operator {
            return Err(CoordinationRejection::NotLeaseHolder { lease: command.lease.clone() }.into());
        }
        self.held_lease(&holder, &command.lease)?;
        self.end_lease(context, &holder, &command.lease, LeaseEnd::Revoked);
        Ok(Accepted::Done)
    }

    /// Ends a lease: its locks are released (and handed over to their queues), its waits leave theirs,
    /// the barriers it waits at break, and the keys that live with it are deleted.
    fn end_lease(&mut self, context: &mut Context, holder: &Signer, name: &Name, reason: LeaseEnd) {
        let coordination = &mut self.coordination;
        let leases = coordination.leases.get_mut(holder).expect("a lease to end exists");
        let lease = leases.remove(name).expect("a lease to end exists");
        if leases.is_empty() {
            coordination.leases.remove(holder);
        }
        coordination.lease_total -= 1;
        coordination.lease_deadlines.remove(&(lease.expires_at_ms, holder.clone(), name.clone()));
        context.emit(EventKind::LeaseEnded { holder: holder.clone(), lease: name.clone(), reason });
        for lock in &lease.locks {
            self.leave_lock(context, lock, holder, LockRelease::LeaseEnded);
        }
        self.break_barriers_of_lease(context, &lease.barriers);
        self.delete_keys_of_lease(context, holder, &lease.keys);
    }

    /// Ends every lease of a holder that fell silent or was deregistered, in the same pass.
    pub(crate) fn end_leases_of(&mut self, context: &mut Context, holder: &Signer, reason: LeaseEnd) {
        let Some(leases) = self.coordination.leases.get(holder) else { return };
        let names: Vec<Name> = leases.keys().cloned().collect();
        for name in names {
            self.end_lease(context, holder, &name, reason);
        }
    }

    /// Ends the leases whose last alive time is before the entry's, earliest first, at most
    /// `LEASE_EXPIRIES_PER_ENTRY_MAX` of them; the rest end in the next entries, due at once.
    pub(crate) fn expire_leases(&mut self, context: &mut Context) {
        for _ in 0..limits::LEASE_EXPIRIES_PER_ENTRY_MAX {
            let Some((deadline_ms, holder, name)) = self.coordination.lease_deadlines.first().cloned() else { break };
            if deadline_ms >= context.now_ms {
                break;
            }
            self.end_lease(context, &holder, &name, LeaseEnd::Expired);
        }
    }
}

impl State {
    /// Every lease of an agent belongs to a registered agent that is heard from: silence and
    /// deregistration end leases in the same pass.
    pub(crate) fn check_lease_holders(&self) -> Result<(), String> {
        for holder in self.coordination.leases.keys() {
            let Some(id) = holder.agent() else { continue };
            let live = self
                .registry
                .get(id)
                .is_some_and(|agent| agent.deregistered_at_ms.is_none() && agent.liveness == Liveness::Active);
            if !live {
                return Err(format!("{holder} holds a lease but is not a live, heard-from agent"));
            }
        }
        Ok(())
    }
}
