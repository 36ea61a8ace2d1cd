//! Who completed what for whom: a manager's affinities, which direct assignment looks at first.
//!
//! An affinity `(manager, kind, worker)` is recorded when the worker completes a task of that kind
//! for that manager, and renewed each time it does again. The memory is bounded per manager and in
//! all; past either bound the affinity renewed longest ago (the manager's own, or anyone's) is
//! forgotten to make room. Forgetting the stalest rather than refusing the newest matters: with
//! "later ones are not recorded", a few managers completing tasks among their own workers could fill
//! the swarm's whole memory once and keep every other manager from ever being remembered. Under
//! least-recently-renewed eviction they can only push out what nobody renewed since, at the price of
//! a completed, verified and paid task per affinity, and a manager that keeps working with a worker
//! keeps its affinity.
//!
//! An affinity names two agents; when either is deregistered it is forgotten (the worker can no
//! longer be offered work, the manager can no longer announce any).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::ids::{AgentId, Name};

/// `(manager, kind, worker)`.
pub type Affinity = (AgentId, Name, AgentId);

/// The affinities and the indexes that keep eviction and deregistration cheap.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Affinities {
    /// Each affinity, with the stamp of its last renewal.
    renewed: BTreeMap<Affinity, u64>,
    /// The affinities by stamp: the first is the one renewed longest ago.
    by_age: BTreeMap<u64, Affinity>,
    /// `(worker, manager, kind)`: a deregistered worker's affinities without a walk of them all.
    by_worker: BTreeSet<(AgentId, AgentId, Name)>,
    /// Affinities per manager, none zero.
    per_manager: BTreeMap<AgentId, u32>,
    /// The next renewal's stamp: renewals in log order.
    next_stamp: u64,
}

impl Affinities {
    /// How many are kept.
    pub fn len(&self) -> usize {
        self.renewed.len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.renewed.is_empty()
    }

    /// Whether `affinity` is kept.
    pub fn contains(&self, affinity: &Affinity) -> bool {
        self.renewed.contains_key(affinity)
    }

