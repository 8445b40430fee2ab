//! The learning rules of SPEC §3 (and the neural strategies' dispatch), the
//! adaptive α/γ rule and the exploration schedules.

use serde::{Deserialize, Serialize};
use std::borrow::Cow;

use super::{Action, PolicyState, SelfImprovementPolicy, Strategy};
use crate::Result;
use crate::error::ensure_finite;

/// Traces below this are dropped (SPEC §3).
pub(crate) const MIN_TRACE: f64 = 1e-6;
/// At most this many eligibility traces are kept; past it the smallest goes.
/// Only reached when γ·λ is close to 1 (at the default 0.81 a trace lives
/// 66 updates), and it keeps one update O(traces), not O(table).
pub(crate) const MAX_TRACES: usize = 1024;
/// Adaptive γ looks at the variance of this many latest rewards.
pub(crate) const RECENT_REWARDS: usize = 100;

/// The eligibility of one state–action pair under `q_lambda`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Trace {
    pub(crate) state: PolicyState,
    pub(crate) action: Action,
    pub(crate) trace: f64,
}

/// `value` if finite, else the error an overflowing update reports.
fn checked(what: &'static str, value: f64) -> Result<f64> {
    ensure_finite(Cow::Borrowed(what), value)
}

const TD_OVERFLOW: &str = "policy TD error (it overflowed)";
const Q_OVERFLOW: &str = "policy Q-value after the update (it overflowed)";
const V_OVERFLOW: &str = "policy critic value after the update (it overflowed)";

impl SelfImprovementPolicy {
    /// Learns from taking `action` in `state`, receiving `reward` and landing
    /// in `next` (`None` at the end of an episode: the next-value term is 0).
    /// Returns the new `Q(state, action)`.
    ///
    /// The rule is the configured [`Strategy`]'s (SPEC §3), with the current
    /// α and γ; with `adaptive`, α and γ are adapted afterwards. A NaN or
    /// infinite reward is [`Error::NonFinite`](crate::Error::NonFinite), and so is an update that
    /// would overflow a value; either way nothing changes.
    ///
    /// ```
    /// use kaizen::policy::{Action, PolicyConfig, PolicyState, SelfImprovementPolicy};
    ///
    /// let mut policy = SelfImprovementPolicy::new(PolicyConfig::default()).unwrap();
    /// let s = PolicyState::default();
    /// // q = 0 + 0.5·(1 + 0.9·max Q(s) − 0) = 0.5
    /// assert_eq!(policy.update(&s, Action::Run, 1.0, Some(&s)).unwrap(), 0.5);
    /// assert!(policy.update(&s, Action::Run, f64::NAN, None).is_err());
    /// assert_eq!(policy.episodes(), 1);
    /// ```
    pub fn update(
        &mut self,
        state: &PolicyState,
        action: Action,
        reward: f64,
        next: Option<&PolicyState>,
    ) -> Result<f64> {
        let reward = ensure_finite("policy reward", reward)?;
        let gamma = self.config.gamma;
        let q = match self.config.strategy {
            Strategy::QLearning => {
                let next_value = next.map_or(0.0, |n| self.score(n));
                self.one_step(state, action, reward + gamma * next_value)?
            }
            Strategy::Sarsa => {
                let next_value = next.map_or(0.0, |n| self.q(n, action));
                self.one_step(state, action, reward + gamma * next_value)?
            }
            Strategy::QLambda => self.q_lambda(state, action, reward, next)?,
            Strategy::ActorCritic => self.actor_critic(state, action, reward, next)?,
            Strategy::Dqn | Strategy::DoubleDqn | Strategy::DeepQ => {
                // A neural policy always has its network (new, from_file).
                let Some(net) = self.neural.as_mut() else {
                    return Err(crate::Error::invalid(
                        "policy network",
                        self.config.strategy,
                        "a network for a neural strategy",
                    ));
                };
                net.update(state, action, reward, next, gamma, &mut self.rng)?;
                self.q(state, action)
            }
        };
        self.adapt(reward);
        Ok(q)
    }

    /// `q ← q + α(target − q)`.
    fn one_step(&mut self, state: &PolicyState, action: Action, target: f64) -> Result<f64> {
        let q = self.q(state, action);
        let new = checked(Q_OVERFLOW, q + self.config.alpha * (target - q))?;
        self.table.entry(*state).or_default()[action.index()] = new;
        Ok(new)
    }

