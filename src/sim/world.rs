//! The simulated world: every bot's hidden skill, its ledger, the revenue
//! noise, and the cycle slots of the current tick.
//!
//! A tick of the world is: cycles run ([`World::run_cycle`], each one taking
//! a slot while slots last), then [`World::end_tick`] books every bot's revenue
//! at its new skill and lets the skill drift (see [`super::bot`]).
//!
//! **Randomness.** Each bot draws from its own streams, derived from the
//! seed: one for revenue noise (exactly one draw per bot per tick, whatever
//! the policy does, so every policy meets the same noise sequence) and one for
//! evaluations (drawn only when a pipeline measures the bot). The streams are
//! [`ChaCha8Rng`]s with the seed and a stream number per (purpose, bot), so
//! adding a bot or a policy never shifts another's numbers.
//!
//! ```
//! use kaizen::sim::{BotParams, World};
//!
//! let bot = BotParams { skill: 0.5, noise: 0.0, gain: 0.4, half_energy: 10.0, ..BotParams::default() };
//! let mut world = World::new(vec![bot], 0, 7)?;
//! let effect = world.run_cycle(0, 10).unwrap();
//! assert!((effect.skill_after - 0.6).abs() < 1e-12); // 0.5 + 0.4 · 0.5 · 10/20
//! world.end_tick();
//! assert!((world.revenue(0) - 60.0).abs() < 1e-9);    // 100 · 0.6, no noise
//! assert!((world.profit(0) - 50.0).abs() < 1e-9);     // minus 10 energy at 1 each
//! # Ok::<(), kaizen::Error>(())
//! ```

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, Mutex, MutexGuard};

use super::bot::{BotParams, cycle_cost, drifted, revenue, skill_gain};
use super::event::{BotEvent, sorted};
use crate::Result;

/// What a stream of random numbers is for; with the bot's index it picks the
/// stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Revenue noise of a bot.
    Noise = 1,
    /// Evaluation error of a bot.
    Eval = 2,
    /// The `random` baseline's choices for a bot.
    Random = 3,
    /// The seed of a bot's engine policy (learned driver).
    Policy = 4,
}

/// The stream of random numbers for `purpose` and `index`, from `seed`.
pub(crate) fn stream(seed: u64, purpose: Purpose, index: usize) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(((purpose as u64) << 32) | index as u64);
    rng
}

/// A number uniform in [0, 1), from the top 53 bits of one draw.
pub(crate) fn unit(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A number uniform in [−1, 1).
pub(crate) fn symmetric(rng: &mut ChaCha8Rng) -> f64 {
    2.0 * unit(rng) - 1.0
}

/// What one cycle did to a bot. The skills are the hidden truth: for the
/// oracle, reports and tests — a pipeline reports measurements instead.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CycleEffect {
    /// The skill before the cycle.
    pub skill_before: f64,
    /// The skill after it.
    pub skill_after: f64,
    /// What it cost.
    pub cost: f64,
}

/// Weight of the newest grant in a bot's grant-use average.
const GRANT_USE_WEIGHT: f64 = 0.2;
/// A bot competes for slots while it uses at least this share of its grants.
const GRANT_USE_TO_COMPETE: f64 = 0.5;

/// Every cycle slot of the tick is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no cycle slot left this tick (all {0} are taken)")]
pub struct NoCapacity(pub u32);

/// One bot of the world.
#[derive(Clone, Debug)]
struct SimBot {
    params: BotParams,
    skill: f64,
    revenue: f64,
    spent: f64,
    cycles: u64,
    energy: u64,
    last_revenue: f64,
    /// The last ended tick it ran a cycle in.
    last_cycle: Option<u64>,
    /// Ran a cycle this tick.
    ran: bool,
    /// Asked for a slot this tick / in the last tick ([`World::request_slot`]).
    asked: bool,
    asked_last: bool,
    /// Was granted a slot this tick.
    granted: bool,
    /// Moving average of whether it ran a cycle when granted one (1 at first).
    grant_use: f64,
    noise: ChaCha8Rng,
    eval: ChaCha8Rng,
    /// Its events in tick order, and how many have applied.
    events: Vec<BotEvent>,
    applied: usize,
}

