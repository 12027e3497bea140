#!/usr/bin/env bash
# Replays a new user's first hour (issue 8's items 1-8) against the installed pixseek and shows each
# one fixed. Needs: pixseek installed with [offline,dev], Tux Paint stamps, root (item 8 mounts a tmpfs).
#   bash scripts/new_user_check.sh            # prints one "ok" line per check, exits non-zero on the first miss
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  mountpoint -q "$work/small" 2>/dev/null && umount "$work/small" || true
  rm -rf "$work"
}
trap cleanup EXIT
ok() { printf 'ok   %s\n' "$*"; }
miss() { printf 'MISS %s\n' "$*"; exit 1; }
export HF_HUB_OFFLINE=1 PIXSEEK_MODEL_CACHE="$work/models"  # offline, and a model cache never used before

stamps=$work/stamps  # three Tux Paint categories: quick, still real labelled images
mkdir -p "$stamps"
for c in animals food plants; do
  mkdir -p "$stamps/$c"
  find "/usr/share/tuxpaint/stamps/$c" -name '*.png' | sort | head -n 20 | xargs -I{} cp {} "$stamps/$c/"
done
cd "$work"

echo "== 1. pinned environment; catalog creation atomic for readers"
python3 "$repo/scripts/check_lock.py" || miss "lock out of date"
ok "pyproject.toml and requirements/ci.txt agree"
(cd "$repo" && python3 -m pytest -q -p no:cacheprovider tests/web/test_fuzz.py \
  tests/catalog/test_atomic_create.py >/dev/null) || miss "fuzz or race tests"
ok "fuzz test and reader/creator race tests pass"

echo "== 6. indexing reports what it does (first-use export announced, reused vectors counted)"
pixseek index "$stamps" --model efficientnet-lite0 2>err.txt >out.txt
grep -q "making model efficientnet-lite0" err.txt || miss "no first-use announcement"
ok "first-use export announced: $(grep making err.txt)"
cp -r "$stamps/food" "$stamps/food-copy"
copies=$(ls "$stamps/food-copy" | wc -l)
pixseek index "$stamps" --json >report.json
python3 -c "import json; r = json.load(open('report.json')); assert (r['added'], r['embedded'], r['reused']) == \
  ($copies, 0, $copies), r" || miss "copies were not all reused"
ok "$copies copies reused, not embedded: $(tr -d '\n ' <report.json | cut -c1-160)"
mkdir empty && pixseek index empty 2>err.txt >/dev/null
grep -q "no supported images in empty" err.txt || miss "no empty-folder message"
ok "empty folder: $(cat err.txt)"
printf 'not a png' >"$stamps/animals/broken.png"
set +e; pixseek index "$stamps" --strict >/dev/null 2>&1; rc=$?; set -e
[ "$rc" = 3 ] || miss "--strict exited $rc"
ok "--strict exits 3 when a file failed"
rm "$stamps/animals/broken.png"

echo "== 2. eval straight after the quick start, offline"
pixseek eval "$stamps" --out report --json >eval.json 2>/dev/null
python3 -c "import json; r = json.load(open('eval.json')); assert r['db'] == 'pixseek.db', r['db']" \
  || miss "the check above failed"
ok "eval reused ./pixseek.db and its model (no download, nothing re-embedded)"

echo "== 4. one path shape; an ambiguous relative path is an error listing the matches"
mkdir -p other/food && cp "$stamps/animals/$(ls "$stamps/animals" | head -n 1)" "other/food/$(ls "$stamps/food" | head -n 1)"
pixseek index other >/dev/null
rel="food/$(ls "$stamps/food" | head -n 1)"
set +e; pixseek search --like "$rel" --json >amb.json 2>/dev/null; rc=$?; set -e
[ "$rc" = 1 ] || miss "ambiguous --like exited $rc"
python3 -c "import json; e = json.load(open('amb.json')); assert len(e['detail']['matches']) == 2, e" \
  || miss "the check above failed"
ok "ambiguous --like: $(python3 -c "import json; print(json.load(open('amb.json'))['error'][:150])")"

echo "== 7. --json errors are JSON"
set +e; pixseek info --db nowhere.db --json >err.json; set -e
python3 -c "import json; e = json.load(open('err.json')); assert set(e) == {'error', 'detail'}" \
  || miss "the check above failed"
ok "info --json on a missing index: $(tr -d '\n' <err.json)"

echo "== 3, 5, 6. the server: offline /docs, favicon, 409, one log line per request"
port=$(python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
pixseek serve --port "$port" 2>serve.log &
server_pid=$!
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.5; done
curl -sf "http://127.0.0.1:$port/docs" >docs.html
grep -Eq 'src="https?://|href="https?://' docs.html && miss "/docs still loads assets from the network"
for asset in $(grep -Eo '(src|href)="[^"]+"' docs.html | cut -d'"' -f2); do
  curl -sf -o /dev/null "http://127.0.0.1:$port$asset" || miss "/docs asset $asset"
done
ok "/docs and its assets are served locally"
curl -sf -o /dev/null "http://127.0.0.1:$port/favicon.ico" || miss "/favicon.ico"
ok "/favicon.ico"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/search" -F "like=$rel")
[ "$code" = 409 ] || miss "like=$rel gave $code"
ok "POST /search like=$rel -> 409"
grep -q "POST /search 409" serve.log || miss "no request log line"
ok "request log: $(grep 'POST /search 409' serve.log | head -n 1)"
(cd "$repo" && python3 -m pytest -q -p no:cacheprovider -m browser tests/web/test_browser.py >/dev/null) \
  || miss "the check above failed"
ok "browser test of the page's fixes passes"

echo "== 8. a full disk is one clear line, and the next run completes"
mkdir small && mount -t tmpfs -o size=64k tmpfs small
set +e; pixseek index "$stamps" --db small/db --model efficientnet-lite0 2>full.txt >/dev/null; rc=$?; set -e
[ "$rc" = 1 ] && [ "$(wc -l <full.txt)" = 1 ] && grep -q "No space left on device" full.txt \
  || miss "full disk: exit $rc, $(cat full.txt)"
ok "$(cat full.txt)"
mount -o remount,size=64m small
pixseek index "$stamps" --db small/db --model efficientnet-lite0 --json >after.json
python3 -c "import json; r = json.load(open('after.json')); assert r['failed'] == [], r" \
  || miss "the check above failed"
ok "after the disk grew: $(pixseek info --db small/db)"
echo "all checks passed"