    /// `δ = r + γ·max Q(s') − q`; `e(s,a) += 1`; every traced pair gets
    /// `Q += α·δ·e`, then `e ← γλe`; traces below [`MIN_TRACE`] are dropped.
    fn q_lambda(
        &mut self,
        state: &PolicyState,
        action: Action,
        reward: f64,
        next: Option<&PolicyState>,
    ) -> Result<f64> {
        let next_value = next.map_or(0.0, |n| self.score(n));
        let delta = checked(
            TD_OVERFLOW,
            reward + self.config.gamma * next_value - self.q(state, action),
        )?;
        let step = self.config.alpha * delta;
        let current = self
            .traces
            .iter()
            .position(|t| t.state == *state && t.action == action);
        // Check every new value before changing anything, so an overflow
        // leaves the policy as it was.
        if current.is_none() {
            checked(Q_OVERFLOW, self.q(state, action) + step)?;
        }
        for (i, t) in self.traces.iter().enumerate() {
            let e = t.trace + if Some(i) == current { 1.0 } else { 0.0 };
            checked(Q_OVERFLOW, self.q(&t.state, t.action) + step * e)?;
        }
        match current {
            Some(i) => self.traces[i].trace += 1.0,
            None => self.traces.push(Trace {
                state: *state,
                action,
                trace: 1.0,
            }),
        }
        let decay = self.config.gamma * self.config.lambda;
        for t in &mut self.traces {
            self.table.entry(t.state).or_default()[t.action.index()] += step * t.trace;
            t.trace *= decay;
        }
        self.traces.retain(|t| t.trace >= MIN_TRACE);
        if self.traces.len() > MAX_TRACES {
            let smallest = self
                .traces
                .iter()
                .enumerate()
                .min_by(|(_, a), (_, b)| a.trace.total_cmp(&b.trace))
                .map(|(i, _)| i);
            if let Some(i) = smallest {
                self.traces.remove(i);
            }
        }
        Ok(self.q(state, action))
    }

    /// `td = r + γ·V(s') − V(s)`; `V(s) += α·td`; `Q(s,a) += α·td`.
    fn actor_critic(
        &mut self,
        state: &PolicyState,
        action: Action,
        reward: f64,
        next: Option<&PolicyState>,
    ) -> Result<f64> {
        let next_value = next.map_or(0.0, |n| self.state_value(n));
        let v = self.state_value(state);
        let td = checked(TD_OVERFLOW, reward + self.config.gamma * next_value - v)?;
        let step = self.config.alpha * td;
        let new_v = checked(V_OVERFLOW, v + step)?;
        let new_q = checked(Q_OVERFLOW, self.q(state, action) + step)?;
        self.critic.insert(*state, new_v);
        self.table.entry(*state).or_default()[action.index()] = new_q;
        Ok(new_q)
    }

    /// Counts the update and moves ε and the temperature along their
    /// schedules; with `adaptive`, `α = max(0.1, 1/(1 + episodes))` and,
    /// with ≥ 2 of the last 100 rewards,
    /// `γ = clamp(0.9/(1 + population variance), 0.5, 0.99)`.
    fn adapt(&mut self, reward: f64) {
        self.episodes = self.episodes.saturating_add(1);
        self.apply_schedules();
        if !self.config.adaptive {
            return;
        }
        self.config.alpha = (1.0 / (1.0 + self.episodes as f64)).max(0.1);
        if self.recent_rewards.len() == RECENT_REWARDS {
            self.recent_rewards.pop_front();
        }
        self.recent_rewards.push_back(reward);
        let n = self.recent_rewards.len();
        if n >= 2 {
            let n = n as f64;
            // Σ r/n cannot overflow; a deviation or its square can, but only
            // when the variance is so large that γ is at its floor anyway.
            let mean = self.recent_rewards.iter().map(|r| r / n).sum::<f64>();
            let variance = self
                .recent_rewards
                .iter()
                .map(|r| (r - mean) * (r - mean))
                .sum::<f64>()
                / n;
            self.config.gamma = (0.9 / (1.0 + variance)).clamp(0.5, 0.99);
        }
    }

    /// ε and the temperature as their schedules give them after the
    /// updates so far.
    pub(super) fn apply_schedules(&mut self) {
        let n = self.episodes;
        self.config.epsilon = self.config.epsilon_schedule.value(self.starts.epsilon, n);
        self.config.temperature = self
            .config
            .temperature_schedule
            .value(self.starts.temperature, n);
    }
}
