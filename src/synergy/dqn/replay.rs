//! The DQN's replay buffer: a FIFO of transitions in flat `f32` arrays.
//!
//! A transition is `(s, a, r, s')` with `s' = s` (SPEC §5), so only `s`, the
//! action and the reward are stored: `d` floats, one byte and one float.
//! When full, a new transition overwrites the oldest. Index 0 is always the
//! oldest transition, however the ring is laid out, so a saved replay (oldest
//! first) indexes exactly like the buffer it came from.

use rand::Rng;
use serde::{Deserialize, Serialize};

/// Transitions of `d` state values each, at most `capacity` of them.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Replay {
    d: usize,
    capacity: usize,
    /// Physical position of the oldest transition once the ring is full.
    start: usize,
    states: Vec<f32>,
    actions: Vec<u8>,
    rewards: Vec<f32>,
}

/// The replay as stored in the format-1 `synergy-dqn.json`, oldest
/// transition first.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ReplayFile {
    /// `d` values per transition.
    states: Vec<f32>,
    actions: Vec<u8>,
    rewards: Vec<f32>,
}

impl Replay {
    /// An empty buffer; its arrays are reserved at full size up front.
    pub fn new(d: usize, capacity: usize) -> Self {
        Self {
            d,
            capacity,
            start: 0,
            states: Vec::with_capacity(capacity * d),
            actions: Vec::with_capacity(capacity),
            rewards: Vec::with_capacity(capacity),
        }
    }

    /// Number of transitions held.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// Adds a transition, dropping the oldest when full. `state.len() == d`.
    pub fn push(&mut self, state: &[f32], action: u8, reward: f32) {
        if self.len() < self.capacity {
            self.states.extend_from_slice(state);
            self.actions.push(action);
            self.rewards.push(reward);
        } else {
            let at = self.start;
            self.states[at * self.d..(at + 1) * self.d].copy_from_slice(state);
            self.actions[at] = action;
            self.rewards[at] = reward;
            self.start = (at + 1) % self.capacity;
        }
    }

    /// The `i`-th oldest transition (`i < len`): state, action, reward.
    pub fn get(&self, i: usize) -> (&[f32], u8, f32) {
        let at = self.start + i;
        let at = if at >= self.len() {
            at - self.len()
        } else {
            at
        };
        (
            &self.states[at * self.d..(at + 1) * self.d],
            self.actions[at],
            self.rewards[at],
        )
    }

    /// Heap bytes reserved by the buffer.
    pub fn heap_bytes(&self) -> usize {
        4 * self.states.capacity() + self.actions.capacity() + 4 * self.rewards.capacity()
    }

    /// The transitions, oldest first, as format 1 saved them.
    #[cfg(test)]
    pub fn to_file(&self) -> ReplayFile {
        let mut file = ReplayFile {
            states: Vec::with_capacity(self.states.len()),
            actions: Vec::with_capacity(self.len()),
            rewards: Vec::with_capacity(self.len()),
        };
        for i in 0..self.len() {
            let (s, a, r) = self.get(i);
            file.states.extend_from_slice(s);
            file.actions.push(a);
            file.rewards.push(r);
        }
        file
    }

    /// A buffer from a saved file; keeps the newest `capacity` transitions.
    /// `Err` says what is inconsistent.
    pub fn from_file(file: &ReplayFile, d: usize, capacity: usize) -> Result<Self, String> {
        Self::from_columns(&file.states, &file.actions, &file.rewards, d, capacity)
    }

    /// A buffer from saved columns (oldest transition first: `d` state values,
    /// an action and a reward per transition); keeps the newest `capacity`.
    /// `Err` says what is inconsistent.
    pub fn from_columns(
        states: &[f32],
        actions: &[u8],
        rewards: &[f32],
        d: usize,
        capacity: usize,
    ) -> Result<Self, String> {
        let n = actions.len();
        if rewards.len() != n || states.len() != n * d {
            return Err(format!(
                "replay holds {} actions, {} rewards and {} state values; expected {d} state values per transition",
                n,
                rewards.len(),
                states.len()
            ));
        }
        if let Some(a) = actions.iter().find(|&&a| usize::from(a) >= d) {
            return Err(format!("replay action {a} is not below {d}"));
        }
        if let Some(x) = states.iter().chain(rewards).find(|x| !x.is_finite()) {
            return Err(format!("replay holds the non-finite value {x}"));
        }
        let mut replay = Self::new(d, capacity);
        for i in n.saturating_sub(capacity)..n {
            replay.push(&states[i * d..(i + 1) * d], actions[i], rewards[i]);
        }
        Ok(replay)
    }
}

