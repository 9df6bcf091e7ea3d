#!/usr/bin/env python3
"""Generates a large, valid snapshot (the seven CSV files of
shared/spec/snapshot-format.md) for the benchmarks in BENCHMARKS.md.

Standard library only, streamed to disk (memory holds the customer table, not
the rows). Deterministic for a given set of options.

    python3 benches/gen_snapshot.py --out /work/benchdata/snap5m --customers 200000 \
        --orders 3000000 --tickets 1000000 --surveys 500000 --activities 500000 --deals 100000

Dates cover `--weeks` ISO weeks starting on the Monday `--start` (default
2024-01-01, i.e. 2024-W01; 104 weeks end on 2025-12-28, 2025-W52). 30 % of the
customers are an installed base acquired in the two years before the window.

`--extra-week` writes, instead of the history, only the rows of the week that
follows the window (new ids, same customer base regenerated from the seed):
the "one more week" snapshot of the incremental benchmark.

`--plans K` gives the `plan` attribute K distinct values (P001..PK) instead of
Starter/Growth/Enterprise (the render benchmark uses 100).
"""
import argparse
import datetime as dt
import os
import random
import sys
import time

REGIONS = [("North America", 0.40), ("EMEA", 0.30), ("APAC", 0.20), ("LATAM", 0.10)]
CHANNELS = ["email", "email", "chat", "phone"]
ACTIVITY_KINDS = ["call", "meeting", "proposal_sent", "letter_sent", "seminar_attendee",
                  "brochure_sent", "profile_created", "referral"]
OWNERS = ["Alice Moreau", "Ben Carter", "Dana Kowalski", "Emil Svensson", "Fatima Haddad",
          "Chen Wei", "Gabriel Souza", "Hana Ito", "Ivan Petrov", "Julia Costa", "Karim Ali", "Lea Roux"]
COMMENTS = ["Great support", "\"Slow\", but fine", "Support took three days to answer",
            "Love the product", "Too expensive", "Missing an export to Excel"]


def weighted(rng, items):
    x = rng.random()
    acc = 0.0
    for name, w in items:
        acc += w
        if x < acc:
            return name
    return items[-1][0]


class Base:
    """The customer base, shared by the history and the extra week."""

    def __init__(self, args):
        self.start = dt.date.fromisoformat(args.start)
        if self.start.isoweekday() != 1:
            sys.exit("--start must be a Monday")
        self.days = args.weeks * 7
        self.end = self.start + dt.timedelta(days=self.days)
        # Day strings from two years before the window to a year after it.
        self.origin = self.start - dt.timedelta(days=730)
        span = 730 + self.days + 400
        self.day_str = [(self.origin + dt.timedelta(days=i)).isoformat() for i in range(span)]
        self.s0 = 730                      # index of the window start in day_str
        self.e0 = 730 + self.days          # index of the window end (exclusive)
        self.plans = ([("Starter", 0.5), ("Growth", 0.35), ("Enterprise", 0.15)] if args.plans == 0
                      else [("P%03d" % (i + 1), 1.0 / args.plans) for i in range(args.plans)])
        rng = random.Random(args.seed * 1000 + 1)
        n = args.customers
        self.ids = ["C%07d" % (i + 1) for i in range(n)]
        self.acq = [0] * n
        self.churn = [None] * n
        self.region = [""] * n
        self.plan = [""] * n
        for i in range(n):
            if rng.random() < 0.30:
                a = rng.randrange(0, self.s0)
            else:
                a = rng.randrange(self.s0, self.e0)
            self.acq[i] = a
            # Monthly churn about 2 %: an exponential lifetime, mean 50 months.
            c = a + 1 + int(rng.expovariate(1.0 / 1500.0))
            self.churn[i] = c if c < self.e0 else None
            self.region[i] = weighted(rng, REGIONS)
            self.plan[i] = weighted(rng, self.plans) if rng.random() > 0.01 else ""  # a few empty cells
        # Customers active at some point of the window, for linked records.
        self.active = [i for i in range(n) if self.churn[i] is None or self.churn[i] > self.s0]

    def customer_on(self, rng, day):
        """A customer id active on `day` (or a random one after a few tries)."""
        act = self.active
        for _ in range(4):
            i = act[rng.randrange(len(act))]
            if self.acq[i] <= day and (self.churn[i] is None or self.churn[i] > day):
                return self.ids[i]
        return self.ids[i]


