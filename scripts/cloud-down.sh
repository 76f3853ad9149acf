#!/usr/bin/env bash
# `make cloud-down`: stop what `make cloud-up` started here, then destroy the Confluent Cloud
# deployment (`terraform destroy`: statements, pool, topics and their data, schemas, keys,
# accounts, cluster, environment), only after an explicit confirmation: the deployment's name
# typed at the prompt, or given as --confirm NAME (CONFIRM=NAME for make). Without it nothing is
# destroyed.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  echo "usage: scripts/cloud-down.sh [--confirm NAME]   (NAME: the deployment's name_prefix, fraudsite unless set)" >&2
  exit 2
}
confirm=""
while [ $# -gt 0 ]; do
  case $1 in
    --confirm) [ $# -ge 2 ] || usage; confirm=$2; shift ;;
    -h|--help) usage ;;
    *) echo "cloud-down: unknown argument: $1" >&2; usage ;;
  esac
  shift
done

if [ -f .run/cloud-up.pid ] && kill -0 "$(cat .run/cloud-up.pid)" 2>/dev/null; then
  pid=$(cat .run/cloud-up.pid)
  echo "stopping make cloud-up (pid $pid) and its processes"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do sleep 0.3; done
else
  echo "no make cloud-up runs here"
fi

command -v terraform >/dev/null || { echo "cloud-down: terraform is not installed; nothing destroyed" >&2; exit 1; }
name=${TF_VAR_name_prefix:-fraudsite}
if [ -z "$confirm" ] && [ -t 0 ]; then
  read -r -p "Type the deployment's name ($name) to destroy it and all its data, or press Enter to keep it: " confirm
fi
if [ "$confirm" != "$name" ]; then
  if [ -n "$confirm" ]; then echo "cloud-down: '$confirm' is not the deployment's name ($name)" >&2; fi
  echo "not destroyed: the deployment keeps running, and costing (see docs/confluent-cloud.md). To destroy it: make cloud-down CONFIRM=$name"
  [ -z "$confirm" ] && exit 0 || exit 1
fi
terraform -chdir=terraform destroy -input=false -auto-approve
echo "destroyed. The cloud lines of .env now hold revoked keys: remove them (or run make cloud-up again)."
