//! Ticket KPIs in bounded memory, exactly (kpis.md "Tickets and the data's
//! as-of"). A period whose tickets can no longer be pending at the data's
//! as-of ([`may_pend`] is false) needs no per-ticket outcomes: its five
//! ticket KPIs are the plain formulas, from counts, exact integer sums of
//! milliseconds and the median of the first response times within H. Each
//! (period, segment) keeps a [`Summary`]: those counts and sums and a coarse
//! histogram of the response times within H over log-spaced [`Buckets`].
//! The median is then found exactly in a second pass: the histogram says in
//! which bucket(s) the middle rank(s) fall ([`Summary::plan`]), and only
//! the durations in those buckets are read again ([`Summary::offer`]).
//! Periods whose tickets may still be pending (the last few before the
//! as-of) keep every ticket's outcomes as before. Both engines use this
//! module, so that their figures agree to the bit.
use super::stats::{self, Outcome};

/// Whether a ticket of the period ending (exclusively) on local day
/// `end_day` can still be pending at `as_of` (ms): it was opened before the
/// period's last local day ended, at most 14 h after that day's UTC end (the
/// widest time-zone offset), plus one day of margin; it is decided once its
/// longest window, max(S, H) hours, has passed.
pub(super) fn may_pend(end_day: i64, as_of: Option<i64>, sla: f64, window: f64) -> bool {
    const MS_PER_DAY: i64 = 86_400_000;
    let Some(as_of) = as_of else {
        return false; // no as-of: every ticket is read as decided
    };
    let epoch = crate::period::day_number(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
    let longest = stats::within_ms(sla.max(window)).saturating_add(1);
    let end = (end_day - epoch)
        .saturating_mul(MS_PER_DAY)
        .saturating_add(MS_PER_DAY + 14 * 3_600_000);
    as_of < end.saturating_add(longest)
}

/// The outcomes of one ticket's first response and resolution at `as_of`
/// (ms): an event at or before the as-of happened, after its opening by
/// that many ms; otherwise the ticket is open since it was opened.
pub(super) fn outcomes(
    opened: i64,
    first_response: Option<i64>,
    resolved: Option<i64>,
    as_of: i64,
) -> (Outcome, Outcome) {
    let outcome = |at: Option<i64>| match at {
        Some(t) if t <= as_of => Outcome::Happened(t.saturating_sub(opened)),
        _ => Outcome::Open(as_of.saturating_sub(opened).max(0)),
    };
    (outcome(first_response), outcome(resolved))
}

/// Log-spaced buckets of durations in ms: bucket 0 below 0 ms, bucket 1 for
/// 0 ms, then `per_octave` buckets per doubling (whole milliseconds), the
/// last one open-ended past the window.
#[derive(Debug, Clone)]
pub(super) struct Buckets {
    /// Lower bounds of buckets 1, 2, …: bucket b holds [bounds[b − 1], bounds[b]).
    bounds: Vec<i64>,
}

impl Buckets {
    pub(super) fn new(window_ms: i64, per_octave: u32) -> Buckets {
        let ratio = 2f64.powf(1.0 / f64::from(per_octave.max(1)));
        let mut bounds = vec![0, 1];
        while *bounds.last().unwrap() <= window_ms && bounds.len() < 4096 {
            let last = *bounds.last().unwrap();
            let next = ((last as f64) * ratio).ceil();
            let next = if next >= 9.0e18 {
                i64::MAX
            } else {
                (next as i64).max(last + 1)
            };
            bounds.push(next);
            if next == i64::MAX {
                break;
            }
        }
        Buckets { bounds }
    }

    /// The bucket of `ms`: how many lower bounds are at most `ms` (what
    /// PostgreSQL's `width_bucket(ms, bounds)` returns).
    pub(super) fn of(&self, ms: i64) -> usize {
        self.bounds.partition_point(|b| *b <= ms)
    }

    /// `ARRAY[…]::bigint[]` of the lower bounds, for `width_bucket`.
    pub(super) fn sql(&self) -> String {
        let list: Vec<String> = self.bounds.iter().map(|b| b.to_string()).collect();
        format!("ARRAY[{}]::bigint[]", list.join(", "))
    }
}

/// The windows of the ticket KPIs in hours and in whole milliseconds, and
/// the buckets of the response times within H.
#[derive(Debug, Clone)]
pub(super) struct Windows {
    pub(super) sla: f64,
    pub(super) window: f64,
    /// `hours(ms) <= S` exactly when `ms <= sla_ms`; likewise for H.
    pub(super) sla_ms: i64,
    pub(super) window_ms: i64,
    pub(super) buckets: Buckets,
}

impl Windows {
    pub(super) fn new(sla: f64, window: f64, per_octave: u32) -> Windows {
        let window_ms = stats::within_ms(window);
        Windows {
            sla,
            window,
            sla_ms: stats::within_ms(sla),
            window_ms,
            buckets: Buckets::new(window_ms, per_octave),
        }
    }

    /// One decided ticket as its summaries add it; None when it is still
    /// pending for either window (it then needs its outcomes).
    pub(super) fn read(&self, response: Outcome, resolution: Outcome) -> Option<Reading> {
        // As `stats::decided_within` decides: open for at least the window.
        let decided = |o: Outcome, horizon: f64| match o {
            Outcome::Happened(_) => true,
            Outcome::Open(c) => stats::hours(c) >= horizon,
        };
        if !decided(response, self.sla.max(self.window)) || !decided(resolution, self.window) {
            return None;
        }
        let within = |o: Outcome, limit: i64| match o {
            Outcome::Happened(t) if t <= limit => Some(t),
            _ => None,
        };
        let response_ms = within(response, self.window_ms);
        Some(Reading {
            response_within_sla: within(response, self.sla_ms).is_some(),
            bucket: response_ms.map(|t| self.buckets.of(t)),
            response_ms,
            resolution_ms: within(resolution, self.window_ms),
        })
    }
}

/// What a decided ticket adds to each of its (period, segment) summaries.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reading {
    response_within_sla: bool,
    /// The response time within H, and its bucket.
    response_ms: Option<i64>,
    pub(super) bucket: Option<usize>,
    resolution_ms: Option<i64>,
}

