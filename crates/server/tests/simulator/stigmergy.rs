//! The crowd's pheromone map commands: maps under seed 000's and seed 003's models, deposits on a few
//! keys (reinforced to their cap, faded and pruned between them), and changes to maps by their
//! creators and, sometimes, by others.

use colony_core::command::{ConfigureMap, CreateMap, DeleteMap, Deposit};
use colony_core::stigmergy::{Decay, Depositors, SEED_000_CAP, SEED_000_PRUNE};
use colony_core::{Command, Intensity, Name, SignalKey, Signer, State};

use super::Clients;
use crate::rng::Rng;

/// Map names: few, so that creates repeat and deposits find maps.
const MAPS: [&str; 3] = ["trails", "claims", "scouting"];
/// Keys deposits name.
const KEYS: [&str; 4] = ["BTC:long:momentum", "ETH:short:reversal", "task-1:claimed", "task-2:available"];

impl Clients {
    fn map_name(rng: &mut Rng) -> Name {
        Name::new(rng.pick_text(&MAPS)).expect("a valid name")
    }

    fn depositors(&self, rng: &mut Rng) -> Depositors {
        if self.members.is_empty() || rng.chance(2, 3) {
            Depositors::Registered
        } else {
            Depositors::Agents(
                (0..rng.between(1, 3)).map(|_| self.members[rng.index(self.members.len())].id.clone()).collect(),
            )
        }
    }

    /// A map under seed 000's model or seed 003's, to every registered agent or a few members.
    pub(super) fn create_map(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let decay = if rng.chance(1, 2) { Decay::SEED_000 } else { Decay::SEED_003 };
        Command::CreateMap(CreateMap {
            map: Self::map_name(rng),
            decay,
            cap: SEED_000_CAP,
            prune_at_or_below: SEED_000_PRUNE,
            depositors: self.depositors(rng),
        })
    }

    /// A map the signer created, mostly.
    fn own_map(&self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Name {
        let signer = match signer {
            Some(index) => Signer::Agent(self.members[index].id.clone()),
            None => Signer::Operator,
        };
        let mine: Vec<Name> = MAPS
            .iter()
            .map(|map| Name::new(*map).expect("a valid name"))
            .filter(|map| state.stigmergy().map(map).is_some_and(|found| found.creator == signer))
            .collect();
        if mine.is_empty() || rng.chance(1, 6) { Self::map_name(rng) } else { rng.pick(&mine).clone() }
    }

    pub(super) fn configure_map(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        let map = self.own_map(rng, state, signer);
        Command::ConfigureMap(ConfigureMap { map, depositors: self.depositors(rng) })
    }

    pub(super) fn delete_map(&mut self, rng: &mut Rng, state: &State, signer: Option<usize>) -> Command {
        Command::DeleteMap(DeleteMap { map: self.own_map(rng, state, signer) })
    }

    /// A deposit of up to 4 on one of a few keys; now and then of nothing, which is refused; one in
    /// four a claim, made only while its own trail is absent.
    pub(super) fn deposit(&mut self, rng: &mut Rng, _: &State, _: Option<usize>) -> Command {
        let strength = if rng.chance(1, 20) { 0 } else { rng.between(1, 4_000_000_000) };
        let key = SignalKey::new(rng.pick_text(&KEYS)).expect("a valid key");
        let unless_present = if rng.chance(1, 4) { vec![key.clone()] } else { Vec::new() };
        Command::Deposit(Deposit {
            map: Self::map_name(rng),
            key,
            strength: Intensity::from_nanos(strength),
            unless_present,
        })
    }
}
