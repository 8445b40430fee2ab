//! The double-DQN temporal-difference loss and its gradient w.r.t. Q.

/// One double-DQN step's loss, and `dL/dQ` of the action taken in each row.
///
/// `q` and `q_target` are the online and target Q-values of the batch
/// (`[batch][d]`, row-major). The next state of every transition is its
/// state (SPEC §5 stores `(s, i, r, s)`), so `argmax_a Q_online(s', a)` is
/// read from `q` itself. Per row: `y = r + γ·q_target[argmax q]`,
/// `diff = q[a] − y`; the loss is the mean Huber loss (δ = 1) of the diffs
/// and `dq[row] = clamp(diff, −1, 1) / batch` (the derivative w.r.t.
/// `q[row][a]`; it is 0 for every other action). Ties in the argmax go to
/// the lowest action.
pub(super) fn td_loss(
    q: &[f32],
    q_target: &[f32],
    actions: &[u8],
    rewards: &[f32],
    gamma: f32,
    dq: &mut [f32],
) -> f64 {
    let batch = actions.len();
    let d = q.len() / batch.max(1);
    let mut loss = 0.0;
    for (row, (&a, &r)) in actions.iter().zip(rewards).enumerate() {
        let qs = &q[row * d..(row + 1) * d];
        let best = (1..d).fold(0, |best, j| if qs[j] > qs[best] { j } else { best });
        let y = r + gamma * q_target[row * d + best];
        let diff = qs[usize::from(a)] - y;
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
