#!/usr/bin/env python3
"""policy_model.py: random inputs for a 7-node trestle network, and an independent model
of what each node may hold (issue 4, "What must always hold"). Python 3 standard library.

The network (tests/sync/test_model.sh builds it and runs the daemons):

    P (producer)  <-  D1, D2 (distributors)  <-  U1, U2 under D1; U3, U4 under D2

every arrow a dial. Partner names equal node names. The roles of partners are the ones
trestle derives from the node's own role and the relation.

Subcommands (each reads and writes DIR/model-state.json; nodes live in DIR/NAME):

  phase --dir DIR --trestle T --seed S --phase K
        generates phase K's inputs with random.Random("S/K") (and the model's state after
        the earlier phases: which record is where, to pick references, grants and
        retractions), applies them through the trestle CLI and logs them (with the ids
        the CLI printed).
        1: policies, consents, records that refer to nothing (daemons not started yet)
        2: more rules, explicit grants, test responses, assessments, statuses
        3: rules removed, trial reports, statuses on test responses
        4: consents withdrawn, then new ideas and claims by the withdrawing user firms
        5: retractions (some of whole bodies, some of fields), cascading
  check --dir DIR --trestle T
        runs the model over all logged inputs and compares it with every node's
        `record list --json`, field by field, and greps every node's store file for the
        canaries the model forbids there.

Both print TAP-like lines ("ok - ...", "not ok - ...", "    # detail"); exit status 0.

The model is its own implementation of issue 4's design (the one decision "may partner
Q have record R, and which fields": never back to where R came from or to its author;
consent, retraction and receipt only by explicit grants; beyond the first partner the
author's hops, roles and private fields, and for ideas, claims and trials a valid
consent naming the relaying node; then rules of Q, own records or --forward, every
--where on a value this node holds, --replies, plus grants, fields the union; a
retraction deletes at its recipient, which retracts in turn and answers with a
receipt). It runs on the logged inputs alone and never asks a node what it decided:
the only things read back from nodes are record ids (printed by `record create`), and
the records the CLI or daemons write themselves (consent, retraction, receipt), found
in their author's own store. Where the design leaves a detail open, the check accepts
either way and says so in a comment (which of the fields asked for a retraction names,
as long as it names all the recipient holds; whether a retraction goes to a partner
that got none of the fields it names; consent withdrawal keeps the consent on record at
the grantee, with a "noted" receipt, as the node does since commit 5fc941d).
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys

NODES = ["P", "D1", "D2", "U1", "U2", "U3", "U4"]
ROLE = {"P": "producer", "D1": "distributor", "D2": "distributor",
        "U1": "user", "U2": "user", "U3": "user", "U4": "user"}
UPSTREAM = {"D1": "P", "D2": "P", "U1": "D1", "U2": "D1", "U3": "D2", "U4": "D2"}
PARTNERS = {n: [] for n in NODES}
for _low, _up in UPSTREAM.items():
    PARTNERS[_low].append(_up)
    PARTNERS[_up].append(_low)
for _n in NODES:
    PARTNERS[_n].sort(key=NODES.index)
ROLES = ["producer", "distributor", "user"]
CLI_KINDS = ("consent", "retraction", "receipt")  # go only by explicit grants
PURPOSE = {"idea": "ideas", "claim": "claims", "test_response": "trials",
           "trial_report": "trials"}


def partner_role(node, partner):
    """The role node gives partner (derived from node's role and the relation)."""
    rel = "upstream" if UPSTREAM.get(node) == partner else "downstream"
    r = ROLE[node]
    if r == "producer":
        return "distributor" if rel == "downstream" else "none"
    if r == "distributor":
        return "producer" if rel == "upstream" else "user"
    return "distributor" if rel == "upstream" else "none"


# ---------------------------------------------------------------------------------------
# Kinds: the fields the generator uses, how it fills them, and the --where pool
# type: c = text holding a canary, n = number, d = date, ch = choice
# ---------------------------------------------------------------------------------------
PRODUCTS = ["DW-100", "DW-200", "DW-250", "XP-1", "XP-7"]
CATEGORIES = ["hygiene", "cleaning", "cost", "usability"]
PROBLEMS = ["the drain pump stops", "door leaks", "display dark", "pump noise"]

KINDS = {
    "idea": {
        "req": ["title", "text"],
        "opt": ["product", "category", "submitter", "account", "external_id", "x_note",
                "x_prio"],
        "where": [("product", ["DW-*", "DW-2*|XP-*", "XP-?-*"]),
                  ("category", ["hygiene*|cleaning*", "cost*", "*"]),
                  ("x_prio", ["1|2", "3"]), ("submitter", ["*"]), ("title", ["*idea*"])],
    },
    "claim": {
        "req": ["product", "problem", "opened"],
        "opt": ["serial", "closed", "resolution", "severity", "customer", "responsible",
                "external_id", "x_note"],
        "where": [("product", ["DW-*", "DW-1*|XP-*"]), ("severity", ["high|critical", "low"]),
                  ("customer", ["*"]), ("problem", ["*pump*"]), ("serial", ["SN-?-*"])],
    },
    "test_request": {
        "req": ["product", "title", "text"],
        "opt": ["start", "end", "slots", "x_note"],
        "where": [("product", ["DW-*", "XP-*"]), ("slots", ["1?", "5", "?"]),
                  ("title", ["*trial*"])],
    },
    "test_response": {
        "req": ["answer"],
        "opt": ["text", "contact", "x_note"],
        "where": [("answer", ["accept", "decline|accept"]), ("contact", ["*"])],
    },
    "trial_report": {
        "req": ["text"],
        "opt": ["rating", "outcome", "x_note"],
        "where": [("rating", ["4|5", "1"]), ("outcome", ["keep"]), ("text", ["*went*"])],
    },
    "status": {
        "req": ["state"],
        "opt": ["message", "x_note"],
        "where": [("state", ["planned|released", "declined", "*"]), ("message", ["*"])],
    },
    "assessment": {
        "req": ["text"],
        "opt": ["score", "recommendation", "x_note"],
        "where": [("score", ["7|8|9|10", "?"]), ("recommendation", ["support"])],
    },
    "account": {
        "req": ["name"],
        "opt": ["country", "city", "sector", "external_id"],
        "where": [("sector", ["hospital*"]), ("country", ["*"])],
    },
    "contact": {
        "req": ["name"],
        "opt": ["email", "phone", "position", "account", "external_id"],
        "where": [("name", ["*"])],
    },
}
FTYPE = {"opened": "d", "closed": "d", "start": "d", "end": "d", "severity": "ch",
         "answer": "ch", "outcome": "ch", "state": "ch", "recommendation": "ch",
         "x_prio": "n", "slots": "n", "rating": "n", "score": "n"}


def all_fields(kind):
    return KINDS[kind]["req"] + KINDS[kind]["opt"]


def gen_value(rng, field, canary):
    t = FTYPE.get(field, "c")
    if t == "d":
        return "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    if t == "n":
        return {"x_prio": (1, 3), "slots": (1, 25), "rating": (1, 5),
                "score": (0, 10)}[field]
    if t == "ch":
        return rng.choice({"severity": ["low", "medium", "high", "critical"],
                           "answer": ["accept", "decline"],
                           "outcome": ["keep", "return", "undecided"],
                           "state": ["under_review", "planned", "in_progress", "released",
                                     "declined", "merged", "note"],
                           "recommendation": ["support", "neutral", "oppose"]}[field])
    if field == "product":
        return "%s-%s" % (rng.choice(PRODUCTS), canary)
    if field == "category":
        return "%s-%s" % (rng.choice(CATEGORIES), canary)
    if field == "problem":
        return "%s %s" % (rng.choice(PROBLEMS), canary)
    if field == "serial":
        return "SN-%d-%s" % (rng.randint(1, 9), canary)
    if field in ("title", "text"):
        return "an idea, a trial, it went well: %s" % canary
    return canary


def gen_numbers(rng, v):
    return rng.randint(*v) if isinstance(v, tuple) else v


# ---------------------------------------------------------------------------------------
# Patterns: * and ?, alternatives with |, the whole value must match
# ---------------------------------------------------------------------------------------
def glob_match(pattern, text):
    for alt in pattern.split("|"):
        rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in alt)
        if re.fullmatch(rx, text, re.S):
            return True
    return False


