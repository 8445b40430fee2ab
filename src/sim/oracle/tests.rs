//! The oracle's plan: by hand, settling, checkpoints, events and slot prices.

use super::*;
use crate::sim::BotEvent;

fn bot() -> BotParams {
    BotParams {
        skill: 0.5,
        drift: 0.02,
        demand: 100.0,
        noise: 0.0,
        gain: 0.4,
        half_energy: 10.0,
        cost_per_energy: 1.0,
        eval_noise: 0.0,
        events: Vec::new(),
    }
}

/// Every row of a bot's plan by backward induction with no shortcut:
/// `exhaustive` tries every energy, else the plan's own search.
fn every_row(plan: &BotPlan, exhaustive: bool) -> Vec<Row> {
    let mut rows = vec![Row::from(vec![0.0; GRID])];
    let mut hints: Hints = vec![1; GRID].into();
    for t in (0..plan.horizon).rev() {
        let r = &plan.regimes[plan.regime(t)];
        let set = plan.set_at(t + 1);
        let next = rows.last().unwrap().clone();
        let row: Row = if exhaustive {
            (0..GRID)
                .map(|j| {
                    let s = grid_skill(j);
                    let best = (1..=MAX_ENERGY)
                        .map(|e| plan.q(r, set, &next, s, e) - r.price)
                        .fold(f64::NEG_INFINITY, f64::max);
                    best.max(plan.q(r, set, &next, s, 0))
                })
                .collect()
        } else {
            plan.search(t, &next, &mut hints)
        };
        rows.push(row);
    }
    rows.reverse();
    rows
}

