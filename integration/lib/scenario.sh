# One scenario, in its own process: bash scenario.sh CLIENT SCENARIO (env from run.sh).
set -euo pipefail
CLIENT=$1
SCENARIO=$2
ID="$RUNTIME-$SCENARIO"
export CLIENT ID
. "$INT/lib/common.sh"
. "$INT/lib/$CLIENT.sh"
trap '"${CLIENT}_cleanup" >/dev/null 2>&1 || true' EXIT
if declare -F "${CLIENT}_begin" >/dev/null; then "${CLIENT}_begin"; fi
note "$CLIENT $SCENARIO with $RUNTIME ($(date -u +%T))"
"${CLIENT}_${SCENARIO//-/_}"
note "ok"