# ---------------------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------------------
class Ctx:
    def __init__(self, args):
        self.dir = args.dir
        self.t = args.trestle
        self.path = os.path.join(self.dir, "model-state.json")
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.st = json.load(f)
        else:
            self.st = {"seed": args.seed, "ids": {}, "records": [], "rules": [],
                       "grants": [], "consents": [], "phase": 0, "counter": {}}
        self.results = []

    def save(self):
        with open(self.path + ".new", "w") as f:
            json.dump(self.st, f, indent=1, sort_keys=True)
        os.replace(self.path + ".new", self.path)

    def home(self, n):
        return os.path.join(self.dir, n)

    def cli(self, node, *args):
        p = subprocess.run([self.t, "--home", self.home(node)] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        return p.returncode, p.stdout, p.stderr

    def ok(self, desc):
        print("ok - " + desc)

    def not_ok(self, desc, *notes):
        print("not ok - " + desc)
        lines = [line for n in notes for line in str(n).splitlines()]
        for line in lines[:24]:
            print("    # " + line)
        if len(lines) > 24:
            print("    # ... and %d more" % (len(lines) - 24))

    def records_of(self, node, kind=None):
        args = ["record", "list", "--json"] + (["--kind", kind] if kind else [])
        rc, out, err = self.cli(node, *args)
        if rc != 0:
            self.not_ok("record list --json at %s" % node, err)
            return []
        try:
            return json.loads(out)
        except ValueError as e:
            self.not_ok("record list --json at %s is JSON" % node, str(e), out[:300])
            return []


# ---------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------
class Hold:
    __slots__ = ("depth", "source", "fields")

    def __init__(self, depth, source, fields):
        self.depth, self.source, self.fields = depth, source, set(fields)


class Model:
    """Replays the logged inputs phase by phase. hold[node][label] = Hold."""

    def __init__(self, st):
        self.st = st
        self.rec = {r["label"]: r for r in st["records"] if r.get("id")}
        self.cons = {c["label"]: c for c in st["consents"] if c.get("id")}
        self.hold = {n: {} for n in NODES}
        self.phase = 0
        self.order = {r["label"]: i for i, r in enumerate(st["records"])}
        self.retracted = set()  # (node, label): body deleted there, never sent again

    # --- inputs in force at the current phase
    def rules(self, node, partner, kind):
        for r in self.st["rules"]:
            if (r.get("id") is not None and r["node"] == node and r["partner"] == partner
                    and r["kind"] == kind and r["phase"] <= self.phase
                    and (r.get("removed") is None or r["removed"] > self.phase)):
                yield r

    def grants(self, node, label, partner):
        for g in self.st["grants"]:
            if (g.get("accepted") and g["node"] == node and g["label"] == label
                    and g["partner"] == partner and g["phase"] <= self.phase):
                yield g

    def consent_valid(self, author, grantee, purpose):
        """A consent by author naming grantee for purpose, held by the grantee (it went
        there by its grant), not withdrawn, not expired."""
        for c in self.cons.values():
            if (c["node"] == author and c["grantee"] == grantee
                    and purpose in c["purposes"] and c["phase"] <= self.phase
                    and (c.get("withdrawn") is None or c["withdrawn"] > self.phase)
                    and c.get("until") != "past"
                    and c["label"] in self.hold[grantee]):
                return True
        return False

    def decide(self, node, label, q):
        """The design's decision: None (nothing of R goes to q) or the disclosed fields."""
        h = self.hold[node][label]
        author = self.author(label)
        # 1. never back to where it came from, never to its author
        if q == h.source or q == author:
            return None
        kind = self.kind(label)
        grants = list(self.grants(node, label, q))
        # 2. kinds the CLI writes go only by explicit grants
        if kind in CLI_KINDS:
            if not grants:
                return None
            return set(h.fields)
        withheld = set()
        r = self.rec[label]
        if h.depth >= 1:
            # 3. the author's terms, and consent for relaying
            if h.depth > r["terms"]["hops"]:
                return None
            if partner_role(node, q) not in r["terms"]["to"]:
                return None
            withheld = set(r["terms"]["private"])
            p = PURPOSE.get(kind)
            if p and not self.consent_valid(author, node, p):
                return None
        # 4. rules and grants
        matched = False
        out = set()
        for rule in self.rules(node, q, kind):
            if h.depth >= 1 and not rule["forward"]:
                continue
            if not all(f in h.fields and glob_match(pat, str(r["fields"][f]))
                       for f, pat in rule["where"]):
                continue
            if rule["replies"]:
                # a reply goes back the way its record came, or down the way it went
                if not any((ref in self.hold[node] and self.hold[node][ref].source == q) or
                           (ref in self.hold[q] and self.hold[q][ref].source == node)
                           for ref in r["refs"]):
                    continue
            matched = True
            out |= set(rule["fields"]) if rule["fields"] is not None else set(r["fields"])
        for g in grants:
            matched = True
            out |= set(g["fields"]) if g["fields"] is not None else set(r["fields"])
        if not matched:
            return None
        return (out & h.fields) - withheld

    def why_not(self, node, label, q):
        """For the coverage summary: why decide() says what it says."""
        h = self.hold[node][label]
        if q == h.source or q == self.author(label):
            return "back"
        kind = self.kind(label)
        if kind in CLI_KINDS:
            return "cli-grant" if list(self.grants(node, label, q)) else "cli-kind"
        r = self.rec[label]
        if h.depth >= 1:
            if h.depth > r["terms"]["hops"]:
                return "hops"
            if partner_role(node, q) not in r["terms"]["to"]:
                return "role"
            p = PURPOSE.get(kind)
            if p and not self.consent_valid(r["node"], node, p):
                return "consent"
        rules = list(self.rules(node, q, kind))
        if h.depth >= 1:
            rules = [x for x in rules if x["forward"]]
        if self.decide(node, label, q) is not None:
            return "relayed" if h.depth >= 1 else "sent"
        if not rules:
            return "no-rule"
        if any(not all(f in h.fields and glob_match(p, str(r["fields"][f]))
                       for f, p in x["where"]) for x in rules):
            return "where"
        return "replies"

    def author(self, label):
        if label in self.rec:
            return self.rec[label]["node"]
        return self.cli_rec[label]["node"]

    def kind(self, label):
        if label in self.rec:
            return self.rec[label]["kind"]
        return self.cli_rec[label]["kind"]

    def run(self, upto):
        """Replays phases 1..upto: the inputs of a phase, a fixed point, then the
        phase's retractions (consent withdrawals included) with all that follows."""
        self.cli_rec = {}  # label -> {"node", "kind", ...} of records the CLI writes
        self.deleted = {}  # (node, label) -> fields a retraction deleted there
        for ph in range(1, upto + 1):
            self.phase = ph
            # a consent goes to its grantee by an explicit grant
            for c in self.cons.values():
                if c["phase"] == ph:
                    self.cli_rec[c["label"]] = {"node": c["node"], "kind": "consent"}
                    self.hold[c["node"]][c["label"]] = Hold(0, None, {"*"})
                    self.st["grants"].append(
                        {"node": c["node"], "label": c["label"], "partner": c["grantee"],
                         "fields": None, "phase": ph, "accepted": True, "cli": True})
            for r in self.st["records"]:
                if r["phase"] == ph and r.get("id"):
                    self.hold[r["node"]][r["label"]] = Hold(0, None, r["fields"])
            self.fixpoint()
            for x in self.st.get("retractions", []):
                if x["phase"] == ph and x.get("ok"):
                    x["targets"] = self.sent_to(x["node"], x["label"])
                    self.retract(x["node"], x["label"], x["fields"], x["targets"])
            self.fixpoint()
        return self

    def sent_to(self, node, label):
        """The partners node passed label to."""
        return [q for q in PARTNERS[node]
                if label in self.hold[q] and self.hold[q][label].source == node]

    def retract(self, node, label, fields, targets):
        """node retracts label (fields, or the body) from targets: a retraction record
        to each; the recipient (node is the author or the partner the record came from)
        deletes them, answers with a receipt, and retracts in turn from the partners it
        passed the record to. Its copy is never sent to it again."""
        for q in targets:
            x = "X|%s|%s|%s" % (node, label, q)
            self.cli_rec[x] = {"node": node, "kind": "retraction", "ref": label, "to": q,
                               "fields": fields}
            self.hold[node][x] = Hold(0, None, {"*"})
            self.hold[q][x] = Hold(1, node, {"*"})
            hq = self.hold[q][label]
            if self.cli_rec.get(label, {}).get("kind") == "consent":
                # a consent withdrawn by its author: it ends at the grantee at once, and
                # stays on record there, answered with a "noted" receipt (commit
                # 5fc941d; the issue-4 design said the grantee deletes its body)
                y = "Y|%s|%s" % (q, x)
                self.cli_rec[y] = {"node": q, "kind": "receipt", "ref": x,
                                   "result": "noted"}
                self.hold[q][y] = Hold(0, None, {"*"})
                self.hold[node][y] = Hold(1, q, {"*"})
                continue
            # which fields a retraction of some fields names is not fixed by the
            # design: those asked for, or fewer, as long as it names every one of them
            # the recipient holds
            self.cli_rec[x]["held"] = sorted(hq.fields)
            gone = set(hq.fields) if fields is None else hq.fields & set(fields)
            hq.fields -= gone
            if gone:
                self.retracted.add((q, label))
                self.deleted.setdefault((q, label), set()).update(gone)
            else:
                # nothing of what it names was sent to q: whether a retraction goes
                # anyway is not fixed by the design (nor, then, its receipt)
                self.cli_rec[x]["optional"] = True
            y = "Y|%s|%s" % (q, x)
            self.cli_rec[y] = {"node": q, "kind": "receipt", "ref": x, "had": bool(gone),
                               "optional": not gone}
            self.hold[q][y] = Hold(0, None, {"*"})
            self.hold[node][y] = Hold(1, q, {"*"})
            self.retract(q, label, fields, self.sent_to(q, label))

    def fixpoint(self):
        changed = True
        while changed:
            changed = False
            for n in NODES:
                for label in sorted(self.hold[n], key=self.sort_key):
                    h = self.hold[n][label]
                    for q in PARTNERS[n]:
                        f = self.decide(n, label, q)
                        if f is None:
                            continue
                        hq = self.hold[q].get(label)
                        if hq is None:
                            self.hold[q][label] = Hold(h.depth + 1, n, f)
                            changed = True
                        elif (hq.source == n and not f <= hq.fields
                              and (q, label) not in self.retracted):
                            hq.fields |= f
                            changed = True

    def sort_key(self, label):
        return (self.order.get(label, 10 ** 6), label)

    def held(self, node, kinds):
        return sorted((lb for lb in self.hold[node] if lb in self.rec
                       and self.rec[lb]["kind"] in kinds), key=self.sort_key)

    def may_grant(self, node, label, q):
        """Would the author's terms and consent let node pass label to q at all?"""
        h = self.hold[node][label]
        r = self.rec[label]
        if q == h.source or q == r["node"]:
            return False
        if h.depth == 0:
            return True
        if h.depth > r["terms"]["hops"] or partner_role(node, q) not in r["terms"]["to"]:
            return False
        p = PURPOSE.get(r["kind"])
        return not p or self.consent_valid(r["node"], node, p)


# ---------------------------------------------------------------------------------------
# Generating and applying inputs
# ---------------------------------------------------------------------------------------
def canary(ctx, label, field):
    return "cnry-%s-%s-%s#" % (ctx.st["seed"], label, field)


def next_label(ctx, node):
    n = ctx.st["counter"].get(node, 0) + 1
    ctx.st["counter"][node] = n
    return "%s-%d" % (node, n)


def gen_terms(rng, node, kind, fields, useful):
    """Onward terms: hops 0..2, roles a subset, private fields. useful: biased towards
    terms that let the record travel where the flows need it."""
    if rng.random() < useful:
        hops = rng.choice([1, 2, 2])
        to = {ROLES[i] for i in range(3) if rng.random() < 0.5}
        # the role of the node that relays it first
        to.add({"user": "producer", "distributor": "distributor", "producer": "user"}[
            ROLE[node]])
    else:
        hops = rng.choice([0, 0, 1, 2])
        to = {ROLES[i] for i in range(3) if rng.random() < 0.4}
    private = []
    if rng.random() < 0.45:
        opt = [f for f in fields if f not in KINDS[kind]["req"]] or list(fields)
        private = sorted(rng.sample(opt, min(len(opt), rng.randint(1, 2))))
    return {"hops": hops, "to": sorted(to, key=ROLES.index), "private": private}


# A status moves its record along its lifecycle (proto/lifecycle.c), one step forward at
# a time; decisions on ideas and test requests are the producer's: others write notes.
CHAINS = {"idea": ["under_review", "planned", "in_progress", "released"],
          "claim": ["submitted", "under_review", "approved", "closed"],
          "test_request": ["candidates_proposed", "in_trial", "reported", "closed"]}


def status_state(ctx, node, refs):
    kinds = {r["label"]: r["kind"] for r in ctx.st["records"]}
    targets = [kinds.get(r) for r in refs]
    if node != "P" and ("idea" in targets or "test_request" in targets):
        return "note"
    if len(refs) != 1 or targets[0] not in CHAINS:
        return "note"
    steps = ctx.st.setdefault("status_steps", {})
    i = steps.get(refs[0], -1) + 1
    chain = CHAINS[targets[0]]
    if i >= len(chain):
        return "note"
    steps[refs[0]] = i
    return chain[i]


def create_record(ctx, rng, node, kind, refs, useful, phase, forced=None):
    """Generates and creates one record; logs it (id None if the CLI refused)."""
    label = next_label(ctx, node)
    fields = {}
    for f in all_fields(kind):
        if f in KINDS[kind]["req"] or rng.random() < 0.6 or (forced and f in forced):
            v = gen_value(rng, f, canary(ctx, label, f))
            fields[f] = gen_numbers(rng, v)
    if kind == "status":
        fields["state"] = status_state(ctx, node, refs)
    terms = gen_terms(rng, node, kind, fields, useful)
    rec = {"label": label, "node": node, "kind": kind, "fields": fields,
           "refs": list(refs), "terms": terms, "phase": phase, "id": None}
    args = ["record", "create", kind] + ["%s=%s" % (f, v) for f, v in fields.items()]
    for ref in refs:
        args += ["--ref", ctx.st["ids"][ref]]
    args += ["--onward-hops", terms["hops"]]
    if terms["to"]:
        args += ["--onward-to", ",".join(terms["to"])]
    if terms["private"]:
        args += ["--private", ",".join(terms["private"])]
    rc, out, err = ctx.cli(node, *args)
    m = re.fullmatch(r"\s*([0-9a-f]{64})\s*", out)
    if rc != 0 or not m:
        ctx.not_ok("record create %s at %s (%s)" % (kind, node, label),
                   "exit %d: %s" % (rc, err.strip() or out.strip()), " ".join(map(str, args)))
    else:
        rec["id"] = m.group(1)
        ctx.st["ids"][label] = rec["id"]
    ctx.st["records"].append(rec)
    return rec


def gen_rule(rng, node, partner, kind, forward, replies):
    pool = KINDS[kind]["where"]
    if rng.random() < 0.45:
        fields = None
    else:
        af = all_fields(kind)
        fields = sorted(rng.sample(af, rng.randint(1, len(af))), key=af.index)
    nw = rng.choices([0, 1, 2], [0.5, 0.35, 0.15])[0]
    where = []
    for f, pats in rng.sample(pool, min(nw, len(pool))):
        where.append([f, rng.choice(pats)])
    return {"node": node, "partner": partner, "kind": kind, "fields": fields,
            "where": where, "forward": forward, "replies": replies}


# (node role, partner role) -> kind: (p rule, p forward, p replies)
RULE_PLAN = {
    ("user", "distributor"): {"idea": (0.9, 0.1, 0), "claim": (0.7, 0, 0),
                              "test_response": (0.8, 0.1, 0.5),
                              "trial_report": (0.8, 0, 0.3), "account": (0.15, 0, 0)},
    ("distributor", "producer"): {"idea": (0.9, 0.8, 0), "claim": (0.9, 0.6, 0),
                                  "assessment": (0.7, 0.2, 0.3),
                                  "test_response": (0.8, 0.9, 0.5),
                                  "trial_report": (0.8, 0.9, 0.4), "status": (0.4, 0.2, 0.3),
                                  "contact": (0.1, 0, 0)},
    ("distributor", "user"): {"test_request": (0.8, 0.9, 0), "status": (0.8, 0.7, 0.6),
                              "idea": (0.4, 0.6, 0), "claim": (0.4, 0.3, 0.2),
                              "assessment": (0.4, 0.2, 0.5)},
    ("producer", "distributor"): {"test_request": (0.9, 0.1, 0), "status": (0.9, 0.2, 0.6),
                                  "idea": (0.5, 0.5, 0), "claim": (0.4, 0.8, 0),
                                  "assessment": (0.4, 0.8, 0)},
}


def add_rule(ctx, rule, phase):
    rule["phase"] = phase
    rule["id"] = None
    args = ["policy", "add", rule["partner"], rule["kind"]]
    if rule["fields"] is not None:
        args += ["--fields", ",".join(rule["fields"])]
    for f, pat in rule["where"]:
        args += ["--where", "%s=%s" % (f, pat)]
    if rule["forward"]:
        args.append("--forward")
    if rule["replies"]:
        args.append("--replies")
    rc, out, err = ctx.cli(rule["node"], *args)
    m = re.search(r"added rule (\d+)", out)
    if rc != 0 or not m:
        ctx.not_ok("policy add at %s: %s" % (rule["node"], " ".join(args[2:])),
                   "exit %d: %s" % (rc, err.strip() or out.strip()))
    else:
        rule["id"] = int(m.group(1))
    ctx.st["rules"].append(rule)


def gen_rules(ctx, rng, phase, scale):
    for n in NODES:
        for q in PARTNERS[n]:
            plan = RULE_PLAN.get((ROLE[n], partner_role(n, q)), {})
            for kind, (pr, pf, prp) in plan.items():
                if rng.random() >= pr * scale:
                    continue
                for _ in range(1 + (rng.random() < 0.3)):
                    add_rule(ctx, gen_rule(rng, n, q, kind, rng.random() < pf,
                                           rng.random() < prp), phase)


def own_consents(ctx, node):
    return {r["id"]: r for r in ctx.records_of(node, "consent") if r.get("source") == "local"}


def grant_consent(ctx, rng, node, grantee, purposes, phase):
    label = next_label(ctx, node) + "c"
    c = {"label": label, "node": node, "grantee": grantee, "purposes": purposes,
         "phase": phase, "until": None, "text": canary(ctx, label, "text"), "id": None}
    u = rng.random()
    args = ["consent", "grant", grantee, "--for", ",".join(purposes), "--text", c["text"]]
    if u < 0.25:
        c["until"] = "2099-12-31"
        args += ["--until", "2099-12-31"]
    before = own_consents(ctx, node)
    rc, out, err = ctx.cli(node, *args)
    after = own_consents(ctx, node)
    new = [i for i in after if i not in before]
    if rc != 0 or len(new) != 1:
        ctx.not_ok("consent grant at %s: %s" % (node, " ".join(args[2:])),
                   "exit %d: %s" % (rc, err.strip() or out.strip()),
                   "new consent records: %d" % len(new))
    else:
        c["id"] = new[0]
        ctx.st["ids"][label] = new[0]
    ctx.st["consents"].append(c)


def do_share(ctx, rng, model, node, label, q, phase):
    h = model.hold[node][label]
    r = model.rec[label]
    fields = None
    if rng.random() < 0.6:
        cand = sorted(h.fields, key=all_fields(r["kind"]).index)
        if h.depth >= 1:
            cand = [f for f in cand if f not in r["terms"]["private"]]
        if cand:
            fields = sorted(rng.sample(cand, rng.randint(1, len(cand))),
                            key=all_fields(r["kind"]).index)
    predicted = model.may_grant(node, label, q)
    args = ["share", ctx.st["ids"][label], "--to", q]
    if fields is not None:
        args += ["--fields", ",".join(fields)]
    rc, out, err = ctx.cli(node, *args)
    g = {"node": node, "label": label, "partner": q, "fields": fields, "phase": phase,
         "accepted": rc == 0, "predicted": predicted}
    ctx.st["grants"].append(g)
    desc = "share %s (%s by %s, depth %d at %s, terms %s) --to %s%s" % (
        label, r["kind"], r["node"], h.depth, node, json.dumps(r["terms"]), q,
        " --fields " + ",".join(fields) if fields else "")
    if (rc == 0) != predicted:
        ctx.not_ok("%s: %s as the model says" % (desc, "accepted" if predicted else "refused"),
                   "exit %d: %s" % (rc, (err.strip() or out.strip())[:400]))


def phase1(ctx, rng):
    for n in NODES:
        rc, out, err = ctx.cli(n, "id", "--json")
        try:
            ctx.st.setdefault("nodeid", {})[n] = json.loads(out)["id"]
        except (ValueError, KeyError):
            ctx.not_ok("id --json at %s" % n, err)
    gen_rules(ctx, rng, 1, 1.0)
    # consents first: they reach the grantee before the records they cover
    for u in ["U1", "U2", "U3", "U4"]:
        for i in range(rng.choices([0, 1, 2], [0.1, 0.65, 0.25])[0]):
            ps = [p for p in ["ideas", "claims", "trials"]
                  if rng.random() < (0.85 if p == "ideas" and i == 0 else 0.5)]
            grant_consent(ctx, rng, u, UPSTREAM[u], ps or ["trials"], 1)
    for d in ["D1", "D2"]:
        if rng.random() < 0.5:
            ps = [p for p in ["ideas", "claims"] if rng.random() < 0.6]
            grant_consent(ctx, rng, d, "P", ps or ["claims"], 1)
    for n in NODES:
        plan = {"user": [("idea", 3, 5), ("claim", 1, 2), ("account", 0, 1), ("contact", 0, 1)],
                "distributor": [("claim", 2, 4), ("idea", 0, 2), ("account", 1, 1),
                                ("contact", 0, 1)],
                "producer": [("test_request", 2, 3), ("idea", 0, 1)]}[ROLE[n]]
        for kind, lo, hi in plan:
            for _ in range(rng.randint(lo, hi)):
                useful = 0.0 if kind in ("account", "contact") else 0.7
                create_record(ctx, rng, n, kind, [], useful, 1)


def phase2(ctx, rng, model):
    gen_rules(ctx, rng, 2, 0.25)  # widening: backfill, "more fields"
    # explicit grants
    for n in NODES:
        for _ in range(rng.randint(0, 2)):
            labels = [lb for lb in model.held(n, set(KINDS))]
            if not labels:
                break
            lb = rng.choice(labels)
            qs = [q for q in PARTNERS[n] if q != model.hold[n][lb].source
                  and q != model.rec[lb]["node"]]
            if qs:
                do_share(ctx, rng, model, n, lb, rng.choice(qs), 2)
    for u in ["U1", "U2", "U3", "U4"]:
        for lb in model.held(u, {"test_request"}):
            if rng.random() < 0.75:
                create_record(ctx, rng, u, "test_response", [lb], 0.7, 2)
    for d in ["D1", "D2"]:
        cand = model.held(d, {"idea", "claim", "test_request"})
        for lb in rng.sample(cand, min(len(cand), rng.randint(1, 3))):
            create_record(ctx, rng, d, "assessment", [lb], 0.6, 2)
        cand = [lb for lb in model.held(d, {"idea", "claim"})
                if model.hold[d][lb].depth == 1]
        if cand and rng.random() < 0.6:
            create_record(ctx, rng, d, "status", [rng.choice(cand)], 0.5, 2)
    cand = model.held("P", {"idea", "claim", "test_request"})
    received = [lb for lb in cand if model.hold["P"][lb].depth >= 1]
    for _ in range(rng.randint(3, 5)):
        pool = received if received and rng.random() < 0.85 else cand
        if not pool:
            break
        refs = rng.sample(pool, min(len(pool), rng.choice([1, 1, 2])))
        create_record(ctx, rng, "P", "status", refs, 0.75, 2)


def phase3(ctx, rng, model):
    for n in NODES:
        live = [r for r in ctx.st["rules"] if r["node"] == n and r.get("id") is not None
                and r.get("removed") is None]
        if live and rng.random() < 0.35:
            r = rng.choice(live)
            rc, out, err = ctx.cli(n, "policy", "remove", r["id"])
            if rc != 0:
                ctx.not_ok("policy remove %d at %s" % (r["id"], n), err)
            else:
                r["removed"] = 3
    for u in ["U1", "U2", "U3", "U4"]:
        for lb in model.held(u, {"test_request"}):
            # a trial report comes from a firm that accepted the trial
            resp = [x for x in model.held(u, {"test_response"})
                    if model.rec[x]["node"] == u and model.rec[x]["refs"] == [lb] and
                    model.rec[x]["fields"].get("answer") == "accept"]
            if resp and rng.random() < 0.6:
                create_record(ctx, rng, u, "trial_report", [lb] + resp[:1], 0.7, 3)
    cand = [lb for lb in model.held("P", {"test_response", "idea", "claim"})
            if model.hold["P"][lb].depth >= 1]
    for lb in rng.sample(cand, min(len(cand), rng.randint(1, 3))):
        create_record(ctx, rng, "P", "status", [lb], 0.75, 3)


def own_retractions(ctx, node):
    return {r["id"]: r for r in ctx.records_of(node, "retraction")
            if r.get("source") == "local"}


def do_retract(ctx, node, label, fields, reason, phase, model, withdraw):
    """consent withdraw (withdraw) or retract; logs it if the CLI took it."""
    before = own_retractions(ctx, node)
    if withdraw:
        args = ["consent", "withdraw", ctx.st["ids"][label], "--reason", reason]
    else:
        args = ["retract", ctx.st["ids"][label], "--reason", reason]
        if fields is not None:
            args += ["--fields", ",".join(fields)]
    rc, out, err = ctx.cli(node, *args)
    # only those of this record: the daemon may pass on another retraction meanwhile
    rid = ctx.st["ids"][label]
    new = [r for i, r in own_retractions(ctx, node).items()
           if i not in before and rid in r.get("refs", [])]
    x = {"node": node, "label": label, "fields": fields, "reason": reason, "phase": phase,
         "ok": rc == 0, "withdraw": withdraw}
    ctx.st.setdefault("retractions", []).append(x)
    want = sorted(model.sent_to(node, label))
    to = sorted(byid_name(ctx, r.get("fields", {}).get("to")) for r in new)
    if rc != 0 or to != want:
        ctx.not_ok("%s at %s: a retraction to each partner it was sent to (%s)" % (
            " ".join(args[:2] + [label] + args[3:]), node, ",".join(want) or "none"),
            "exit %d: %s" % (rc, (err.strip() or out.strip())[:300]),
            "new retraction records to: %s" % (",".join(to) or "none"))
    return x


def byid_name(ctx, nodeid):
    for n, i in ctx.st["nodeid"].items():
        if i == nodeid:
            return n
    return str(nodeid)


def phase4(ctx, rng, model):
    """Consents withdrawn; what the user firm writes after it must not cross its
    distributor."""
    users = [u for u in ["U1", "U2", "U3", "U4"]
             if any(c["node"] == u and c.get("id") for c in ctx.st["consents"])]
    chosen = rng.sample(users, min(len(users), rng.randint(1, 2)))
    for u in chosen:
        for c in ctx.st["consents"]:
            if c["node"] != u or not c.get("id"):
                continue
            x = do_retract(ctx, u, c["label"], None, canary(ctx, c["label"] + "-w", "reason"),
                           4, model, True)
            if x["ok"]:
                c["withdrawn"] = 4
    ctx.st["withdrawing"] = chosen
    for u in chosen:
        for _ in range(2):
            create_record(ctx, rng, u, "idea", [], 1.0, 4, forced=("category", "product"))
        create_record(ctx, rng, u, "claim", [], 1.0, 4)
    # a user firm that withdrew nothing writes on too (its flow still works)
    others = [u for u in ["U1", "U2", "U3", "U4"] if u not in chosen]
    if others:
        create_record(ctx, rng, rng.choice(others), "idea", [], 1.0, 4)


def phase5(ctx, rng, model):
    """Retractions: a node takes back records (or some fields) it sent; those that
    passed them on retract them in turn."""
    cand = [(n, lb) for n in NODES for lb in model.held(n, set(KINDS))
            if model.sent_to(n, lb)]
    # prefer records that went further than one hop (the retraction cascades)
    deep = [(n, lb) for n, lb in cand
            if any(model.sent_to(q, lb) for q in model.sent_to(n, lb))]
    picks = []
    for _ in range(rng.randint(2, 3)):
        pool = [c for c in (deep if deep and rng.random() < 0.6 else cand)
                if c[1] not in [lb for _, lb in picks]]
        if pool:
            picks.append(rng.choice(pool))
    for n, lb in picks:
        fields = None
        if rng.random() < 0.5:
            held = sorted(model.hold[n][lb].fields)
            fields = sorted(rng.sample(held, rng.randint(1, len(held)))) if held else None
        do_retract(ctx, n, lb, fields, canary(ctx, lb + "-r" + n, "reason"), 5, model, False)


def cmd_phase(args):
    ctx = Ctx(args)
    k = args.phase
    if ctx.st["phase"] != k - 1:
        ctx.not_ok("phase %d follows phase %d" % (k, ctx.st["phase"]))
        return
    # one generator per phase, so a phase's draws do not depend on how many the CLI
    # refused earlier
    rng = random.Random("%s/%d" % (ctx.st["seed"], k))
    nrec, nrule, ngrant, ncons, nret = (
        len(ctx.st["records"]), len(ctx.st["rules"]), len(ctx.st["grants"]),
        len(ctx.st["consents"]), len(ctx.st.get("retractions", [])))
    model = Model(json.loads(json.dumps(ctx.st))).run(k - 1) if k > 1 else None
    {1: lambda: phase1(ctx, rng), 2: lambda: phase2(ctx, rng, model),
     3: lambda: phase3(ctx, rng, model), 4: lambda: phase4(ctx, rng, model),
     5: lambda: phase5(ctx, rng, model)}[k]()
    ctx.st["phase"] = k
    ctx.save()
    ctx.ok("seed %s phase %d: %d records, %d rules, %d grants, %d consents, %d retractions "
           "or withdrawals written" % (
               ctx.st["seed"], k, len(ctx.st["records"]) - nrec, len(ctx.st["rules"]) - nrule,
               len(ctx.st["grants"]) - ngrant, len(ctx.st["consents"]) - ncons,
               len(ctx.st.get("retractions", [])) - nret))


# ---------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------
def cmd_check(args):
    ctx = Ctx(args)
    st = ctx.st
    seed = st["seed"]
    model = Model(json.loads(json.dumps(st))).run(st["phase"])
    actual = {n: {r["id"]: r for r in ctx.records_of(n)} for n in NODES}
    nid = st["nodeid"]
    byid = {v: k for k, v in nid.items()}

    # the records the CLI and the daemons wrote themselves (consents, retractions,
    # receipts): found in their author's own store by what they are; that copy gives
    # their id and fields
    cli = {}  # label -> author's own JSON
    for c in model.cons.values():
        own = actual[c["node"]].get(c["id"])
        if own is None:
            ctx.not_ok("seed %s: %s's consent %s is in its own store" % (seed, c["node"],
                                                                       c["label"]))
            continue
        cli[c["label"]] = own
        f = own.get("fields", {})
        scope = set(str(f.get("scope", "")).replace(" ", "").split(","))
        if scope != set(c["purposes"]) or f.get("grantee") != nid[c["grantee"]]:
            ctx.not_ok("seed %s: consent %s says scope %s, grantee %s" % (
                seed, c["label"], ",".join(c["purposes"]), c["grantee"]),
                "got " + json.dumps(f))
    for label, info in model.cli_rec.items():  # in the order they were written
        if info["kind"] == "consent":
            continue
        ref = st["ids"].get(info["ref"])
        a = info["node"]
        if info["kind"] == "retraction":
            found = [r for r in actual[a].values() if r["kind"] == "retraction"
                     and r.get("source") == "local" and r.get("refs") == [ref]
                     and r.get("fields", {}).get("to") == nid[info["to"]]]
            what = "%s's retraction of %s to %s" % (a, info["ref"], info["to"])
        else:
            found = [r for r in actual[a].values() if r["kind"] == "receipt"
                     and r.get("source") == "local" and r.get("refs") == [ref]]
            x = model.cli_rec[info["ref"]]
            what = "%s's receipt for %s's retraction of %s" % (a, x["node"], x["ref"])
        if info.get("optional") and not found:
            for n in NODES:
                model.hold[n].pop(label, None)
            continue
        if ref is None or len(found) != 1:
            ctx.not_ok("seed %s: %s is in its store, once" % (seed, what),
                       "found %d" % len(found))
            continue
        r = found[0]
        st["ids"][label] = r["id"]
        cli[label] = r
        f = r.get("fields", {})
        if info["kind"] == "retraction":
            # of the fields asked for, it names at least those the recipient holds
            named = {x for x in str(f.get("fields", "")).split(",") if x}
            if info["fields"] is None:
                good = not named
            else:
                good = set(info["fields"]) & set(info["held"]) <= named <= set(info["fields"])
            if not good:
                ctx.not_ok("seed %s: %s names the fields %s" % (
                    seed, what, ",".join(info["fields"] or []) or "(none: the body)"),
                    "got " + json.dumps(f))
        else:
            want = ((info["result"],) if "result" in info
                    else ("deleted",) if info["had"] else ("deleted", "not_held"))
            if f.get("result") not in want:
                ctx.not_ok("seed %s: %s says %s" % (seed, what, " or ".join(want)),
                           "got " + json.dumps(f))

    def expect_fields(label, hold):
        """field name -> value the model says the node shows; None if unknown"""
        if label in model.rec:
            r = model.rec[label]
            return {f: str(r["fields"][f]) for f in hold.fields}, set(r["fields"])
        own = cli.get(label)
        if own is None:
            return None, None
        allf = set(own["fields"]) | set(own.get("withheld", []))
        shown = allf if "*" in hold.fields else hold.fields & allf
        return {f: str(own["fields"][f]) for f in shown if f in own["fields"]}, allf

    def describe(label):
        if label in model.rec:
            r = model.rec[label]
            return "%s %s by %s (refs %s, terms %s)" % (
                label, r["kind"], r["node"], ",".join(r["refs"]) or "-", json.dumps(r["terms"]))
        return "%s %s" % (label, model.cli_rec.get(label, {}).get("kind", "?"))

    def path(node, label):
        p = [node]
        while model.hold[p[-1]][label].source:
            p.append(model.hold[p[-1]][label].source)
        return "<-".join(p)

    lab_of = {v: k for k, v in st["ids"].items()}
    total_recs = total_fields = total_canaries = 0
    for n in NODES:
        exp = {}
        for label, h in model.hold[n].items():
            i = st["ids"].get(label)
            if i is not None:
                exp[i] = (label, h)
        act = actual[n]
        missing = [exp[i][0] for i in exp if i not in act]
        extra = [i for i in act if i not in exp]
        notes = []
        for lb in sorted(missing, key=model.sort_key):
            notes.append("missing %s; model path %s, fields %s" % (
                describe(lb), path(n, lb), ",".join(sorted(model.hold[n][lb].fields))))
        for i in extra:
            r = act[i]
            notes.append("extra %s %s %s by %s (%s), fields %s" % (
                lab_of.get(i, "unknown"), i[:12], r["kind"],
                byid.get(r["author"], r["author"][:12]),
                describe(lab_of[i]) if i in lab_of else "-",
                ",".join(sorted(r.get("fields", {})))))
        if notes:
            ctx.not_ok("seed %s: %s holds exactly the %d records the model says (has %d)" % (
                seed, n, len(exp), len(act)), *notes)
        else:
            ctx.ok("seed %s: %s holds exactly the %d records the model says" % (seed, n, len(exp)))
        # field by field
        bad = []
        nf = 0
        srcs = {}
        for i, (label, h) in sorted(exp.items(), key=lambda kv: model.sort_key(kv[1][0])):
            r = act.get(i)
            if r is None:
                continue
            want, allf = expect_fields(label, h)
            if want is None:
                continue
            got = {f: str(v) for f, v in r.get("fields", {}).items()}
            nf += len(want)
            if got != want:
                more = sorted(set(got) - set(want))
                less = sorted(set(want) - set(got))
                diff = sorted(f for f in set(got) & set(want) if got[f] != want[f])
                bad.append("%s via %s: fields shown %s, model %s (extra %s, missing %s%s)" % (
                    describe(label), path(n, label), ",".join(sorted(got)),
                    ",".join(sorted(want)), ",".join(more) or "-", ",".join(less) or "-",
                    ", values differ: " + ",".join(diff) if diff else ""))
            wh = set(r.get("withheld", []))
            if wh != allf - set(want):
                bad.append("%s: withheld %s, model %s" % (
                    label, ",".join(sorted(wh)), ",".join(sorted(allf - set(want)))))
            if r.get("author") != nid[model.author(label)]:
                bad.append("%s: author %s" % (label, r.get("author")))
            if r.get("kind") != model.kind(label):
                bad.append("%s: kind %s" % (label, r.get("kind")))
            if label in model.rec:
                m = model.rec[label]
                # the canonical header keeps refs sorted
                if sorted(r.get("refs", [])) != sorted(st["ids"][x] for x in m["refs"]):
                    bad.append("%s: refs %s" % (label, json.dumps(r.get("refs"))))
                t = r.get("terms", {})
                if (t.get("hops"), sorted(t.get("to", [])), sorted(t.get("private", []))) != (
                        m["terms"]["hops"], sorted(m["terms"]["to"]),
                        sorted(m["terms"]["private"])):
                    bad.append("%s: terms %s, written with %s" % (
                        label, json.dumps(t), json.dumps(m["terms"])))
            src = r.get("source")
            if h.source is None:
                if src != "local":
                    bad.append("%s: source %s, written here" % (label, src))
            else:
                srcs.setdefault(h.source, set()).add(json.dumps(src))
        # every partner one source value, different partners different ones
        vals = [v for s in srcs.values() for v in s]
        if any(len(s) != 1 for s in srcs.values()) or len(set(vals)) != len(vals):
            bad.append("record sources do not match the model's paths: " + json.dumps(
                {k: sorted(v) for k, v in srcs.items()}))
        if bad:
            ctx.not_ok("seed %s: %s shows exactly the fields the model says (%d fields)" % (
                seed, n, nf), *bad)
        else:
            ctx.ok("seed %s: %s shows exactly the fields the model says (%d fields)" % (
                seed, n, nf))
        total_recs += len(exp)
        total_fields += nf

    # canaries: every text value of every record, every consent's text, every
    # retraction's reason (that may reach the nodes a retraction of the record reaches)
    canaries = []  # (label, field, value, nodes allowed to hold it or None: the model's)
    for r in st["records"]:
        if r.get("id"):
            for f, v in r["fields"].items():
                if "cnry-" in str(v):
                    canaries.append((r["label"], f, str(v), None))
    for c in model.cons.values():
        canaries.append((c["label"], "text", c["text"], None))
    for x in st.get("retractions", []):
        if x.get("ok"):
            where = {n for n in NODES for lb, info in model.cli_rec.items()
                     if info["kind"] == "retraction" and info["ref"] == x["label"]
                     and lb in model.hold[n]}
            canaries.append(("retraction of " + x["label"], "reason", x["reason"], where))
    # a retraction deletes fields; the freed pages keep their bytes until the store is
    # compacted (the daemon does it when idle after a retraction): ask for it now
    for n in NODES:
        rc, _, err = ctx.cli(n, "compact")
        if rc != 0:
            ctx.not_ok("seed %s: trestle compact at %s" % (seed, n), err.strip())
    for n in NODES:
        try:
            with open(os.path.join(ctx.home(n), "store", "data.mdb"), "rb") as f:
                data = f.read()
        except OSError as e:
            ctx.not_ok("seed %s: read %s's store file" % (seed, n), str(e))
            continue
        found = []
        gone = []  # values this node held and deleted on a retraction
        checked = nretracted = 0
        for label, f, v, where in canaries:
            h = model.hold[n].get(label)
            if where is not None:
                allowed = n in where
            else:
                allowed = h is not None and (f in h.fields or "*" in h.fields)
            if allowed:
                continue
            dl = model.deleted.get((n, label), set())
            if f in dl or "*" in dl:
                nretracted += 1
                if v.encode() in data:
                    gone.append("%s field %s (%s)" % (describe(label), f, v))
                continue
            checked += 1
            if v.encode() in data:
                why = "not held" if h is None else "held without %s" % f
                found.append("%s field %s (%s; %s)" % (describe(label), f, v, why))
        total_canaries += checked + nretracted
        if found:
            ctx.not_ok("seed %s: none of the %d canaries the model forbids at %s is in its "
                       "store file" % (seed, checked, n), *found)
        else:
            ctx.ok("seed %s: none of the %d canaries the model forbids at %s is in its "
                   "store file" % (seed, checked, n))
        if nretracted:
            if gone:
                ctx.not_ok("seed %s: the %d retracted values %s deleted are gone from its "
                           "store file (free pages included)" % (seed, nretracted, n), *gone)
            else:
                ctx.ok("seed %s: the %d retracted values %s deleted are gone from its "
                       "store file (free pages included)" % (seed, nretracted, n))

    # `trestle retractions`: each one this node sent, with its receipt
    for n in NODES:
        want = {}
        for lb, info in model.cli_rec.items():
            if (info["kind"] == "retraction" and info["node"] == n and lb in st["ids"]
                    and lb in model.hold[n]):
                y = "Y|%s|%s" % (info["to"], lb)
                res = cli.get(y, {}).get("fields", {}).get("result", "?")
                want[st["ids"][lb]] = (st["ids"].get(info["ref"]), info["to"], res)
        rc, out, err = ctx.cli(n, "retractions", "--json")
        try:
            got = {x["id"]: (x.get("record"), x.get("partner"), x.get("receipt"))
                   for x in json.loads(out)}
        except (ValueError, KeyError, TypeError):
            ctx.not_ok("seed %s: retractions --json at %s" % (seed, n), err, out[:300])
            continue
        if got != want:
            ctx.not_ok("seed %s: `retractions` at %s lists the %d it sent, none outstanding"
                       % (seed, n, len(want)), "got  " + json.dumps(sorted(got.values())),
                       "want " + json.dumps(sorted(want.values())))
        elif want:
            ctx.ok("seed %s: `retractions` at %s lists the %d it sent, none outstanding"
                   % (seed, n, len(want)))

    # the withdrawal: what the user firm wrote after it did not cross its distributor
    for u in st.get("withdrawing", []):
        d = UPSTREAM[u]
        after = [r["label"] for r in st["records"] if r["node"] == u and r["phase"] == 4
                 and r.get("id") and r["kind"] in ("idea", "claim")]
        crossed = [(lb, m) for lb in after for m in NODES
                   if m not in (u, d) and st["ids"][lb] in actual[m]]
        if crossed:
            ctx.not_ok("seed %s: nothing %s wrote after withdrawing its consent left %s" % (
                seed, u, d), *["%s is at %s" % c for c in crossed])
        else:
            ctx.ok("seed %s: nothing %s wrote after withdrawing its consent left %s (%d records)"
                   % (seed, u, d, len(after)))
    cov = {}
    for n in NODES:
        for label in model.hold[n]:
            for q in PARTNERS[n]:
                w = model.why_not(n, label, q)
                cov[w] = cov.get(w, 0) + 1
    shares = [g for g in st["grants"]]
    print("    # seed %s coverage (record, partner) pairs: %s; shares accepted %d, refused %d" % (
        seed, ", ".join("%s %d" % kv for kv in sorted(cov.items())),
        sum(1 for g in shares if g["accepted"]), sum(1 for g in shares if not g["accepted"])))
    print("    # seed %s: %d records held in all, %d fields compared, %d forbidden canaries "
          "grepped" % (seed, total_recs, total_fields, total_canaries))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("phase")
    p.add_argument("--dir", required=True)
    p.add_argument("--trestle", required=True)
    p.add_argument("--seed", required=True)
    p.add_argument("--phase", type=int, required=True)
    c = sub.add_parser("check")
    c.add_argument("--dir", required=True)
    c.add_argument("--trestle", required=True)
    c.set_defaults(seed=None)
    args = ap.parse_args()
    if args.cmd == "phase":
        cmd_phase(args)
    else:
        cmd_check(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