impl Reading {
    /// The response time within H.
    pub(super) fn response_ms(&self) -> Option<i64> {
        self.response_ms
    }
}

/// The bounded accumulator of one (period, segment)'s decided tickets.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Summary {
    /// First responses within S, and within H with the sum of their times.
    pub(super) response_within_sla: u64,
    pub(super) response_within: u64,
    pub(super) response_ms: i128,
    /// Resolutions within H, and the sum of their times.
    pub(super) resolution_within: u64,
    pub(super) resolution_ms: i128,
    /// Response times within H per bucket (up to the last bucket used).
    histogram: Vec<u64>,
    middle: Option<Middle>,
    /// The median response time within H in hours, once [`Summary::finish`]ed.
    median: Option<f64>,
}

/// The middle ranks of the response times within H (0-based; equal for an
/// odd count), the bucket of the lower one and the count below that
/// bucket, and the durations read from the buckets of the two (ms, count).
#[derive(Debug, Clone, PartialEq)]
struct Middle {
    ranks: (u64, u64),
    buckets: (usize, usize),
    before: u64,
    values: Vec<(i64, u64)>,
}

impl Summary {
    pub(super) fn add(&mut self, r: &Reading) {
        self.add_grouped(
            1,
            r.response_within_sla as u64,
            r.bucket,
            r.response_ms.map_or(0, i128::from),
            r.resolution_ms.is_some() as u64,
            r.resolution_ms.map_or(0, i128::from),
        );
    }

