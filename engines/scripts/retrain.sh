#!/bin/sh
# An example improvement pipeline for `kaizen run`.
#
# kaizen runs it with KAIZEN_BOT (the bot's name) and KAIZEN_ENERGY (the
# cycle's budget, 1..=100) in the environment. Anything may be printed; the
# last line of stdout that is a JSON object is the cycle's result. A non-zero
# exit status is a failed cycle (the end of stderr is kept as the reason).
set -eu
bot="${KAIZEN_BOT:?kaizen sets KAIZEN_BOT}"
energy="${KAIZEN_ENERGY:?kaizen sets KAIZEN_ENERGY}"
echo "retraining $bot with energy $energy"
# A real pipeline would retrain, evaluate and deploy here. This one reports
# an improvement that grows with the energy, with diminishing returns.
awk -v e="$energy" -v bot="$bot" 'BEGIN {
    gain = 2.0 * e / (e + 10.0)
    cost = 0.05 * e
    printf "{\"roi\":{\"income\":%.4f,\"cost\":%.4f,\"roi\":%.4f},", gain, cost, gain - cost
    printf "\"package\":\"%s-model\",\"modules\":[\"%s-model\"],", bot, bot
    printf "\"metrics\":{\"synergy_roi\":%.4f,\"synergy_efficiency\":%.4f}}\n", gain / 10.0, (gain - cost) / e
}'