/// The largest difference between two rows, relative to the larger value.
fn gap(a: &[f64], b: &[f64]) -> f64 {
    let scale = a.iter().chain(b).fold(1.0, |m: f64, v| m.max(v.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
        / scale
}

#[test]
fn interpolation_is_linear_between_grid_points() {
    let row: Vec<f64> = (0..GRID).map(|j| (j * j) as f64).collect();
    assert_eq!(interpolate(&row, 0.0), 0.0);
    assert_eq!(interpolate(&row, 1.0), ((GRID - 1) * (GRID - 1)) as f64);
    let s = 1.5 / (GRID - 1) as f64;
    assert!((interpolate(&row, s) - 2.5).abs() < 1e-9);
}

#[test]
fn last_tick_decision_by_hand() {
    // At the last tick only this tick's revenue counts:
    // Q(E) = 100 · (0.5 + 0.4 · 0.5 · E/(E+10)) − E; best at E = √200 − 10 ≈ 4.14:
    // Q(4) − Q(0) = 20·4/14 − 4.
    let mut plan = OraclePlan::new(&[bot()], 10, 0).unwrap();
    let (e, adv) = plan.best(0, 9, 0.5);
    assert_eq!(e, 4);
    assert!((adv - (20.0 * 4.0 / 14.0 - 4.0)).abs() < 1e-9, "{adv}");
    assert_eq!(plan.best(0, 10, 0.5), (0, 0.0));
    // Cost 30 per energy: E = 1 earns 100 · 0.4 · 0.5 / 11 ≈ 1.8 < 30.
    let dear = BotParams {
        cost_per_energy: 30.0,
        ..bot()
    };
    assert_eq!(OraclePlan::new(&[dear], 5, 0).unwrap().best(0, 4, 0.5).0, 0);
}

/// The skill the oracle keeps a lone bot at after `ticks` ticks.
fn skill_after(bot: &BotParams, horizon: u64, ticks: u64) -> f64 {
    let mut plan = OraclePlan::new(std::slice::from_ref(bot), horizon, 0).unwrap();
    let mut s = bot.skill;
    for t in 0..ticks {
        let (e, _) = plan.best(0, t, s);
        s += crate::sim::skill_gain(bot, s, e);
        s *= 1.0 - bot.drift;
    }
    s
}

#[test]
fn a_longer_horizon_invests_more_with_no_cap_on_it() {
    let mut plan = OraclePlan::new(&[bot()], 400, 0).unwrap();
    let (late, _) = plan.best(0, 399, 0.5);
    let (early, _) = plan.best(0, 0, 0.5);
    assert!(early > late, "{early} vs {late}");
    // A bot that barely drifts: an improvement lasts, so the further the
    // horizon the higher it is worth keeping the bot, past the 2048 ticks
    // an earlier oracle planned at most.
    // At cost 4000 a unit of energy pays only over more than ~3000 ticks.
    let slow = BotParams {
        drift: 0.0002,
        cost_per_energy: 4000.0,
        ..bot()
    };
    let near = skill_after(&slow, 2_500, 50);
    let far = skill_after(&slow, 6_000, 50);
    assert!(far > near + 0.01, "{far} vs {near}");
}

#[test]
fn the_ladder_search_finds_the_best_energy() {
    let plan = BotPlan::new(&bot(), 300, &[(0, 0.0)]);
    let (ours, exact) = (every_row(&plan, false), every_row(&plan, true));
    for t in [0, 150, 299] {
        assert!(
            gap(&ours[t], &exact[t]) < 1e-9,
            "tick {t}: {}",
            gap(&ours[t], &exact[t])
        );
    }
}

#[test]
fn the_plan_settles_and_settled_rows_are_exact() {
    let plan = BotPlan::new(&bot(), 20_000, &[(0, 0.0)]);
    let settled = plan.settled[0].as_ref().unwrap();
    assert!(20_000 - settled.until < 3_000, "{}", settled.until);
    // A bot with no drift and no gain settles at once (its steps are D · s).
    let still = BotParams {
        drift: 0.0,
        gain: 0.0,
        ..bot()
    };
    let plan = BotPlan::new(&still, 1_000_000, &[(0, 0.0)]);
    assert!(plan.settled[0].as_ref().unwrap().until > 1_000_000 - 10);
    // The settled rows equal plain backward induction.
    let mut short = BotPlan::new(&bot(), 3_000, &[(0, 0.0)]);
    assert!(short.settled[0].is_some());
    let exact = every_row(&short, false);
    for t in [1, 2, 100, 1_500, 2_999] {
        let g = gap(&short.values(t), &exact[t as usize]);
        assert!(g < 1e-7, "tick {t}: {g}");
    }
}

#[test]
fn rows_computed_again_from_checkpoints_are_the_same() {
    let bumpy = BotParams {
        drift: 0.001,
        events: vec![BotEvent {
            skill: Some(0.1),
            gain: Some(0.7),
            ..BotEvent::at(700)
        }],
        ..bot()
    };
    let mut plan = BotPlan::new(&bumpy, 1_200, &[(0, 3.0), (700, 1.0)]);
    assert!(plan.checkpoints.len() > 3, "{}", plan.checkpoints.len());
    // The rows of the backward pass, every one kept.
    let mut rows = vec![Row::from(vec![0.0; GRID])];
    let mut hints: Hints = vec![1; GRID].into();
    for t in (0..1_200).rev() {
        let next = plan.row(t, rows.last().unwrap(), &mut hints);
        rows.push(next);
    }
    rows.reverse();
    for t in 1..=1_200u64 {
        assert_eq!(plan.values(t), rows[t as usize], "tick {t}");
    }
}

#[test]
fn a_known_reset_ahead_stops_investment() {
    // At tick 50 the bot's skill is set to 0.2 whatever happens before: a
    // cycle at tick 49 only pays for one tick.
    let reset = BotParams {
        events: vec![BotEvent {
            skill: Some(0.2),
            ..BotEvent::at(50)
        }],
        ..bot()
    };
    let mut plan = OraclePlan::new(&[reset, bot()], 200, 0).unwrap();
    let (with_reset, _) = plan.best(0, 49, 0.5);
    let (without, _) = plan.best(1, 49, 0.5);
    assert!(with_reset < without, "{with_reset} vs {without}");
    assert_eq!(with_reset, plan.best(1, 199, 0.5).0);
}

#[test]
fn scarce_slots_have_a_price_that_stretches_and_enlarges_cycles() {
    let fleet = vec![bot(); 6];
    let mut free = OraclePlan::new(&fleet, 2_000, 0).unwrap();
    let mut scarce = OraclePlan::new(&fleet, 2_000, 1).unwrap();
    assert_eq!(free.price(0), 0.0);
    assert!(scarce.price(0) > 0.0);
    let (small, _) = free.best(0, 100, 0.6);
    let (large, _) = scarce.best(0, 100, 0.6);
    assert!(large > small, "{large} vs {small}");
    // Enough slots for everyone: no price.
    assert_eq!(OraclePlan::new(&fleet, 2_000, 6).unwrap().price(0), 0.0);
}

#[test]
fn choose_orders_by_advantage_fills_slots_and_skips_dead_ends() {
    let low = BotParams {
        skill: 0.2,
        ..bot()
    };
    let dead = BotParams { gain: 0.0, ..bot() };
    let bots = vec![bot(), dead, low];
    let world = World::new(bots.clone(), 0, 1).unwrap();
    let mut plan = OraclePlan::new(&bots, 300, 0).unwrap();
    let mut out = Vec::new();
    plan.choose(0, &world, &mut out);
    let order: Vec<usize> = out.iter().map(|c| c.0).collect();
    assert_eq!(order, vec![2, 0]);
    let mut one = OraclePlan::new(&bots, 300, 1).unwrap();
    out.clear();
    one.choose(0, &world, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, 2);
    let bad = BotParams {
        half_energy: 0.0,
        ..bot()
    };
    assert!(OraclePlan::new(&[bot(), bad], 10, 0).is_err());
}