    /// Adds `n` tickets alike but for their sums: `within_sla` answered
    /// within S; those of them answered within H (all of them when `bucket`
    /// is some, none otherwise) in that bucket, their times summing to
    /// `response_ms`; `resolved` resolved within H in `resolution_ms`.
    pub(super) fn add_grouped(
        &mut self,
        n: u64,
        within_sla: u64,
        bucket: Option<usize>,
        response_ms: i128,
        resolved: u64,
        resolution_ms: i128,
    ) {
        self.response_within_sla += within_sla;
        if let Some(b) = bucket {
            self.response_within += n;
            self.response_ms += response_ms;
            if self.histogram.len() <= b {
                self.histogram.resize(b + 1, 0);
            }
            self.histogram[b] += n;
        }
        self.resolution_within += resolved;
        self.resolution_ms += resolution_ms;
    }

    /// After the first pass: which buckets hold the middle ranks. Returns
    /// whether a second pass must read durations for this summary.
    pub(super) fn plan(&mut self) -> bool {
        let n = self.response_within;
        self.median = None;
        if n == 0 {
            self.middle = None;
            return false;
        }
        let ranks = ((n - 1) / 2, n / 2);
        let bucket_of = |rank: u64| {
            let mut below = 0;
            for (b, c) in self.histogram.iter().enumerate() {
                if below + c > rank {
                    return (b, below);
                }
                below += c;
            }
            unreachable!("a rank below the histogram's total")
        };
        let (lo, before) = bucket_of(ranks.0);
        let (hi, _) = bucket_of(ranks.1);
        self.middle = Some(Middle {
            ranks,
            buckets: (lo, hi),
            before,
            values: Vec::new(),
        });
        true
    }

    /// Whether the second pass wants the durations of `bucket`.
    #[cfg(test)]
    pub(super) fn wants(&self, bucket: usize) -> bool {
        self.middle
            .as_ref()
            .is_some_and(|m| bucket == m.buckets.0 || bucket == m.buckets.1)
    }

    /// The buckets the second pass must read (none, one or two).
    pub(super) fn wanted(&self) -> Vec<usize> {
        match &self.middle {
            None => Vec::new(),
            Some(m) if m.buckets.0 == m.buckets.1 => vec![m.buckets.0],
            Some(m) => vec![m.buckets.0, m.buckets.1],
        }
    }

    /// The second pass: `count` response times of `ms` in `bucket`.
    pub(super) fn offer(&mut self, bucket: usize, ms: i64, count: u64) {
        if let Some(m) = self.middle.as_mut() {
            if bucket == m.buckets.0 || bucket == m.buckets.1 {
                m.values.push((ms, count));
            }
        }
    }

    /// After the second pass: the exact median from the durations read,
    /// which must be all those of the wanted buckets.
    pub(super) fn finish(&mut self) -> anyhow::Result<()> {
        let Some(mut m) = self.middle.take() else {
            return Ok(());
        };
        let expected = self.histogram[m.buckets.0]
            + if m.buckets.1 != m.buckets.0 {
                self.histogram[m.buckets.1]
            } else {
                0
            };
        let read: u64 = m.values.iter().map(|v| v.1).sum();
        anyhow::ensure!(
            read == expected,
            "the second pass over the tickets read {read} response times where the first counted {expected}: did the tickets change during the computation?"
        );
        m.values.sort_unstable();
        let at = |rank: u64| {
            let mut below = m.before;
            for (ms, c) in &m.values {
                if below + c > rank {
                    return *ms;
                }
                below += c;
            }
            unreachable!("the values of the middle buckets hold the middle ranks")
        };
        let (lo, hi) = (at(m.ranks.0), at(m.ranks.1));
        // The even-count rule of `stats::median_of_sorted`, on the same hours.
        self.median = Some(if m.ranks.0 == m.ranks.1 {
            stats::hours(lo)
        } else {
            (stats::hours(lo) + stats::hours(hi)) / 2.0
        });
        Ok(())
    }

    /// The median response time within H (hours), once finished.
    pub(super) fn median(&self) -> Option<f64> {
        self.median
    }
}

#[cfg(test)]
mod tests {
    use super::super::formulas::{ticket_kpis, ticket_kpis_bounded};
    use super::*;
    use proptest::prelude::*;

    const HOUR: i64 = 3_600_000;

