//! Creating, configuring and deleting pheromone maps, and deposits: each checked whole before its
//! first change.

use std::collections::BTreeMap;

use super::book::{Depositors, MapTerms, PheromoneMap};
use super::commands::{ConfigureMap, CreateMap, DeleteMap, Deposit};
use super::intensity::Intensity;
use super::rejections::StigmergyRejection;
use super::store::Trails;
use super::trails::TRAIL_CAP_MAX;
use crate::event::EventKind;
use crate::ids::{Name, Signer};
use crate::limits;
use crate::outcome::{Accepted, CommandResult, Rejection};
use crate::state::{Context, State};

fn check_terms(command: &CreateMap) -> Result<MapTerms, Rejection> {
    command.decay.check().map_err(|reason| Rejection::invalid("decay", reason))?;
    if command.cap == Intensity::ZERO || command.cap > TRAIL_CAP_MAX {
        return Err(Rejection::invalid("cap", format!("must be above 0 and at most {TRAIL_CAP_MAX}")));
    }
    if command.prune_at_or_below >= command.cap {
        return Err(Rejection::invalid("prune_at_or_below", "must be below the cap"));
    }
    Ok(MapTerms { decay: command.decay, cap: command.cap, prune_at_or_below: command.prune_at_or_below })
}

fn check_depositors(depositors: &Depositors) -> Result<(), Rejection> {
    if let Depositors::Agents(agents) = depositors
        && (agents.is_empty() || agents.len() > limits::PHEROMONE_DEPOSITORS_MAX)
    {
        return Err(Rejection::invalid(
            "depositors",
            format!("must name 1 to {} agents", limits::PHEROMONE_DEPOSITORS_MAX),
        ));
    }
    Ok(())
}

fn increment(counts: &mut BTreeMap<Signer, u32>, signer: &Signer) {
    *counts.entry(signer.clone()).or_insert(0) += 1;
}

/// Counts drop out at zero, so that the counts are a function of the maps alone.
fn decrement(counts: &mut BTreeMap<Signer, u32>, signer: &Signer) {
    let count = counts.get_mut(signer).expect("a counted signer");
    *count -= 1;
    if *count == 0 {
        counts.remove(signer);
    }
}

fn limit(limit: &'static str, max: usize) -> Rejection {
    Rejection::LimitReached { limit, max: max as u64 }
}

impl State {
    fn pheromone_map(&self, map: &Name) -> Result<&PheromoneMap, Rejection> {
        self.stigmergy.maps.get(map).ok_or_else(|| StigmergyRejection::MapNotFound { map: map.clone() }.into())
    }

    /// The map, when the signer created it or is the operator.
    fn pheromone_map_to_change(&self, context: &Context, map: &Name) -> Result<&PheromoneMap, Rejection> {
        let found = self.pheromone_map(map)?;
        if found.creator != *context.signer() && *context.signer() != Signer::Operator {
            return Err(StigmergyRejection::NotMapCreator { map: map.clone() }.into());
        }
        Ok(found)
    }

