//! The temporal-difference loss of a DQN step and its gradient w.r.t. Q.

/// The Q-values a TD step reads, each `[batch][actions]`, row-major.
pub(crate) struct TdInputs<'a> {
    /// The online network's Q-values of the states.
    pub q: &'a [f32],
    /// The Q-values of the next states that choose the next action (its
    /// argmax): the online network's for double DQN, the target's for DQN.
    pub next_choose: &'a [f32],
    /// The Q-values of the next states that value that action: the target
    /// network's (the online network's when there is no target network).
    pub next_value: &'a [f32],
}

/// One step's loss, and `dL/dQ` of the action taken in each row.
///
/// Per row: `y = r + γ·next_value[argmax next_choose]`, `diff = q[a] − y`;
/// the loss is the mean Huber loss (δ = 1) of the diffs and
/// `dq[row] = clamp(diff, −1, 1) / batch` (the derivative w.r.t. `q[row][a]`;
/// it is 0 for every other action). Ties in the argmax go to the lowest
/// action. The synergy DQN's next state is its state (SPEC §5 stores
/// `(s, i, r, s)`), so it passes `q` as `next_choose`.
pub(crate) fn td_loss(
    inputs: &TdInputs<'_>,
    actions: &[u8],
    rewards: &[f32],
    gamma: f32,
    dq: &mut [f32],
) -> f64 {
    let batch = actions.len();
    let d = inputs.q.len() / batch.max(1);
    let mut loss = 0.0;
    for (row, (&a, &r)) in actions.iter().zip(rewards).enumerate() {
        let at = row * d..(row + 1) * d;
        let choose = &inputs.next_choose[at.clone()];
        let best = (1..d).fold(0, |best, j| if choose[j] > choose[best] { j } else { best });
        let y = r + gamma * inputs.next_value[row * d + best];
        let diff = inputs.q[at][usize::from(a)] - y;
        let abs = f64::from(diff.abs());
        loss += if abs <= 1.0 {
            0.5 * abs * abs
        } else {
            abs - 0.5
        };
        dq[row] = diff.clamp(-1.0, 1.0) / batch as f32;
    }
    loss / batch as f64
}
