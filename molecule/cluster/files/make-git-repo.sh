#!/bin/sh
# Test fixture of the cluster scenario's prepare.yml: commit the sample app copied to WORK_TREE and
# make from it the bare repository BARE that user git serves over SSH.
set -eu
work_tree="$1" bare="$2"
cd "$work_tree"
git init -q -b main .
git add -A
git -c user.name=test -c user.email=test@example.invalid commit -q -m sample
git clone -q --bare . "$bare"
chown -R git:git "$bare"
