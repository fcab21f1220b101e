#!/bin/sh
# Prints the path of librdkafka's mock Kafka broker (a real-protocol, in-memory test cluster),
# building it first when it is missing: installs Debian's librdkafka-dev and gcc, then builds
# ../shared/tools/kafka-mock into node_modules/.cache/beacon-kafka-mock/.
#
#   sh scripts/ensure-kafka-mock.sh      # stdout: the binary's path; progress on stderr
#
# Exit codes: 0 ready; 3 librdkafka-dev (or gcc) cannot be installed here, so the Kafka tests
# skip; anything else is a real failure (tool missing, build error) and the tests fail.
set -eu
cd "$(dirname "$0")/.."
repo=$(pwd)
tool=${BEACON_KAFKA_MOCK_TOOL:-$repo/../shared/tools/kafka-mock}
cache=$repo/node_modules/.cache/beacon-kafka-mock
bin=$cache/kafka-mockbroker

# Rebuilt when the source is newer than the binary (or librdkafka went away).
if [ -x "$bin" ] && { [ ! -f "$tool/kafka-mockbroker.c" ] || [ "$bin" -nt "$tool/kafka-mockbroker.c" ]; } && ldd "$bin" 2>/dev/null | grep -q 'librdkafka.*=> /'; then
  echo "$bin"
  exit 0
fi

if ! sh scripts/ensure-debian-packages.sh librdkafka-dev gcc >&2; then
  echo "ensure-kafka-mock: librdkafka-dev and gcc could not be installed; the Kafka tests will skip" >&2
  exit 3
fi
if [ ! -f "$tool/build.sh" ]; then
  echo "ensure-kafka-mock: $tool/build.sh not found (CI checks out ../shared beside the repo)" >&2
  exit 1
fi
mkdir -p "$cache"
bash "$tool/build.sh" "$cache" >&2
echo "$bin"
