#!/usr/bin/env bash
# (Re)builds .whl/, the wheels carried to the offline GPU machine (scripts/gpu_check.sh installs them), from the
# pinned list scripts/gpu_carry.txt: Python 3.12, manylinux x86-64 or pure-Python wheels, no dependencies
# resolved (the list names each one). Prints each wheel's size and the total, and fails when the carry is over
# MAX_MIB (55) or when it and the rest of the tree that travels would pass the device's 64 MiB.
# Run it in the checkout whose session calls the device (only that one travels), then run the device check with
# carry [".whl"].   usage: [PYTHON=python3] [MAX_MIB=55] bash scripts/gpu_carry.sh
set -eu
cd "$(git rev-parse --show-toplevel)"
PYTHON=${PYTHON:-python3}
MAX_MIB=${MAX_MIB:-55}
LIST=scripts/gpu_carry.txt
mapfile -t pins < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' "$LIST" | grep -v '^$')
rm -rf .whl && mkdir .whl
platforms=()
for p in manylinux1_x86_64 manylinux2014_x86_64 manylinux_2_17_x86_64 manylinux_2_24_x86_64 \
    manylinux_2_27_x86_64 manylinux_2_28_x86_64; do platforms+=(--platform "$p"); done
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp --abi cp312 \
    "${platforms[@]}" -d .whl "${pins[@]}"
got=$(ls .whl/*.whl | wc -l)
if (( got != ${#pins[@]} )); then
    echo "gpu_carry: ${#pins[@]} pins but $got wheels in .whl/" >&2
    exit 1
fi
ls -l .whl/*.whl | awk '{printf "%8.2f MiB  %s\n", $5 / 1048576, $9}'
carry=$(cat .whl/*.whl | wc -c)
# what travels besides the carry: tracked files and untracked files that git does not ignore
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 cat 2>/dev/null | wc -c)
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
echo "carry $(mib "$carry") in $got wheels; tree $(mib "$tree"); together $(mib $(( carry + tree ))) of 64 MiB"
if (( carry > MAX_MIB * 1048576 )); then
    echo "gpu_carry: the carry is over $MAX_MIB MiB" >&2
    exit 1
fi
if (( carry + tree > 63 * 1048576 )); then
    echo "gpu_carry: tree and carry would pass the device's 64 MiB (1 MiB kept in hand)" >&2
    exit 1
fi
