# Sourced by the benchmark scripts after their arguments: where the repository and the shared real data are,
# and a scratch folder ($work) removed on exit.
here=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
shared_data="$here/../../shared/data"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