class Out:
    def __init__(self, path, header):
        self.f = open(path, "w", encoding="utf-8", newline="", buffering=1 << 20)
        self.f.write(header + "\n")
        self.buf = []
        self.rows = 0

    def add(self, line):
        self.buf.append(line)
        if len(self.buf) >= 50000:
            self.flush()

    def flush(self):
        self.rows += len(self.buf)
        self.f.write("\n".join(self.buf))
        self.f.write("\n")
        self.buf = []

    def close(self):
        if self.buf:
            self.flush()
        self.f.close()
        return self.rows


def ts(base, sec):
    d, r = divmod(sec, 86400)
    h, r = divmod(r, 3600)
    m, s = divmod(r, 60)
    return "%sT%02d:%02d:%02dZ" % (base.day_str[d], h, m, s)


def generate(args):
    b = Base(args)
    os.makedirs(args.out, exist_ok=True)
    if args.extra_week:
        lo, hi, pre = b.e0, b.e0 + 7, "W"
        scale = 7.0 / b.days
    else:
        lo, hi, pre = b.s0, b.e0, ""
        scale = 1.0
    cutoff = hi * 86400  # the export is taken at the end: nothing later exists
    counts = {}
    S = b.day_str

    def n_of(total):
        return int(round(total * scale))

    # customers.csv
    out = Out(os.path.join(args.out, "customers.csv"), "customer_id,acquired_on,churned_on,region,plan")
    if args.extra_week:
        rng = random.Random(args.seed * 1000 + 11)
        for k in range(max(1, n_of(args.customers * 0.7))):
            region = weighted(rng, REGIONS)
            out.add("%s,%s,,%s,%s" % ("CW%07d" % (k + 1), S[rng.randrange(lo, hi)], region, weighted(rng, b.plans)))
    else:
        for i in range(args.customers):
            c = b.churn[i]
            out.add("%s,%s,%s,%s,%s" % (b.ids[i], S[b.acq[i]], S[c] if c is not None else "", b.region[i], b.plan[i]))
    counts["customers.csv"] = out.close()

    # orders.csv: a few orders of customers the CRM does not know, some without a cost, a few refunds
    rng = random.Random(args.seed * 1000 + 2)
    out = Out(os.path.join(args.out, "orders.csv"), "order_id,customer_id,ordered_on,amount,cost")
    for k in range(n_of(args.orders)):
        day = rng.randrange(lo, hi)
        cust = b.customer_on(rng, day) if rng.random() > 0.005 else "X%06d" % rng.randrange(1000)
        amount = round(rng.lognormvariate(5.0, 0.8), 2)
        if rng.random() < 0.01:
            amount = -amount
        cost = "" if rng.random() < 0.05 else "%.2f" % (abs(amount) * (0.2 + 0.3 * rng.random()))
        out.add("%sO%08d,%s,%s,%.2f,%s" % (pre, k + 1, cust, S[day], amount, cost))
    counts["orders.csv"] = out.close()

    # tickets.csv: timestamps to the second, RFC 3339 UTC
    rng = random.Random(args.seed * 1000 + 3)
    out = Out(os.path.join(args.out, "tickets.csv"), "ticket_id,opened_at,first_response_at,resolved_at,customer_id,channel")
    for k in range(n_of(args.tickets)):
        day = rng.randrange(lo, hi)
        opened = day * 86400 + rng.randrange(6 * 3600, 22 * 3600)
        first = resolved = ""
        if rng.random() < 0.95:
            r = opened + 60 + int(rng.lognormvariate(9.3, 1.0))   # median about 3 h
            if r < cutoff:
                first = ts(b, r)
            if rng.random() < 0.9:
                z = r + int(rng.lognormvariate(11.0, 1.0))        # median about 17 h later
                if z < cutoff:
                    resolved = ts(b, z)
        cust = b.customer_on(rng, day) if rng.random() > 0.1 else ""
        out.add("%sT%08d,%s,%s,%s,%s,%s" % (pre, k + 1, ts(b, opened), first, resolved, cust, CHANNELS[rng.randrange(4)]))
    counts["tickets.csv"] = out.close()

    # surveys.csv: 60 % NPS, 40 % CSAT, a few comments (one quoted with a comma)
    rng = random.Random(args.seed * 1000 + 4)
    out = Out(os.path.join(args.out, "surveys.csv"), "response_id,answered_on,kind,score,customer_id,comment")
    nps_scores = [0, 1, 2, 3, 4, 5, 6, 6, 7, 7, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10]
    for k in range(n_of(args.surveys)):
        day = rng.randrange(lo, hi)
        if rng.random() < 0.6:
            kind, score = "nps", nps_scores[rng.randrange(20)]
        else:
            kind, score = "csat", rng.choice((1, 2, 3, 4, 4, 4, 5, 5, 5, 5))
        comment = ""
        if rng.random() < 0.03:
            comment = COMMENTS[rng.randrange(len(COMMENTS))]
            if "," in comment or '"' in comment:
                comment = '"' + comment.replace('"', '""') + '"'
        out.add("%sR%08d,%s,%s,%d,%s,%s" % (pre, k + 1, S[day], kind, score, b.customer_on(rng, day), comment))
    counts["surveys.csv"] = out.close()

    # activities.csv
    rng = random.Random(args.seed * 1000 + 5)
    out = Out(os.path.join(args.out, "activities.csv"), "activity_id,occurred_on,kind,owner,customer_id")
    for k in range(n_of(args.activities)):
        day = rng.randrange(lo, hi)
        cust = b.customer_on(rng, day) if rng.random() < 0.7 else ""
        out.add("%sA%08d,%s,%s,%s,%s" % (pre, k + 1, S[day], ACTIVITY_KINDS[rng.randrange(8)], OWNERS[rng.randrange(12)], cust))
    counts["activities.csv"] = out.close()

    # deals.csv: closes 5-60 days after creation; not closed by the export date = open
    rng = random.Random(args.seed * 1000 + 6)
    out = Out(os.path.join(args.out, "deals.csv"), "deal_id,created_on,stage,closed_on,amount,customer_id,owner")
    for k in range(n_of(args.deals)):
        day = rng.randrange(lo, hi)
        closed = day + rng.randrange(5, 61)
        x = rng.random()
        stage = "open" if x < 0.2 or closed >= hi else ("won" if x < 0.45 else "lost")
        amount = "" if rng.random() < 0.05 else "%.2f" % rng.lognormvariate(8.5, 0.7)
        cust = b.customer_on(rng, day) if rng.random() < 0.5 else ""
        out.add("%sD%08d,%s,%s,%s,%s,%s,%s" % (pre, k + 1, S[day], stage, S[closed] if stage != "open" else "",
                                              amount, cust, OWNERS[rng.randrange(12)]))
    counts["deals.csv"] = out.close()

    # spend.csv: per day, region and category (segmented by its own region column)
    rng = random.Random(args.seed * 1000 + 7)
    out = Out(os.path.join(args.out, "spend.csv"), "spend_id,spent_on,category,amount,region")
    k = 0
    for day in range(lo, hi):
        for region, _ in REGIONS:
            for cat in ("marketing", "sales", "crm", "other"):
                k += 1
                out.add("%sS%08d,%s,%s,%.2f,%s" % (pre, k, S[day], cat, rng.uniform(50, 2000), region))
    counts["spend.csv"] = out.close()
    return counts


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--start", default="2024-01-01")
    p.add_argument("--weeks", type=int, default=104)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--customers", type=int, default=200000)
    p.add_argument("--orders", type=int, default=3000000)
    p.add_argument("--tickets", type=int, default=1000000)
    p.add_argument("--surveys", type=int, default=500000)
    p.add_argument("--activities", type=int, default=500000)
    p.add_argument("--deals", type=int, default=100000)
    p.add_argument("--plans", type=int, default=0, help="K distinct plan values (0: Starter/Growth/Enterprise)")
    p.add_argument("--extra-week", action="store_true", help="only the week after the window (new ids)")
    args = p.parse_args()
    t = time.time()
    counts = generate(args)
    total = sum(counts.values())
    for name, n in counts.items():
        print(f"{name}: {n} rows")
    print(f"total: {total} rows in {args.out} ({time.time() - t:.1f} s)")


if __name__ == "__main__":
    main()
