#!/bin/sh
# Headless Chromium (Debian package chromium) renders a local page that builds 200k JS
# objects, then exits: a browser workload for anonvma-collect (bench/verdict_table.sh).
page=$(mktemp /tmp/pageXXXX.html)
cat > "$page" <<'H'
<html><body><h1>anonvma</h1><script>
let a=[]; for (let i=0;i<200000;i++) a.push({i:i, s:"x"+i});
document.body.appendChild(document.createTextNode(a.length));
</script></body></html>
H
chromium --headless --no-sandbox --disable-gpu --user-data-dir=/tmp/chr-prof --dump-dom "file://$page" > /dev/null 2>&1
rm -f "$page"
