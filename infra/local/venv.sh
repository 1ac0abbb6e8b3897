#!/usr/bin/env bash
# Creates the project-local virtualenv (.venv) and installs the given requirement files into it, only
# when they changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../.."
[[ -x .venv/bin/python ]] || python3 -m venv .venv
for requirements in "$@"; do
  stamp=".venv/.installed-$(basename "$requirements")"
  if [[ ! -f $stamp ]] || ! cmp -s "$requirements" "$stamp"; then
    .venv/bin/pip install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
  fi
done
