#!/usr/bin/env bash
# anonvma-report --html in a real browser: the page of one replayed report and
# of a fleet of three is opened in headless Chromium (Debian package chromium,
# scripts/deps.sh) with the network switched off; the DOM after the page's
# script ran must say every chart with data drew marks (data-selfcheck="ok",
# data-marks per figure), the charts a report cannot have say why, and the page
# loads nothing from outside.  Screenshots stay in $BUILD/report-html-*.png.
# check: normal-build-only
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
bin="$BUILD/anonvma-report"
tmp=$(mktemp -d /tmp/anonvma-e2e-html.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v chromium > /dev/null || fail "chromium missing (make deps installs it)"

"$BUILD/anonvma-synth" configs/scenarios/prefork-server.yaml -o "$tmp/p.db" -q --scale 0.1 2> /dev/null
"$BUILD/anonvma-replay" -q "$tmp/p.db" -o "$tmp/one.json"
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
r = json.load(open(d + "/one.json"))
for h in range(3):
    q = json.loads(json.dumps(r))
    q["trace"]["id"] = "html-%d" % h
    q["trace"]["hostname"] = "h%d</script><b>x" % h      # a hostile name must stay text
    q["models"]["lazy"]["bytes_peak_total"] += 2048 * h
    json.dump(q, open("%s/h%d.json" % (d, h), "w"))
PY
"$bin" --html "$tmp/one.html" "$tmp/h0.json" > /dev/null
"$bin" --html "$tmp/fleet.html" "$tmp"/h[0-2].json > /dev/null
for f in one fleet; do
	if grep -q "<script src\|<link \|<img \|@import" "$tmp/$f.html"; then
		fail "$f.html loads a file"
	fi
	ext=$(grep -o "https\?://[a-zA-Z0-9./-]*" "$tmp/$f.html" | grep -v "^http://www.w3.org/2000/svg$" || true)
	[ -z "$ext" ] || fail "$f.html names an outside address: $ext"
	[ "$(grep -c "</script>" "$tmp/$f.html")" -eq 2 ] || fail "$f.html: a string closed a script element"
	chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
		--proxy-server=127.0.0.1:9 --virtual-time-budget=5000 \
		--dump-dom "file://$tmp/$f.html" > "$tmp/$f.dom" 2> "$tmp/$f.err" ||
		fail "chromium failed on $f.html: $(tail -3 "$tmp/$f.err")"
	chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars \
		--proxy-server=127.0.0.1:9 --virtual-time-budget=5000 --window-size=1100,2000 \
		--screenshot="$(cd "$BUILD" && pwd)/report-html-$f.png" "file://$tmp/$f.html" > /dev/null 2>&1 ||
		fail "chromium screenshot of $f.html failed"
	[ -s "$BUILD/report-html-$f.png" ] || fail "no screenshot of $f.html"
	python3 - "$tmp/$f.dom" "$f" <<'PY' || fail "$f.html: charts: $(grep -o '<figure[^>]*>' "$tmp/$f.dom" | tr '\n' ' ')"
import re, sys
dom, kind = open(sys.argv[1]).read(), sys.argv[2]
body = re.search(r'<body([^>]*)>', dom).group(1)
assert 'data-selfcheck="ok"' in body, body
figs = {m.group(1): m.group(2) for m in re.finditer(r'<figure id="(\w+)"([^>]*)>', dom)}
assert set(figs) == {"series", "fork", "locks", "top", "sensitivity", "spread"}, figs
def state(f):
    return re.search(r'data-state="(\w+)"', figs[f]).group(1), int(re.search(r'data-marks="(\d+)"', figs[f]).group(1))
if kind == "one":
    drawn, absent = ["series", "fork", "locks", "top", "sensitivity"], ["spread"]
else:
    drawn, absent = ["fork", "locks", "top", "spread"], ["series", "sensitivity"]
for f in drawn:
    s, n = state(f)
    assert s == "drawn" and n > 0, (f, s, n)
for f in absent:
    assert state(f) == ("absent", 0), (f, state(f))
assert 'data-charts-drawn="%d"' % len(drawn) in body, (body, len(drawn))
# the series chart draws one line per design; the fleet's spread one bar per occupied bin
if kind == "one":
    assert state("series")[1] == 2 and state("top")[1] >= 1
# the hostile hostname is text, not markup (the embedded JSON holds it as <\/script>)
outside = re.sub(r'<script.*?</script>', '', dom, flags=re.S)
assert "<b>" not in outside, "a hostname became markup"
if kind == "one":
    assert "h0&lt;/script&gt;&lt;b&gt;x" in outside, "the hostname is not shown as text"
PY
done
echo "report_html: ok"
