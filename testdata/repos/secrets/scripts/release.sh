#!/bin/sh
# Publishes a release of the current tag.
set -eu
export GITHUB_TOKEN=ghp_BpqbSGuTpsuAhX9HdMRyY7cLnmvO4kfbxSKu
gh release create "$1" --generate-notes
