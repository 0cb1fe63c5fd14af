# Sourced by the A/B scripts (bench/*-ab.sh, which set $here): base_tree REV makes $work, a
# throwaway directory, and $tree, a git worktree of REV in it with its packages installed; both
# are removed when the script exits.
base_tree() {
  work="$(mktemp -d)"
  tree="$work/oct-base"
  git -C "$here" worktree add --detach "$tree" "$1" >/dev/null
  trap 'git -C "$here" worktree remove --force "$tree"; rm -rf "$work"' EXIT
  (cd "$tree" && npm ci --no-audit --no-fund >/dev/null)
}