    /// The workers `manager` has an affinity with for `kind`, by id.
    pub fn workers<'a>(&'a self, manager: &AgentId, kind: &Name) -> impl Iterator<Item = &'a AgentId> + 'a {
        let (manager, kind) = (manager.clone(), kind.clone());
        self.renewed
            .range((manager.clone(), kind.clone(), AgentId::below_all())..)
            .map(|(affinity, _)| affinity)
            .take_while(move |(of, of_kind, _)| *of == manager && *of_kind == kind)
            .map(|(_, _, worker)| worker)
    }

    /// Records or renews `affinity`, forgetting the manager's stalest one when it already has
    /// `per_manager_max`, or the stalest of all when `total_max` are kept.
    pub fn record(&mut self, affinity: Affinity, per_manager_max: u32, total_max: usize) {
        assert!(per_manager_max >= 1 && total_max >= 1, "room for at least one affinity");
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(previous) = self.renewed.get_mut(&affinity) {
            let previous = std::mem::replace(previous, stamp);
            self.by_age.remove(&previous);
            self.by_age.insert(stamp, affinity);
            return;
        }
        if self.per_manager.get(&affinity.0).is_some_and(|count| *count >= per_manager_max) {
            let stalest = self.stalest_of(&affinity.0);
            self.forget(&stalest);
        } else if self.renewed.len() >= total_max {
            let stalest = self.by_age.first_key_value().map(|(_, stalest)| stalest.clone()).expect("some are kept");
            self.forget(&stalest);
        }
        *self.per_manager.entry(affinity.0.clone()).or_default() += 1;
        self.by_worker.insert((affinity.2.clone(), affinity.0.clone(), affinity.1.clone()));
        self.by_age.insert(stamp, affinity.clone());
        self.renewed.insert(affinity, stamp);
    }

    /// The manager's affinity renewed longest ago: a walk of its own, at most `per_manager_max`.
    fn stalest_of(&self, manager: &AgentId) -> Affinity {
        self.renewed
            .range((manager.clone(), Name::below_all(), AgentId::below_all())..)
            .take_while(|((of, _, _), _)| of == manager)
            .min_by_key(|(_, stamp)| **stamp)
            .map(|(affinity, _)| affinity.clone())
            .expect("a manager at its limit has affinities")
    }

    fn forget(&mut self, affinity: &Affinity) {
        let stamp = self.renewed.remove(affinity).expect("only a kept affinity is forgotten");
        self.by_age.remove(&stamp);
        self.by_worker.remove(&(affinity.2.clone(), affinity.0.clone(), affinity.1.clone()));
        let count = self.per_manager.get_mut(&affinity.0).expect("a kept affinity is counted");
        *count -= 1;
        if *count == 0 {
            self.per_manager.remove(&affinity.0);
        }
    }

    /// Forgets every affinity naming `agent`, as manager or as worker.
    pub fn forget_agent(&mut self, agent: &AgentId) {
        let as_manager: Vec<Affinity> = self
            .renewed
            .range((agent.clone(), Name::below_all(), AgentId::below_all())..)
            .map(|(affinity, _)| affinity)
            .take_while(|(of, _, _)| of == agent)
            .cloned()
            .collect();
        let as_worker: Vec<Affinity> = self
            .by_worker
            .range((agent.clone(), AgentId::below_all(), Name::below_all())..)
            .take_while(|(worker, _, _)| worker == agent)
            .map(|(worker, manager, kind)| (manager.clone(), kind.clone(), worker.clone()))
            .collect();
        for affinity in as_manager.iter().chain(&as_worker) {
            if self.renewed.contains_key(affinity) {
                self.forget(affinity);
            }
        }
    }

    /// Checks the indexes against the affinities and the bounds; returns the first disagreement.
    pub(crate) fn check(&self, per_manager_max: u32, total_max: usize) -> Result<(), String> {
        if self.renewed.len() > total_max {
            return Err("more affinities than the swarm keeps".to_owned());
        }
        if self.by_age.len() != self.renewed.len() || self.by_worker.len() != self.renewed.len() {
            return Err("the affinities' indexes disagree in size".to_owned());
        }
        let mut per_manager: BTreeMap<&AgentId, u32> = BTreeMap::new();
        for (affinity, stamp) in &self.renewed {
            *per_manager.entry(&affinity.0).or_default() += 1;
            if self.by_age.get(stamp) != Some(affinity)
                || !self.by_worker.contains(&(affinity.2.clone(), affinity.0.clone(), affinity.1.clone()))
                || *stamp >= self.next_stamp
            {
                return Err(format!("the affinity {affinity:?} is not indexed as kept"));
            }
        }
        if per_manager.len() != self.per_manager.len()
            || per_manager
                .iter()
                .any(|(manager, count)| self.per_manager.get(*manager) != Some(count) || *count > per_manager_max)
        {
            return Err("affinities per manager disagree with the affinities".to_owned());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn affinity(manager: u8, kind: u8, worker: u8) -> Affinity {
        (
            AgentId::new(format!("manager-{manager}")).unwrap(),
            Name::new(format!("kind-{kind}")).unwrap(),
            AgentId::new(format!("worker-{worker}")).unwrap(),
        )
    }

    /// The plain model: the affinities in renewal order, oldest first.
    fn model_record(model: &mut Vec<Affinity>, affinity: Affinity, per_manager_max: u32, total_max: usize) {
        if let Some(position) = model.iter().position(|kept| *kept == affinity) {
            model.remove(position);
        } else if model.iter().filter(|kept| kept.0 == affinity.0).count() >= per_manager_max as usize {
            let position = model.iter().position(|kept| kept.0 == affinity.0).unwrap();
            model.remove(position);
        } else if model.len() >= total_max {
            model.remove(0);
        }
        model.push(affinity);
    }

    #[derive(Clone, Debug)]
    enum Step {
        Record(u8, u8, u8),
        Deregister(u8),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            8 => (0..4_u8, 0..2_u8, 0..6_u8).prop_map(|(manager, kind, worker)| Step::Record(manager, kind, worker)),
            1 => (0..6_u8).prop_map(Step::Deregister),
        ]
    }

    proptest! {
        #[test]
        fn the_affinities_agree_with_a_list_in_renewal_order(
            steps in proptest::collection::vec(step(), 0..200),
            per_manager_max in 1..5_u32,
            total_max in 1..10_usize,
        ) {
            let (mut affinities, mut model) = (Affinities::default(), Vec::new());
            for step in steps {
                match step {
                    Step::Record(manager, kind, worker) => {
                        affinities.record(affinity(manager, kind, worker), per_manager_max, total_max);
                        model_record(&mut model, affinity(manager, kind, worker), per_manager_max, total_max);
                    }
                    Step::Deregister(agent) => {
                        // Agent n is both manager-n and worker-n's id space: forget one of each.
                        let manager = AgentId::new(format!("manager-{agent}")).unwrap();
                        let worker = AgentId::new(format!("worker-{agent}")).unwrap();
                        affinities.forget_agent(&manager);
                        affinities.forget_agent(&worker);
                        model.retain(|(of, _, by)| *of != manager && *by != worker);
                    }
                }
                affinities.check(per_manager_max, total_max).map_err(TestCaseError::fail)?;
                let mut kept: Vec<Affinity> = affinities.by_age.values().cloned().collect();
                prop_assert_eq!(&kept, &model);
                kept.sort();
                let workers: Vec<Affinity> = (0..4_u8)
                    .flat_map(|manager| (0..2_u8).map(move |kind| (manager, kind)))
                    .flat_map(|(manager, kind)| {
                        let (of, of_kind) = (affinity(manager, kind, 0).0, affinity(manager, kind, 0).1);
                        affinities.workers(&of, &of_kind).map(|worker| (of.clone(), of_kind.clone(), worker.clone())).collect::<Vec<_>>()
                    })
                    .collect();
                prop_assert_eq!(workers, kept);
            }
        }
    }

    #[test]
    fn a_manager_that_keeps_working_with_a_worker_keeps_the_affinity_while_a_flood_pushes_out_the_rest() {
        let mut affinities = Affinities::default();
        affinities.record(affinity(0, 0, 0), 3, 4);
        for worker in 1..=20 {
            // A flood from other managers, and the honest manager renewing its one affinity.
            affinities.record(affinity(1 + worker % 3, 0, worker), 3, 4);
            affinities.record(affinity(0, 0, 0), 3, 4);
        }
        assert!(affinities.contains(&affinity(0, 0, 0)));
        assert_eq!(affinities.len(), 4);
        affinities.check(3, 4).unwrap();
        affinities.forget_agent(&affinity(0, 0, 0).2);
        assert!(!affinities.contains(&affinity(0, 0, 0)));
        affinities.check(3, 4).unwrap();
    }
}