impl SimBot {
    /// Applies the events due at the start of tick `now`.
    fn apply_events(&mut self, now: u64) {
        while let Some(event) = self.events.get(self.applied)
            && event.tick <= now
        {
            if let Some(skill) = event.apply(&mut self.params) {
                self.skill = skill;
            }
            self.applied += 1;
        }
    }
}

/// The world of a simulation. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct World {
    bots: Vec<SimBot>,
    max_concurrent: u32,
    running: u32,
    last_tick_cycles: u32,
    ticks: u64,
}

/// A world shared by the pipeline, the ledger, the probe and the driver.
pub type SharedWorld = Arc<Mutex<World>>;

/// Locks a shared world (a poisoned lock is taken over: the world holds
/// plain numbers, always consistent between calls).
pub(crate) fn lock(world: &SharedWorld) -> MutexGuard<'_, World> {
    world.lock().unwrap_or_else(|p| p.into_inner())
}

impl World {
    /// A world of `bots` at their starting skill, with at most
    /// `max_concurrent` cycles per tick (0: no limit), its noise drawn from
    /// `seed`. Invalid parameters are refused, naming `bots[i].field`.
    pub fn new(bots: Vec<BotParams>, max_concurrent: u32, seed: u64) -> Result<World> {
        for (i, bot) in bots.iter().enumerate() {
            bot.validate(&format!("bots[{i}]"))?;
        }
        Ok(World {
            bots: bots
                .into_iter()
                .enumerate()
                .map(|(i, params)| SimBot {
                    skill: params.skill,
                    events: sorted(&params.events),
                    applied: 0,
                    params,
                    revenue: 0.0,
                    spent: 0.0,
                    cycles: 0,
                    energy: 0,
                    last_revenue: 0.0,
                    last_cycle: None,
                    ran: false,
                    asked: false,
                    asked_last: false,
                    granted: false,
                    grant_use: 1.0,
                    noise: stream(seed, Purpose::Noise, i),
                    eval: stream(seed, Purpose::Eval, i),
                })
                .map(|mut bot| {
                    bot.apply_events(0);
                    bot
                })
                .collect(),
            max_concurrent,
            running: 0,
            last_tick_cycles: 0,
            ticks: 0,
        })
    }

    /// This world behind a lock, to share.
    pub fn shared(self) -> SharedWorld {
        Arc::new(Mutex::new(self))
    }

    /// How many bots there are.
    pub fn len(&self) -> usize {
        self.bots.len()
    }

    /// Whether there are no bots.
    pub fn is_empty(&self) -> bool {
        self.bots.is_empty()
    }

    /// Ticks ended so far.
    pub fn ticks(&self) -> u64 {
        self.ticks
    }

    /// Bot `i`'s parameters.
    pub fn params(&self, i: usize) -> &BotParams {
        &self.bots[i].params
    }

    /// Bot `i`'s hidden skill (for the oracle and reports only).
    pub fn skill(&self, i: usize) -> f64 {
        self.bots[i].skill
    }

    /// Bot `i`'s revenue so far.
    pub fn revenue(&self, i: usize) -> f64 {
        self.bots[i].revenue
    }

    /// What bot `i`'s cycles have cost so far.
    pub fn spent(&self, i: usize) -> f64 {
        self.bots[i].spent
    }

    /// Bot `i`'s ledger: revenue minus what its cycles cost.
    pub fn profit(&self, i: usize) -> f64 {
        self.bots[i].revenue - self.bots[i].spent
    }

    /// Cycles run on bot `i`.
    pub fn cycles(&self, i: usize) -> u64 {
        self.bots[i].cycles
    }

    /// Energy spent on bot `i`.
    pub fn energy(&self, i: usize) -> u64 {
        self.bots[i].energy
    }

    /// Bot `i`'s revenue in the last ended tick.
    pub fn last_revenue(&self, i: usize) -> f64 {
        self.bots[i].last_revenue
    }

    /// Cycle slots left this tick; `None` when there is no limit.
    pub fn free_slots(&self) -> Option<u32> {
        (self.max_concurrent > 0).then(|| self.max_concurrent.saturating_sub(self.running))
    }

