#!/usr/bin/env bash
# Rehearse a Binder build on this machine: a fresh venv with runtime.txt's Python, the
# requirements, postBuild, then `ftkit doctor` and every lesson's imports under binder/start.
# Slow (minutes, ~2 GB of downloads or local wheels), so it is not part of `make test`.
#
#   bash binder/check_install.sh [CHECK_DIR]        # CHECK_DIR must not exist (default: a new temp folder)
#   TORCH_INDEX= bash binder/check_install.sh       # drop the PyTorch CPU index (no internet: local wheels)
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu ...   # the default: what Binder uses
#   LESSONS="00 01" bash binder/check_install.sh    # also run these lessons in the binder profile (papermill)
#
# Everything lives in CHECK_DIR (venv, HOME with ftkit's model cache, pip's temp files), so its
# size is the install's disk cost; it prints the wall time and the peak size at the end.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CHECK=${1:-$(mktemp -d /tmp/ftkit-binder-check.XXXXXX)}
PYTHON=${PYTHON:-python3}
TORCH_INDEX=${TORCH_INDEX-https://download.pytorch.org/whl/cpu}
SAMPLE_S=2  # how often the folder size is sampled for the peak (du is cheap next to pip)

if [ -n "${1:-}" ]; then
    [ ! -e "$CHECK" ] || { echo "check_install: $CHECK exists; give a new folder (it is filled from scratch)" >&2; exit 2; }
    mkdir -p "$CHECK"
fi
want=$(sed -n 's/^python-//p' "$REPO/binder/runtime.txt")
have=$("$PYTHON" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
[ "$want" = "$have" ] || { echo "check_install: binder/runtime.txt wants Python $want, $PYTHON is $have (set PYTHON=python$want)" >&2; exit 2; }

mkdir -p "$CHECK/home" "$CHECK/tmp"
export HOME="$CHECK/home" TMPDIR="$CHECK/tmp" PIP_NO_CACHE_DIR=1  # a fresh home and no pip cache, as on Binder
peak_file="$CHECK/peak_kb"
( peak=0; while :; do kb=$(du -sk "$CHECK" 2>/dev/null | cut -f1); [ "${kb:-0}" -gt "$peak" ] && peak=$kb && echo "$peak" >"$peak_file"; sleep "$SAMPLE_S"; done ) &
sampler=$!
trap 'kill "$sampler" 2>/dev/null || true' EXIT
start=$(date +%s)
step() { echo "== [$(( $(date +%s) - start )) s] $*"; }

step "venv with Python $have in $CHECK/venv"
"$PYTHON" -m venv "$CHECK/venv"
export PATH="$CHECK/venv/bin:$PATH"  # postBuild calls plain `pip` and `python`, as in the Binder image
pip install -q --upgrade pip

step "pip install -r binder/requirements.txt (torch index: ${TORCH_INDEX:-none, only the configured indexes})"
requirements="$CHECK/requirements.txt"
if [ -n "$TORCH_INDEX" ]; then
    sed "s|^--extra-index-url .*|--extra-index-url $TORCH_INDEX|" "$REPO/binder/requirements.txt" >"$requirements"
else
    grep -v '^--extra-index-url ' "$REPO/binder/requirements.txt" >"$requirements"
fi
pip install -q -r "$requirements"
python -c 'import torch; print("torch", torch.__version__, "CUDA build" if torch.version.cuda else "CPU build")'

cd "$REPO"  # repo2docker runs postBuild from the repository root
step "binder/postBuild"
bash binder/postBuild

step "binder/start python -m ftkit doctor"
binder/start python -m ftkit doctor

step "every lesson's imports, under binder/start"
binder/start python - <<'EOF'
import ast, json, pathlib, time
for nb in sorted(pathlib.Path("notebooks").glob("[0-9][0-9]_*.ipynb")):
    lines = []
    for cell in json.loads(nb.read_text())["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        tree = ast.parse("\n".join(l for l in source.splitlines() if not l.lstrip().startswith(("%", "!"))))
        lines += [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    t = time.perf_counter()
    exec("\n".join(dict.fromkeys(lines)), {})
    print(f"{nb.name}: {len(set(lines))} import statements ok ({time.perf_counter() - t:.1f} s)")
EOF
binder/start jupyter lab --version | sed 's/^/jupyterlab /'

for lesson in ${LESSONS:-}; do
    step "lesson $lesson in the binder profile"
    /usr/bin/time -f "lesson $lesson: peak memory %M KB, %e s" \
        binder/start python -m ftkit lessons --profile binder --only "$lesson" --out "$CHECK/lessons"
done

kill "$sampler" 2>/dev/null || true
wait "$sampler" 2>/dev/null || true
final=$(du -sk "$CHECK" | cut -f1)
peak=$(cat "$peak_file" 2>/dev/null || echo "$final")
[ "$final" -gt "$peak" ] && peak=$final
echo "check_install: OK in $(( $(date +%s) - start )) s; $CHECK: peak $(( peak / 1024 )) MB, final $(( final / 1024 )) MB" \
     "(venv $(du -sm "$CHECK/venv" | cut -f1) MB, model cache $(du -sm "$CHECK/home" | cut -f1) MB)"