/// Draws `k ≤ n` distinct indices below `n`, uniformly and in draw order,
/// into `out`: a partial Fisher–Yates shuffle (for `i` in `0..k`, swap
/// position `i` with a uniform `j` in `i..n`; the same draws as `rand`'s
/// in-place sampler). `perm` is scratch holding `0, 1, 2, …` on entry and on
/// return (the swaps are undone), so a draw costs `O(k)`, not `O(n)`.
pub(crate) fn sample(
    rng: &mut impl Rng,
    n: usize,
    k: usize,
    perm: &mut Vec<u32>,
    out: &mut Vec<u32>,
) {
    if perm.len() < n {
        let from = perm.len() as u32;
        perm.extend(from..n as u32);
    }
    out.clear();
    for i in 0..k {
        let j = rng.random_range(i as u32..n as u32);
        perm.swap(i, j as usize);
        out.push(j);
    }
    // `out` held the swap partners; undo the swaps newest first while
    // reading off the sample.
    for i in (0..k).rev() {
        let j = out[i] as usize;
        let drawn = perm[i];
        perm.swap(i, j);
        out[i] = drawn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn sample_is_rands_in_place_sampler_without_its_allocation() {
        let mut perm = Vec::new();
        let mut out = Vec::new();
        for (n, k, seed) in [(1000, 32, 1), (10, 10, 2), (5, 1, 3), (1, 1, 4), (3, 0, 5)] {
            let mut a = ChaCha8Rng::seed_from_u64(seed);
            let mut b = a.clone();
            sample(&mut a, n, k, &mut perm, &mut out);
            // rand's own in-place variant, written out.
            let mut all: Vec<u32> = (0..n as u32).collect();
            for i in 0..k {
                let j = b.random_range(i as u32..n as u32);
                all.swap(i, j as usize);
            }
            assert_eq!(out, all[..k]);
            assert_eq!(a, b);
            // Distinct, in range, and the scratch is back to 0, 1, 2, ….
            let mut sorted = out.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), k);
            assert!(out.iter().all(|&i| (i as usize) < n));
            assert!(perm.iter().enumerate().all(|(i, &p)| p as usize == i));
        }
        // Uniform: every index of 0..8 drawn about equally often, 3 at a time.
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let mut counts = [0u32; 8];
        for _ in 0..8000 {
            sample(&mut rng, 8, 3, &mut perm, &mut out);
            for &i in &out {
                counts[i as usize] += 1;
            }
        }
        assert!(
            counts.iter().all(|&c| (2800..3200).contains(&c)),
            "{counts:?}"
        );
    }

    fn filled(capacity: usize, n: usize) -> Replay {
        let mut r = Replay::new(2, capacity);
        for i in 0..n {
            let x = i as f32;
            r.push(&[x, -x], (i % 2) as u8, 10.0 * x);
        }
        r
    }

    #[test]
    fn fifo_keeps_the_newest_and_indexes_oldest_first() {
        let r = filled(3, 2);
        assert_eq!(r.len(), 2);
        assert_eq!(r.get(0), (&[0.0, -0.0][..], 0, 0.0));
        let r = filled(3, 5);
        assert_eq!(r.len(), 3);
        let got: Vec<_> = (0..3).map(|i| r.get(i).2).collect();
        assert_eq!(got, [20.0, 30.0, 40.0]);
        assert_eq!(r.get(2), (&[4.0, -4.0][..], 0, 40.0));
        // Never grows past its reservation.
        assert_eq!(r.heap_bytes(), 3 * (2 * 4 + 1 + 4));
    }

    #[test]
    fn file_round_trip_keeps_the_order() {
        let r = filled(4, 7);
        let file = r.to_file();
        assert_eq!(file.rewards, [30.0, 40.0, 50.0, 60.0]);
        let back = Replay::from_file(&file, 2, 4).unwrap();
        for i in 0..4 {
            assert_eq!(back.get(i), r.get(i));
        }
        // A smaller capacity keeps the newest.
        let small = Replay::from_file(&file, 2, 2).unwrap();
        assert_eq!(small.len(), 2);
        assert_eq!(small.get(0), r.get(2));
        let json = serde_json::to_string(&file).unwrap();
        let file2: ReplayFile = serde_json::from_str(&json).unwrap();
        assert_eq!(file2.states, file.states);
    }

    #[test]
    fn inconsistent_files_are_refused() {
        let bad = |states: Vec<f32>, actions: Vec<u8>, rewards: Vec<f32>| {
            Replay::from_file(
                &ReplayFile {
                    states,
                    actions,
                    rewards,
                },
                2,
                10,
            )
            .unwrap_err()
        };
        assert!(bad(vec![0.0; 3], vec![0, 1], vec![0.0; 2]).contains("state values"));
        assert!(bad(vec![0.0; 4], vec![0, 1], vec![0.0; 1]).contains("rewards"));
        assert!(bad(vec![0.0; 4], vec![0, 2], vec![0.0; 2]).contains("action 2"));
        assert!(bad(vec![0.0, f32::INFINITY], vec![0], vec![0.0]).contains("non-finite"));
        assert!(bad(vec![0.0; 2], vec![0], vec![f32::NAN]).contains("non-finite"));
    }
}
