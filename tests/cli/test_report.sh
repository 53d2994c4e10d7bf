#!/usr/bin/env bash
# test_report.sh: trestle report --html|--json on one node (no daemon): the page is
# written whole and self-contained, has the groups, the claim counts and the test
# requests with their answers, escapes hostile record values, loads in headless
# Chromium with no console messages, and bad targets are refused with nothing written.
# Records of other firms reach the producer by export and import (signed as written).
# Needs chromium (Debian's package: deploy/install-deps.sh installs it); without it the
# test fails, it does not skip.
set -u
. "$(dirname "$0")/lib.sh"

P=$TMP/producer
U1=$TMP/canteen
U2=$TMP/hospital
new_node "$P" --name "Acme & Sons <Dish>" --role producer
new_node "$U1" --name "Canteen" --role user
new_node "$U2" --name "Hospital" --role user

# mk NODE ARGS...: creates a record, prints its id
mk() {
	local h=$1
	shift
	"$T" --home "$h" record create "$@" | tail -1
}
# carry FROM TO KIND...: the records of those kinds FROM wrote go to TO as signed
carry() {
	local from=$1 to=$2 k
	shift 2
	: >"$TMP/carry.jsonl"
	for k in "$@"; do
		"$T" --home "$from" export --kind "$k" --author self >>"$TMP/carry.jsonl"
	done
	"$T" --home "$to" import "$TMP/carry.jsonl" >/dev/null 2>&1 ||
		not_ok "import from $(basename "$from") into $(basename "$to")"
}
# jq_py JSON EXPR: a Python expression over the parsed JSON (r)
jq_py() {
	py 'import json,sys; r = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

# an empty node: a page that says so
run --home "$P" report --html "$TMP/empty.html"
check_rc 0 "report on a node with nothing exits 0"
check "the empty report is written" grep -q "No ideas here yet" "$TMP/empty.html"

# ideas: one topic raised by three firms in their own words, one by one firm twice
mk "$U1" idea title="Too much detergent dosed on small loads" \
	text="Too much detergent dosed on small loads" product=DW-200 category=dosing >/dev/null
mk "$U2" idea title="Detergent dosing too high for small loads" \
	text="Detergent dosing too high for small loads" product=DW-200 category=dosing >/dev/null
mk "$P" idea title="Small loads get too much detergent from the dosing" \
	text="Small loads get too much detergent from the dosing" product=DW-200 \
	category=dosing >/dev/null
mk "$U1" idea title="Rinse temperature per cycle in the hygiene report" \
	text="Rinse temperature per cycle in the hygiene report" product=DW-300 \
	category=hygiene >/dev/null
mk "$U1" idea title="Hygiene reports with the rinse temperature per cycle" \
	text="Hygiene reports with the rinse temperature per cycle" product=DW-300 \
	category=hygiene >/dev/null
mk "$P" idea title='Quiet pump <img src=x onerror=alert(2)> & "night" mode' \
	text="A quieter drain pump for night shifts" product=DW-200 category=noise >/dev/null

# claims: DW-200 serial A1 twice (one closed), and a hostile product and customer
mk "$P" claim product=DW-200 serial=A1 problem="Drain pump leaks" opened=2025-01-14 \
	customer='Café "Zur Post" & Co <b>' severity=high >/dev/null
mk "$P" claim product=DW-200 serial=A1 problem="Drain pump leaks" opened=2025-03-02 \
	closed=2025-03-20 >/dev/null
mk "$P" claim product=DW-200 serial=B7 problem="Heater element failed" \
	opened=2025-03-10 >/dev/null
mk "$P" claim product=DW-300 serial=C3 problem="Door seal leaks" opened=2025-02-01 \
	closed=2025-02-15 >/dev/null
mk "$P" claim product=DW-300 serial=C4 problem="Door seal leaks" opened=2025-03-28 >/dev/null
mk "$P" claim product="<script>alert(1)</script>" problem="heater" opened=2025-03-05 >/dev/null

# a test request answered by two user firms; one trial report
TR=$(mk "$P" test_request product=DW-X title="Combined machine trial" \
	text="Three canteens wanted for a 6-week trial" slots=3)
carry "$P" "$U1" test_request
carry "$P" "$U2" test_request
R1=$(mk "$U1" test_response --ref "$TR" answer=accept contact="Jane <jane@canteen>" text="yes")
mk "$U2" test_response --ref "$TR" answer=decline text="no space" >/dev/null
mk "$U1" trial_report --ref "$R1" text="Cleaner cups, less detergent" rating=4 \
	outcome=keep >/dev/null
carry "$U1" "$P" idea test_response trial_report
carry "$U2" "$P" idea test_response

# ---- JSON ----
run --home "$P" report --json
check_rc 0 "report --json exits 0"
J=$OUT
check_eq "$(jq_py "$J" 'r["ideas"], len(r["idea_groups"])')" "(6, 3)" \
	"six ideas in three groups"
check_eq "$(jq_py "$J" '(r["idea_groups"][0]["ideas"], r["idea_groups"][0]["firms"], r["idea_groups"][0]["category"])')" \
	"(3, 3, 'dosing')" "the top group is dosing: 3 ideas from 3 firms"
c='r["claims"]'
check_eq "$(jq_py "$J" "${c}[\"total\"], ${c}[\"open\"], ${c}[\"closed\"]")" "(6, 4, 2)" \
	"six claims: four open, two closed"
check_eq "$(jq_py "$J" "[(m['month'], m['total'], m['open']) for m in ${c}['by_month']]")" \
	"[('2025-01', 1, 1), ('2025-02', 1, 0), ('2025-03', 4, 3)]" "claims per month opened"
check_eq "$(jq_py "$J" "[(p['product'], p['total'], p['open']) for p in ${c}['by_product']]")" \
	"[('DW-200', 3, 2), ('DW-300', 2, 1), ('<script>alert(1)</script>', 1, 1)]" \
	"claims per product, largest first"
check_eq "$(jq_py "$J" "[(p['product'], p['problem'], p['total']) for p in ${c}['by_problem']][:2]")" \
	"[('DW-200', 'Drain pump leaks', 2), ('DW-300', 'Door seal leaks', 2)]" \
	"claims per product and problem"
check_eq "$(jq_py "$J" "[(x['product'], x['serial'], x['total']) for x in ${c}['repeats']]")" \
	"[('DW-200', 'A1', 2)]" "the repeat: DW-200 serial A1, twice"
check_eq "$(jq_py "$J" "sum('customer' not in x for x in ${c}['latest'])")" 5 \
	"the five claims that disclosed no customer show none"
check_eq "$(jq_py "$J" "[x['customer'] for x in ${c}['latest'] if 'customer' in x]")" \
	"['Café \"Zur Post\" & Co <b>']" "the one customer disclosed is there, as written"
t='r["test_requests"][0]'
check_eq "$(jq_py "$J" "${t}['title'], ${t}['accepted'], ${t}['declined'], len(${t}['reports'])")" \
	"('Combined machine trial', 1, 1, 1)" "the test request: 1 accepted, 1 declined, 1 report"
check_eq "$(jq_py "$J" "[(p['partner'], p['accepted'], p['declined'], p['reports']) for p in ${t}['partners']]")" \
	"[('imported', 1, 1, 1)]" "answers counted per partner they came from"
check_eq "$(jq_py "$J" "${t}['reports'][0]['rating'], ${t}['reports'][0]['outcome']")" \
	"(4, 'keep')" "the trial report's rating and outcome"
check_eq "$(jq_py "$J" "r['node']['name'], r['node']['role']")" \
	"('Acme & Sons <Dish>', 'producer')" "the node's name and role"

# ---- HTML ----
H=$TMP/out/report.html
mkdir -p "$TMP/out"
run --home "$P" report --html "$H" --title 'Q1 <review> & "claims"'
check_rc 0 "report --html exits 0"
check_out_has "wrote $H" "and says where it wrote"
check "the page is written" test -s "$H"
check_eq "$(stat -c %a "$H" 2>/dev/null)" 600 "the page has mode 0600 (claims and names are the firm's)"
check_eq "$(find "$TMP/out" -name '*tmp*' | wc -l)" 0 "no temporary file is left"
if grep -Eiq '(src|href|action|xlink:href)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*(https?:)?//' "$H" ||
	grep -Eiq '@import|url\(' "$H"; then
	not_ok "the page refers to nothing outside itself"
	note "$(grep -Eio '.{0,40}(https?:)?//.{0,40}' "$H" | head -5)"
else
	ok "the page refers to nothing outside itself (no http(s) src or href)"
fi
check "the page has no <script>, <link>, <iframe> or <img> element" \
	bash -c '! grep -Eiq "<(script|link|iframe|img|object|embed)[[:space:]>/]" "$1"' _ "$H"
check "the hostile product is escaped" grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$H"
check "the hostile idea title is escaped" \
	grep -qF 'Quiet pump &lt;img src=x onerror=alert(2)&gt; &amp; &quot;night&quot; mode' "$H"
check "the customer's quotes and ampersand are escaped" \
	grep -qF 'Café &quot;Zur Post&quot; &amp; Co &lt;b&gt;' "$H"
check "the title is escaped" grep -qF '<title>Q1 &lt;review&gt; &amp; &quot;claims&quot;</title>' "$H"
check "the node's name is escaped" grep -qF 'Acme &amp; Sons &lt;Dish&gt;' "$H"
check "the page forbids scripts and fetching (CSP)" grep -qF "default-src 'none'" "$H"
check "the page has its charts inline (SVG)" grep -q '<svg' "$H"

# the page, read as HTML: the groups table and the claim counts
PAGE=$(py '
import sys, html.parser
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.rows = {}; self.table = None; self.row = None; self.cell = None
        self.ids = {}; self.cur_id = None
    def handle_starttag(self, tag, a):
        a = dict(a)
        if tag == "table": self.table = a.get("class")
        elif tag == "tr": self.row = []
        elif tag in ("td", "th"): self.cell = ""
        if "id" in a: self.cur_id = a["id"]; self.ids[a["id"]] = ""
    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.row is not None: self.row.append(self.cell.strip()); self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.setdefault(self.table, []).append(self.row); self.row = None
        elif tag == "table": self.table = None
        if self.cur_id and tag in ("b", "p", "section"): self.cur_id = None
    def handle_data(self, d):
        if self.cell is not None: self.cell += d
        if self.cur_id in ("claims-total", "claims-open", "claims-closed"): self.ids[self.cur_id] += d
p = P(); p.feed(open(sys.argv[1], encoding="utf-8").read())
g = p.rows.get("groups", [])
print("groups", len(g) - 1, "|".join(g[1][:3]) if len(g) > 1 else "-")
print("claims", p.ids.get("claims-total"), p.ids.get("claims-open"), p.ids.get("claims-closed"))
print("sections", " ".join(k for k in ("ideas", "claims", "tests") if k in p.ids))
pr = p.rows.get("products", [])
print("products", ";".join("|".join(r[:4]) for r in pr[1:]))
' "$H" 2>&1)
check_eq "$(grep '^groups' <<<"$PAGE")" \
	"groups 3 Small loads get too much detergent from the dosing|3|3" \
	"the groups table: three groups, the dosing one first with 3 ideas and 3 firms"
check_eq "$(grep '^claims' <<<"$PAGE")" "claims 6 4 2" "the claim counts: 6, 4 open, 2 closed"
check_eq "$(grep '^sections' <<<"$PAGE")" "sections ideas claims tests" \
	"the page has the ideas, claims and test request sections"
check_eq "$(grep '^products' <<<"$PAGE")" \
	"products DW-200|3|2|1;DW-300|2|1|1;<script>alert(1)</script>|1|1|0" \
	"claims per product in the table (the hostile name as text)"
check "the test request is on the page, with its trial report" \
	grep -qF 'Cleaner cups, less detergent' "$H"
check "the contact the user firm disclosed is on the page, escaped" \
	grep -qF 'Jane &lt;jane@canteen&gt;' "$H"

# ---- headless Chromium: it loads, shows the groups, says nothing in the console ----
CHROME=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROME" ]; then
	not_ok "headless Chromium: chromium is not installed (run deploy/install-deps.sh, which installs Debian's chromium package)"
else
	# chrome ARGS...: headless chromium with a profile of its own; DOM in .dom, log in .log
	chrome() {
		timeout -k 5 60 "$CHROME" --headless --no-sandbox --disable-gpu \
			--user-data-dir="$TMP/chromium" --no-first-run --disable-extensions \
			--enable-logging=stderr --v=0 --dump-dom "$@" \
			>"$TMP/.dom" 2>"$TMP/.log" </dev/null
	}
	# first, that a console message would be seen: a page that logs one
	printf '<!DOCTYPE html><html><body><p>x</p><script>console.error("probe-%s")</script></body></html>\n' \
		"$$" >"$TMP/probe.html"
	chrome "file://$TMP/probe.html"
	if grep -q "CONSOLE.*probe-$$" "$TMP/.log"; then
		ok "headless Chromium reports console messages (the probe page's is seen)"
	else
		not_ok "headless Chromium reports console messages (the probe page's is seen)"
		note "$(grep -v -i dbus "$TMP/.log" | tail -5)"
	fi
	chrome "file://$H"
	CRC=$?
	check_eq "$CRC" 0 "Chromium loads the page"
	DOM=$(cat "$TMP/.dom")
	if grep -q 'CONSOLE' "$TMP/.log"; then
		not_ok "no console messages while the page loads"
		note "$(grep 'CONSOLE' "$TMP/.log" | head -5)"
	else
		ok "no console messages while the page loads"
	fi
	check "the DOM has the three sections" py '
import sys; d = sys.argv[1]
sys.exit(0 if all(("id=\"%s\"" % s) in d for s in ("ideas", "claims", "tests")) else 1)' "$DOM"
	check "the DOM shows the groups" py '
import sys; d = sys.argv[1]
sys.exit(0 if d.count("<tr class=\"group\">") == 3 and
         "Small loads get too much detergent from the dosing" in d and
         "Rinse temperature per cycle in the hygiene report" in d else 1)' "$DOM"
	check "the DOM shows the claim count" grep -qF '<b id="claims-total">6</b>' "$TMP/.dom"
	check "the DOM has the hostile product as text, not as an element" \
		grep -qF '&lt;script&gt;alert(1)&lt;/script&gt;' "$TMP/.dom"
	check "the DOM has no script element" bash -c '! grep -qi "<script" "$1"' _ "$TMP/.dom"
	check "the DOM has the charts" grep -q '<svg' "$TMP/.dom"
fi

# ---- bad targets: refused, nothing written or changed ----
cp "$H" "$TMP/before.html"
mkdir -p "$TMP/adir"
run --home "$P" report --html "$TMP/adir"
check_rc 1 "a directory as FILE is refused"
check_err_has "is a directory" "and says it is a directory"
check_eq "$(ls -A "$TMP/adir" | wc -l)" 0 "nothing was written into the directory"
run --home "$P" report --html "$TMP/no/such/dir/r.html"
check_rc 1 "a FILE in a missing directory is refused"
check_err_has "cannot write" "and says it cannot write"
run --home "$P" report
check_rc 2 "report without --html or --json is a usage error"
run --home "$P" report --html ""
check_rc 2 "an empty --html is a usage error"
# a write that cannot complete (the file size limit) leaves the old page as it was
(
	ulimit -f 2
	"$T" --home "$P" report --html "$H" </dev/null >"$TMP/.out" 2>"$TMP/.err"
	echo $? >"$TMP/.rc"
)
RC=$(cat "$TMP/.rc")
OUT=$(cat "$TMP/.out")
ERR=$(cat "$TMP/.err")
check_rc 1 "a page that cannot be written whole is refused"
check_err_has "nothing was written" "and says nothing was written"
check "the old page is left as it was" cmp -s "$H" "$TMP/before.html"
check_eq "$(find "$TMP/out" -name '*tmp*' | wc -l)" 0 "and no temporary file is left"
# replacing the page works and leaves one file
run --home "$P" report --html "$H"
check_rc 0 "an existing page is replaced"
check_eq "$(ls -A "$TMP/out")" "report.html" "one file: the page"
run --home "$TMP/nonode" report --json
check_rc 1 "no node: exit 1"

finish