    /// Whether a cycle can start now.
    pub fn has_capacity(&self) -> bool {
        self.free_slots() != Some(0)
    }

    /// Cycles run in the last ended tick (what the simulated CPU shows).
    pub fn cycles_last_tick(&self) -> u32 {
        self.last_tick_cycles
    }

    /// Whether bot `i` may start a cycle now, under fair sharing. The bots
    /// competing for this tick's slots are ranked by how long they have
    /// waited since their last cycle (never is longest; ties rotate with the
    /// tick), and `i` is granted a cycle when a slot is free and fewer bots
    /// than there are slots rank before it. A bot competes when it asks in
    /// this tick or asked in the last, and has used at least half of its
    /// grants lately (a moving average, weight 0.2 for the newest): an
    /// engine that lets its grants go unused — a dead end its policy has
    /// learned to skip — holds no slot back. A grant does not take a slot;
    /// the cycle does.
    pub fn request_slot(&mut self, i: usize) -> bool {
        self.bots[i].asked = true;
        let granted = match self.free_slots() {
            None => true,
            Some(0) => false,
            Some(_) => {
                let n = self.bots.len() as u64;
                let turn = self.ticks % n;
                let key = |b: &SimBot, j: usize| {
                    let waited = b.last_cycle.map_or(0, |t| t + 1);
                    (waited, (j as u64 + n - turn) % n)
                };
                let mine = key(&self.bots[i], i);
                let before = self
                    .bots
                    .iter()
                    .enumerate()
                    .filter(|&(j, b)| {
                        j != i
                            && (b.asked || b.asked_last)
                            && b.grant_use >= GRANT_USE_TO_COMPETE
                            && key(b, j) < mine
                    })
                    .count();
                before < self.max_concurrent as usize
            }
        };
        self.bots[i].granted |= granted;
        granted
    }

    /// Whether bot `i` was granted a cycle slot this tick.
    pub fn granted(&self, i: usize) -> bool {
        self.bots[i].granted
    }

    /// Runs a cycle of `energy` on bot `i`: takes a slot, raises the skill,
    /// charges the cost. Refused, changing nothing, when no slot is left.
    pub fn run_cycle(&mut self, i: usize, energy: u32) -> Result<CycleEffect, NoCapacity> {
        if !self.has_capacity() {
            return Err(NoCapacity(self.max_concurrent));
        }
        self.running += 1;
        let bot = &mut self.bots[i];
        let before = bot.skill;
        bot.skill = (before + skill_gain(&bot.params, before, energy)).min(1.0);
        let cost = cycle_cost(&bot.params, energy);
        bot.spent += cost;
        bot.cycles += 1;
        bot.energy += u64::from(energy);
        bot.ran = true;
        Ok(CycleEffect {
            skill_before: before,
            skill_after: bot.skill,
            cost,
        })
    }

    /// An evaluation of bot `i`: its skill plus an error uniform in
    /// ±`eval_noise`, clamped to [0, 1]. Draws from the bot's eval stream.
    pub fn measure(&mut self, i: usize) -> f64 {
        let bot = &mut self.bots[i];
        let error = bot.params.eval_noise * symmetric(&mut bot.eval);
        (bot.skill + error).clamp(0.0, 1.0)
    }

    /// Sets bot `i`'s skill (a model bot's is its model's live accuracy,
    /// see [`super::model_bot`]), clamped to [0, 1].
    pub fn set_skill(&mut self, i: usize, skill: f64) {
        self.bots[i].skill = skill.clamp(0.0, 1.0);
    }

