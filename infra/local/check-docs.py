#!/usr/bin/env python3
"""Keeps the README's "Where things are" and the documents' links true (run by `make lint`):
- every directory and file the tree names exists, and every crate of the workspace is in it;
- the bins and benches it names (`bins: …`, `benches: …`) are exactly the workspace's;
- every document in docs/ is linked from the README, and every relative link in the README and docs/
  points at a file that exists and, with a fragment, at one of its headings."""
import json
import os
import re
import subprocess
import sys

os.chdir(os.path.join(os.path.dirname(__file__), "..", ".."))
problems = []
readme = open("README.md").read()

section = re.search(r"^## Where things are\n(.*?)^## ", readme, re.S | re.M)
block = re.search(r"```\n(.*?)```", section.group(1), re.S).group(1) if section else ""
if not block:
    problems.append('README.md has no "Where things are" tree')

# The tree: a name ending in "/" is a directory, nested by two spaces; a first word with a dot is a file.
named_dirs, stack = set(), []
for line in block.splitlines():
    match = re.match(r"^( *)(\S+)", line)
    if not match or len(match.group(1)) % 2:
        continue
    depth, name = len(match.group(1)) // 2, match.group(2)
    if depth > len(stack):
        continue  # a description's continuation line
    stack = stack[:depth]
    path = os.path.join(*stack, name) if stack else name
    if name.endswith("/"):
        named_dirs.add(path.rstrip("/"))
        stack.append(name.rstrip("/"))
        if not os.path.isdir(path):
            problems.append(f"Where things are: {path} is not a directory")
    elif "." in name and not os.path.exists(path):
        problems.append(f"Where things are: {path} does not exist")

metadata = json.loads(
    subprocess.run(
        ["cargo", "metadata", "--no-deps", "--format-version", "1"], check=True, capture_output=True, text=True
    ).stdout
)
root = metadata["workspace_root"]
bins, benches = set(), set()
for package in metadata["packages"]:
    crate_dir = os.path.relpath(os.path.dirname(package["manifest_path"]), root)
    if crate_dir not in named_dirs:
        problems.append(f"Where things are: the crate {package['name']} ({crate_dir}) is missing")
    for target in package["targets"]:
        if "bin" in target["kind"]:
            bins.add(target["name"])
        if "bench" in target["kind"]:
            benches.add(f"{package['name']}/{target['name']}")

def listed(label):
    names = set()
    # A list may wrap onto the description's next lines.
    for match in re.finditer(rf"\b{label}: ([\w/-]+(?:, [\w/-]+)*)", re.sub(r"\s+", " ", block)):
        names.update(name.strip() for name in match.group(1).split(",") if name.strip())
    return names

for label, kind, actual in [("bins", "bin", bins), ("benches", "bench", benches)]:
    named = listed(label)
    for name in sorted(actual - named):
        problems.append(f"Where things are: the {kind} {name} is not named (`{label}: …`)")
    for name in sorted(named - actual):
        problems.append(f"Where things are: the {kind} {name} is named but does not exist")

def slug(title):
    return re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")

def headings(path):
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.*)$", open(path).read(), re.M)}

documents = ["README.md"] + sorted(os.path.join("docs", name) for name in os.listdir("docs") if name.endswith(".md"))
for doc in documents[1:]:
    if f"({doc})" not in readme and f"({doc}#" not in readme:
        problems.append(f"README.md does not link {doc}")
for doc in documents:
    text = re.sub(r"```.*?```", "", open(doc).read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(resolved):
            problems.append(f"{doc}: the link {target} points at nothing")
        elif fragment and resolved.endswith(".md") and fragment not in headings(resolved):
            problems.append(f"{doc}: the link {target} names no heading of {resolved}")

for problem in problems:
    print(problem, file=sys.stderr)
print(f"check-docs: {len(documents)} documents, {len(bins)} bins, {len(benches)} benches; {len(problems)} problems")
sys.exit(1 if problems else 0)