    /// Summaries of `tickets` (response, resolution outcomes) through both
    /// passes, as the SQLite engine makes them.
    fn summarize(w: &Windows, tickets: &[(Outcome, Outcome)]) -> Summary {
        let mut s = Summary::default();
        let readings: Vec<Reading> = tickets
            .iter()
            .map(|(a, b)| w.read(*a, *b).expect("decided"))
            .collect();
        for r in &readings {
            s.add(r);
        }
        if s.plan() {
            for r in &readings {
                if let (Some(b), Some(ms)) = (r.bucket, r.response_ms()) {
                    if s.wants(b) {
                        s.offer(b, ms, 1);
                    }
                }
            }
        }
        s.finish().unwrap();
        s
    }

    fn outcome(kind: u8, ms: i64) -> Outcome {
        if kind == 0 {
            Outcome::Open(ms.abs())
        } else {
            Outcome::Happened(ms)
        }
    }

    #[test]
    fn buckets_are_width_buckets() {
        let b = Buckets::new(72 * HOUR, 4);
        assert_eq!((b.of(-5), b.of(0), b.of(1), b.of(2)), (0, 1, 2, 3));
        assert!(
            b.of(72 * HOUR) < b.bounds.len(),
            "the window has its own buckets"
        );
        assert!(b.bounds.len() < 130, "{}", b.bounds.len());
        assert!(b.bounds.windows(2).all(|w| w[0] < w[1]));
        for ms in [3, 17, 999, 1000, 1001, 3_599_999, 72 * HOUR] {
            let k = b.of(ms);
            assert!(b.bounds[k - 1] <= ms && ms < b.bounds[k], "{ms}");
        }
        assert!(b.sql().starts_with("ARRAY[0, 1, 2, "));
    }

    #[test]
    fn the_two_middle_values_in_different_buckets() {
        // 1 h and 10 h: far apart, the median (5.5 h) between two buckets.
        let w = Windows::new(24.0, 72.0, 4);
        let t = |h: i64| (Outcome::Happened(h * HOUR), Outcome::Open(100 * HOUR));
        let tickets = [t(1), t(10)];
        let s = summarize(&w, &tickets);
        let m = s.middle.clone();
        assert_eq!(m, None, "finished");
        assert_ne!(w.buckets.of(HOUR), w.buckets.of(10 * HOUR));
        assert_eq!(s.median(), Some(5.5));
        let all: Vec<(Outcome, Outcome)> = tickets.to_vec();
        let (resp, res): (Vec<_>, Vec<_>) = all.into_iter().unzip();
        assert_eq!(
            ticket_kpis_bounded(2, &s, 72.0),
            ticket_kpis(&resp, &res, 24.0, 72.0)
        );
    }

