# bench/lib.sh: what every bench script needs, sourced from the repository
# root: `source bench/lib.sh`.

# need NAME CMD...: exits unless every CMD is on PATH, naming the script.
need() {
  local script=$1 cmd
  shift
  for cmd in "$@"; do
    command -v "$cmd" >/dev/null || { echo "$script: $cmd not found" >&2; exit 1; }
  done
}

# need_js NAME: node and python3 present, and the pinned JS reference
# installed (npm ci) in tests/interop/js.
need_js() {
  need "$1" node python3
  if [ ! -d tests/interop/js/node_modules ]; then
    (cd tests/interop/js && npm ci --no-audit --no-fund >&2)
  fi
}

# machine [LABEL VALUE]...: the header every result starts with: the
# machine, the toolchains, the commit and the load, then any extra lines.
machine() {
  echo "# machine"
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') ($(nproc) cores)"
  echo "kernel:  $(uname -r)"
  echo "go:      $(go version)"
  if command -v node >/dev/null; then echo "node:    $(node --version)"; fi
  if git rev-parse --git-dir >/dev/null 2>&1; then
    echo "commit:  $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (dirty)')"
  else
    echo "commit:  unknown (not a git checkout)"
  fi
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
  while [ $# -ge 2 ]; do
    printf '%-8s %s\n' "$1:" "$2"
    shift 2
  done
  echo
}