    /// Ends the tick: every bot earns its revenue at its current skill (one
    /// noise draw each), then drifts; the cycle slots free up; the events of
    /// the next tick apply ([`BotEvent`]).
    pub fn end_tick(&mut self) {
        let now = self.ticks;
        for bot in &mut self.bots {
            bot.asked_last = std::mem::take(&mut bot.asked);
            let ran = std::mem::take(&mut bot.ran);
            if ran {
                bot.last_cycle = Some(now);
            }
            if std::mem::take(&mut bot.granted) {
                let used = if ran { 1.0 } else { 0.0 };
                bot.grant_use += GRANT_USE_WEIGHT * (used - bot.grant_use);
            }
            let u = symmetric(&mut bot.noise);
            let p = &bot.params;
            bot.last_revenue = revenue(p.demand, bot.skill, p.noise, u);
            bot.revenue += bot.last_revenue;
            bot.skill = drifted(bot.skill, p.drift);
        }
        self.last_tick_cycles = self.running;
        self.running = 0;
        self.ticks += 1;
        for bot in &mut self.bots {
            bot.apply_events(self.ticks);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet(skill: f64) -> BotParams {
        BotParams {
            skill,
            noise: 0.0,
            drift: 0.1,
            gain: 0.5,
            half_energy: 10.0,
            cost_per_energy: 2.0,
            demand: 100.0,
            eval_noise: 0.0,
            events: Vec::new(),
        }
    }

    #[test]
    fn a_tick_by_hand() {
        let mut w = World::new(vec![quiet(0.6), quiet(0.5)], 0, 1).unwrap();
        // Bot 0: 0.6 + 0.5 · 0.4 · 10/20 = 0.7, cost 20.
        let e = w.run_cycle(0, 10).unwrap();
        assert!((e.skill_after - 0.7).abs() < 1e-12);
        assert_eq!(e.cost, 20.0);
        w.end_tick();
        // Revenue at the new skill, then drift: 70 earned, skill 0.63.
        assert!((w.revenue(0) - 70.0).abs() < 1e-9);
        assert!((w.profit(0) - 50.0).abs() < 1e-9);
        assert!((w.skill(0) - 0.63).abs() < 1e-12);
        // Bot 1 ran nothing: 50 earned, skill 0.45.
        assert!((w.revenue(1) - 50.0).abs() < 1e-9);
        assert!((w.skill(1) - 0.45).abs() < 1e-12);
        assert_eq!((w.cycles(0), w.energy(0), w.cycles(1)), (1, 10, 0));
        assert_eq!(w.cycles_last_tick(), 1);
        assert_eq!(w.ticks(), 1);
    }

    #[test]
    fn slots_limit_cycles_per_tick() {
        let mut w = World::new(vec![quiet(0.5); 3], 2, 1).unwrap();
        assert_eq!(w.free_slots(), Some(2));
        assert!(w.run_cycle(0, 1).is_ok());
        assert!(w.run_cycle(1, 1).is_ok());
        assert_eq!(w.run_cycle(2, 1), Err(NoCapacity(2)));
        assert_eq!(w.spent(2), 0.0);
        w.end_tick();
        assert_eq!(w.cycles_last_tick(), 2);
        assert!(w.run_cycle(2, 1).is_ok());
        assert_eq!(
            World::new(vec![quiet(0.5)], 0, 1).unwrap().free_slots(),
            None
        );
    }

    #[test]
    fn slots_go_to_the_bots_that_waited_longest() {
        let mut w = World::new(vec![quiet(0.5); 4], 2, 1).unwrap();
        // Tick 0: nobody competed before: a request is granted while a slot is free.
        assert!(w.request_slot(3));
        assert!(w.request_slot(0));
        w.run_cycle(0, 1).unwrap();
        assert!(w.request_slot(1));
        w.run_cycle(1, 1).unwrap();
        assert!(!w.request_slot(2));
        w.end_tick();
        // Tick 1: bots 2 and 3 never ran; they go first, whoever asks first.
        assert!(!w.request_slot(0));
        assert!(!w.request_slot(1));
        assert!(w.request_slot(3));
        w.run_cycle(3, 1).unwrap();
        assert!(w.request_slot(2));
        w.run_cycle(2, 1).unwrap();
        w.end_tick();
        // Tick 2: 0 and 1 (last ran at tick 0) go before 2 and 3 (tick 1).
        assert!(!w.request_slot(2));
        assert!(w.request_slot(1));
        assert!(w.request_slot(0));
        assert!(!w.request_slot(3));
        // Without a limit every request is granted.
        let mut open = World::new(vec![quiet(0.5); 2], 0, 1).unwrap();
        assert!(open.request_slot(0) && open.request_slot(1));
    }

    #[test]
    fn a_bot_that_leaves_its_grants_unused_stops_holding_slots_back() {
        // One slot. Bot 0 asks first every tick and never runs a cycle; bot
        // 1 asks second and runs whenever it is granted one.
        let mut w = World::new(vec![quiet(0.5); 2], 1, 1).unwrap();
        let mut ran = Vec::new();
        for t in 0..10 {
            w.request_slot(0);
            if w.request_slot(1) {
                w.run_cycle(1, 1).unwrap();
                ran.push(t);
            }
            w.end_tick();
        }
        // Bot 0 ranks first at ticks 0, 2, 3, 4 (tick 1 is bot 1's by the
        // rotating tie-break); its grant-use average falls 1, 0.8, 0.64,
        // 0.512, 0.41: from tick 5 it no longer competes.
        assert_eq!(ran, vec![1, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn every_bot_draws_its_own_noise_whatever_the_policy() {
        let noisy = BotParams {
            noise: 0.5,
            ..quiet(0.5)
        };
        let mut a = World::new(vec![noisy.clone(), noisy.clone()], 0, 9).unwrap();
        let mut b = World::new(vec![noisy.clone(), noisy], 0, 9).unwrap();
        b.run_cycle(0, 50).unwrap();
        b.measure(1);
        a.end_tick();
        b.end_tick();
        // Bot 1's revenue is the same whether or not bot 0 ran or bot 1 was measured.
        assert_eq!(a.revenue(1), b.revenue(1));
        assert_ne!(a.revenue(0), a.revenue(1));
        let mut c = World::new(vec![quiet(0.5), quiet(0.5)], 0, 10).unwrap();
        c.end_tick();
        assert_eq!(c.revenue(0), 50.0);
    }

    #[test]
    fn uniform_draws_stay_in_range_and_streams_differ() {
        let mut r = stream(3, Purpose::Noise, 0);
        for _ in 0..1000 {
            let u = symmetric(&mut r);
            assert!((-1.0..1.0).contains(&u));
        }
        let mut x = stream(3, Purpose::Noise, 0);
        let mut y = stream(3, Purpose::Eval, 0);
        let mut z = stream(4, Purpose::Noise, 0);
        let (a, b, c) = (unit(&mut x), unit(&mut y), unit(&mut z));
        assert!(a != b && a != c && b != c);
        assert_eq!(unit(&mut stream(3, Purpose::Noise, 0)), a);
    }

    #[test]
    fn invalid_bots_are_refused() {
        let bad = BotParams {
            drift: f64::NAN,
            ..quiet(0.5)
        };
        assert_eq!(
            World::new(vec![quiet(0.5), bad], 0, 1)
                .unwrap_err()
                .to_string(),
            "bots[1].drift must be a finite number, got NaN"
        );
    }

    #[test]
    fn events_apply_at_the_start_of_their_tick() {
        use crate::sim::BotEvent;
        let bot = BotParams {
            events: vec![
                BotEvent {
                    skill: Some(0.2),
                    demand: Some(50.0),
                    ..BotEvent::at(2)
                },
                BotEvent {
                    gain: Some(0.0),
                    ..BotEvent::at(0)
                },
            ],
            ..quiet(0.5)
        };
        let mut w = World::new(vec![bot], 0, 1).unwrap();
        // The tick-0 event applied at once: a cycle gains nothing.
        assert_eq!(w.params(0).gain, 0.0);
        assert_eq!(w.run_cycle(0, 10).unwrap().skill_after, 0.5);
        w.end_tick();
        w.end_tick();
        // Tick 2 starts with the skill set and the new demand, before any cycle.
        assert_eq!((w.skill(0), w.params(0).demand), (0.2, 50.0));
        w.end_tick();
        // 100 · 0.5 + 100 · 0.45 + 50 · 0.2 earned.
        assert!((w.revenue(0) - 105.0).abs() < 1e-9, "{}", w.revenue(0));
    }

    #[test]
    fn measurement_error_is_bounded_by_eval_noise() {
        let bot = BotParams {
            eval_noise: 0.01,
            ..quiet(0.5)
        };
        let mut w = World::new(vec![bot], 0, 5).unwrap();
        for _ in 0..100 {
            let m = w.measure(0);
            assert!((m - 0.5).abs() <= 0.01 + 1e-12, "{m}");
        }
    }
}