    #[test]
    fn pending_tickets_are_not_summarized_and_may_pend_is_the_rule() {
        let w = Windows::new(24.0, 72.0, 8);
        let open = |h: i64| Outcome::Open(h * HOUR);
        assert!(w.read(open(80), open(80)).is_some());
        assert!(w.read(open(23), open(80)).is_none(), "pending at S");
        assert!(
            w.read(Outcome::Happened(5), open(71)).is_none(),
            "pending at H"
        );
        assert!(w.read(open(73), Outcome::Happened(-4)).is_some());
        // A week ending on day e: pending possible until e + 1 day + 14 h + 72 h.
        let e = crate::period::day_number("2026-11-23".parse().unwrap());
        let e_ms = chrono::DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let limit = e_ms + (24 + 14 + 72) * HOUR;
        assert!(may_pend(e, Some(limit), 24.0, 72.0));
        assert!(!may_pend(e, Some(limit + 1), 24.0, 72.0));
        assert!(!may_pend(e, None, 24.0, 72.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
        /// The bounded summary's five KPIs equal the per-ticket formulas to
        /// the bit on decided tickets: even and odd counts, ties (few
        /// distinct times), bucket edges (times near powers of two), none,
        /// negative times, events past the window, tickets open past it.
        #[test]
        fn the_bounded_kpis_are_the_per_ticket_ones(
            raw in proptest::collection::vec((0u8..3, 0u8..3, 0u32..4, -5i64..300_000_000, -5i64..300_000_000), 0..120),
            per_octave in 1u32..16,
            sla in prop_oneof![Just(24.0), Just(1.0), Just(0.5), Just(72.0), Just(100.0)],
        ) {
            let window = 72.0;
            let w = Windows::new(sla, window, per_octave);
            let longest = w.sla_ms.max(w.window_ms);
            let tickets: Vec<(Outcome, Outcome)> = raw
                .iter()
                .map(|&(a, b, shape, x, y)| {
                    // Shape the times: bucket edges, few distinct values, any.
                    let shape_ms = |v: i64| match shape {
                        0 => 1i64 << (v.rem_euclid(28)),
                        1 => (1i64 << (v.rem_euclid(28))) - 1,
                        2 => v.rem_euclid(4) * HOUR,
                        _ => v,
                    };
                    let (x, y) = (shape_ms(x), shape_ms(y));
                    let r = outcome(a.min(1), x);
                    let s = outcome(b.min(1), y);
                    // Open tickets are decided: open past their windows.
                    let fix = |o: Outcome| match o {
                        Outcome::Open(c) => Outcome::Open(longest + 1 + c),
                        h => h,
                    };
                    (fix(r), fix(s))
                })
                .collect();
            let s = summarize(&w, &tickets);
            let (resp, res): (Vec<_>, Vec<_>) = tickets.iter().copied().unzip();
            let exact = ticket_kpis(&resp, &res, sla, window);
            let bounded = ticket_kpis_bounded(tickets.len() as u64, &s, window);
            prop_assert_eq!(&bounded, &exact);
            // And against the sorted vector's median directly.
            let mut xs: Vec<f64> = resp.iter().filter_map(|o| match *o {
                Outcome::Happened(t) if stats::hours(t) <= window => Some(stats::hours(t)),
                _ => None,
            }).collect();
            xs.sort_by(f64::total_cmp);
            prop_assert_eq!(s.median(), stats::median_of_sorted(&xs));
        }

        /// Summaries add up: tickets added one by one or grouped (as the
        /// PostgreSQL engine sends them) give the same summary.
        #[test]
        fn grouped_rows_add_up_to_the_same_summary(
            raw in proptest::collection::vec((0i64..5, 0i64..100), 0..60),
        ) {
            let w = Windows::new(24.0, 72.0, 4);
            let tickets: Vec<(Outcome, Outcome)> = raw
                .iter()
                .map(|&(a, b)| (Outcome::Happened(a * 20 * HOUR), Outcome::Happened(b * HOUR)))
                .collect();
            let one_by_one = summarize(&w, &tickets);
            let mut grouped = Summary::default();
            let mut groups: std::collections::BTreeMap<Option<usize>, (u64, u64, i128, u64, i128)> = Default::default();
            for (a, b) in &tickets {
                let r = w.read(*a, *b).unwrap();
                let g = groups.entry(r.bucket).or_default();
                g.0 += 1;
                g.1 += r.response_within_sla as u64;
                g.2 += r.response_ms.map_or(0, i128::from);
                g.3 += r.resolution_ms.is_some() as u64;
                g.4 += r.resolution_ms.map_or(0, i128::from);
            }
            for (b, g) in &groups {
                grouped.add_grouped(g.0, g.1, *b, g.2, g.3, g.4);
            }
            if grouped.plan() {
                let mut by_ms: std::collections::BTreeMap<i64, u64> = Default::default();
                for (a, _) in &tickets {
                    if let Outcome::Happened(t) = a {
                        if *t <= w.window_ms { *by_ms.entry(*t).or_default() += 1; }
                    }
                }
                for (ms, c) in by_ms {
                    let b = w.buckets.of(ms);
                    if grouped.wants(b) { grouped.offer(b, ms, c); }
                }
            }
            grouped.finish().unwrap();
            prop_assert_eq!(grouped, one_by_one);
        }
    }
}