    pub(crate) fn create_pheromone_map(&mut self, context: &mut Context, command: &CreateMap) -> CommandResult {
        let terms = check_terms(command)?;
        check_depositors(&command.depositors)?;
        let signer = context.signer().clone();
        if let Some(existing) = self.stigmergy.maps.get(&command.map) {
            if existing.creator == signer && existing.terms == terms && existing.depositors == command.depositors {
                return Ok(Accepted::Unchanged);
            }
            return Err(StigmergyRejection::MapExists { map: command.map.clone() }.into());
        }
        if self.stigmergy.maps_created_by(&signer) as usize >= limits::PHEROMONE_MAPS_PER_SIGNER_MAX {
            return Err(limit("pheromone_maps_per_signer", limits::PHEROMONE_MAPS_PER_SIGNER_MAX));
        }
        let trails = Trails::new(terms.decay, terms.cap, terms.prune_at_or_below, context.now_ms)
            .expect("the terms were checked");
        let map = PheromoneMap {
            name: command.map.clone(),
            creator: signer.clone(),
            terms: terms.clone(),
            depositors: command.depositors.clone(),
            created_at_ms: context.now_ms,
            deposits: 0,
            trails,
            openers: BTreeMap::new(),
        };
        self.stigmergy.maps.insert(command.map.clone(), map);
        increment(&mut self.stigmergy.maps_by_creator, &signer);
        context.emit(EventKind::PheromoneMapCreated {
            map: command.map.clone(),
            by: signer,
            decay: terms.decay,
            cap: terms.cap,
            prune_at_or_below: terms.prune_at_or_below,
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn configure_pheromone_map(&mut self, context: &mut Context, command: &ConfigureMap) -> CommandResult {
        check_depositors(&command.depositors)?;
        if self.pheromone_map_to_change(context, &command.map)?.depositors == command.depositors {
            return Ok(Accepted::Unchanged);
        }
        let map = self.stigmergy.maps.get_mut(&command.map).expect("found above");
        map.depositors = command.depositors.clone();
        context.emit(EventKind::PheromoneMapConfigured { map: command.map.clone(), by: context.signer().clone() });
        Ok(Accepted::Done)
    }

    pub(crate) fn delete_pheromone_map(&mut self, context: &mut Context, command: &DeleteMap) -> CommandResult {
        self.pheromone_map_to_change(context, &command.map)?;
        let map = self.stigmergy.maps.remove(&command.map).expect("found above");
        decrement(&mut self.stigmergy.maps_by_creator, &map.creator);
        for opener in map.openers.values() {
            decrement(&mut self.stigmergy.keys_by_opener, opener);
        }
        self.stigmergy.keys -= map.openers.len() as u64;
        context.emit(EventKind::PheromoneMapDeleted {
            map: command.map.clone(),
            by: context.signer().clone(),
            keys: u32::try_from(map.openers.len()).expect("keys per map fit in u32"),
        });
        Ok(Accepted::Done)
    }

    pub(crate) fn deposit_pheromone(&mut self, context: &mut Context, command: &Deposit) -> CommandResult {
        let now_ms = context.now_ms;
        let signer = context.signer().clone();
        let map = self.pheromone_map(&command.map)?;
        if !map.depositors.admit(&signer, &map.creator) {
            return Err(StigmergyRejection::NotDepositor { map: command.map.clone() }.into());
        }
        if command.strength == Intensity::ZERO {
            return Err(Rejection::invalid("strength", "must be above 0"));
        }
        if command.unless_present.len() > limits::PHEROMONE_UNLESS_KEYS_MAX {
            return Err(Rejection::invalid(
                "unless_present",
                format!("names at most {} trails", limits::PHEROMONE_UNLESS_KEYS_MAX),
            ));
        }
        if let Some(present) = command.unless_present.iter().find(|key| map.sense(key, now_ms) > Intensity::ZERO) {
            return Err(StigmergyRejection::SignalPresent { map: command.map.clone(), key: present.clone() }.into());
        }
        // What pruning at this time would remove, counted before anything changes.
        let faint = map.trails.faint(now_ms);
        let deposited = map.trails.sense(&command.key, now_ms).deposit_capped(command.strength, map.terms.cap);
        let opens = deposited > map.terms.prune_at_or_below
            && (!map.openers.contains_key(&command.key) || faint.contains(&command.key));
        if opens {
            let signers_faint = faint.iter().filter(|key| map.openers.get(*key) == Some(&signer)).count();
            if map.openers.len() - faint.len() >= limits::PHEROMONE_KEYS_PER_MAP_MAX {
                return Err(limit("pheromone_keys_per_map", limits::PHEROMONE_KEYS_PER_MAP_MAX));
            }
            if self.stigmergy.keys_opened_by(&signer) as usize - signers_faint >= limits::PHEROMONE_KEYS_PER_SIGNER_MAX
            {
                return Err(limit("pheromone_keys_per_signer", limits::PHEROMONE_KEYS_PER_SIGNER_MAX));
            }
            if self.stigmergy.keys as usize - faint.len() >= limits::PHEROMONE_KEYS_MAX {
                return Err(limit("pheromone_keys", limits::PHEROMONE_KEYS_MAX));
            }
        }
        let stigmergy = &mut self.stigmergy;
        let map = stigmergy.maps.get_mut(&command.map).expect("found above");
        for key in map.trails.prune(now_ms) {
            let opener = map.openers.remove(&key).expect("every trail has its opener");
            decrement(&mut stigmergy.keys_by_opener, &opener);
            stigmergy.keys -= 1;
        }
        let intensity = map.trails.deposit(command.key.clone(), command.strength, now_ms);
        debug_assert_eq!(intensity, deposited);
        if opens {
            map.openers.insert(command.key.clone(), signer.clone());
            increment(&mut stigmergy.keys_by_opener, &signer);
            stigmergy.keys += 1;
        }
        map.deposits += 1;
        context.emit(EventKind::PheromoneDeposited {
            map: command.map.clone(),
            key: command.key.clone(),
            by: signer,
            strength: command.strength,
            intensity,
        });
        Ok(Accepted::Deposited { intensity })
    }
}
