//! Demo business generator: writes a complete, deterministic CRM snapshot
//! (the seven CSV files of snapshot-format.md) so that `scorecard` can be
//! tried without real data.
//!
//! The story of the sample business: a small B2B software company sells three
//! subscription plans (Starter, Growth, Enterprise) in four regions. When the
//! export window opens it already has an installed base (about 30 % of all
//! customers it will ever have); after that it wins customers steadily, with
//! growth over time, a spring peak, a summer lull and a dip over the year-end
//! holidays. Starter customers sign up mostly on their own, bigger plans come
//! through seven sales reps who run deals (win rate about 25 %, cycles of
//! 10-60 days; a prospect's deal carries its own region and the plan
//! quoted, so that segment win rates count the lost ones), seminars and
//! calls. Customers pay monthly invoices, buy add-ons,
//! occasionally get refunds, open support tickets and answer NPS/CSAT surveys
//! (NPS around 35-40).
//!
//! The twist the scorecard should find: over the last eight weeks support in
//! EMEA falls apart. First responses there slip from about 4 hours to about
//! 30 hours, more tickets stay unresolved, and EMEA survey answers turn sour
//! at the same time ("Support took three days to answer"). Everything else is
//! steady, so the insight is real and unambiguous.
//!
//! A few warts a real export has are there on purpose: deals are only tracked
//! from the start of the window (the CRM went live then), a few orders belong
//! to customers deleted from the CRM, some orders lack a cost, some deals lack
//! an amount, and tickets or responses that would fall after `end` are simply
//! not there yet. One survey comment carries `<script>` and one a quoted word
//! with a comma, so escaping in every output gets exercised.
//!
//! Output is byte-identical for the same options on the same platform and
//! `rand` version (`SmallRng` is not portable across those): each file has its
//! own `SmallRng` stream seeded from the seed, and rows are produced in a fixed
//! order. Nothing is dated on or after `end` (the export is taken on `end`);
//! only the installed base's `acquired_on` precedes the window.

use std::f64::consts::PI;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp1, Poisson, StandardNormal};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub weeks: u32,
    pub seed: u64,
    /// Exclusive: the Monday after the last generated week; data covers
    /// `[end - weeks*7 days, end)`.
    pub end: NaiveDate,
    /// Target number of customers ever acquired (rows of customers.csv).
    pub customers: u32,
}

/// What was written: file names and their row counts (header excluded).
#[derive(Debug, Clone)]
pub struct DemoSummary {
    pub files: Vec<(String, u64)>,
}

/// Writes the demo snapshot into `dir` (created if missing).
pub fn generate(dir: &Path, opts: &DemoOptions) -> Result<DemoSummary> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let biz = Business::new(opts);
    let files = vec![
        write_customers(dir, &biz)?,
        write_deals(dir, &biz)?,
        write_orders(dir, &biz)?,
        write_tickets(dir, &biz)?,
        write_surveys(dir, &biz)?,
        write_spend(dir, &biz)?,
        write_activities(dir, &biz)?,
    ];
    Ok(DemoSummary { files })
}

/// A sales region. Reps are regional, so per-region sales spend and activity make sense.
#[derive(PartialEq)]
struct Region {
    name: &'static str,
    share: f64,
    reps: &'static [&'static str],
}

static REGIONS: [Region; 4] = [
    Region {
        name: "North America",
        share: 0.40,
        reps: &["Alice Moreau", "Ben Carter"],
    },
    Region {
        name: "EMEA",
        share: 0.30,
        reps: &["Dana Kowalski", "Emil Svensson", "Fatima Haddad"],
    },
    Region {
        name: "APAC",
        share: 0.20,
        reps: &["Chen Wei"],
    },
    Region {
        name: "LATAM",
        share: 0.10,
        reps: &["Gabriel Souza"],
    },
];

impl Region {
    fn random_rep(&self, rng: &mut SmallRng) -> &'static str {
        self.reps[rng.gen_range(0..self.reps.len())]
    }
}

/// A subscription plan and how its customers behave.
struct Plan {
    name: &'static str,
    /// Share of new customers.
    share: f64,
    /// Share of the deals sales works on (bigger plans are sales-led).
    deal_share: f64,
    monthly_price: f64,
    /// Starter customers have the least invested and leave the most.
    monthly_churn: f64,
    /// Chance that a new customer came through a tracked (won) deal.
    deal_probability: f64,
    sales_cycle_days: (i64, i64),
    /// Spread of monthly usage charges on top of the price (0: flat fee).
    usage_sigma: f64,
    tickets_per_month: f64,
}

static PLANS: [Plan; 3] = [
    Plan {
        name: "Starter",
        share: 0.50,
        deal_share: 0.25,
        monthly_price: 99.0,
        monthly_churn: 0.040,
        deal_probability: 0.35,
        sales_cycle_days: (10, 25),
        usage_sigma: 0.0,
        tickets_per_month: 0.5,
    },
    Plan {
        name: "Growth",
        share: 0.35,
        deal_share: 0.50,
        monthly_price: 490.0,
        monthly_churn: 0.020,
        deal_probability: 0.85,
        sales_cycle_days: (15, 45),
        usage_sigma: 0.15,
        tickets_per_month: 0.8,
    },
    Plan {
        name: "Enterprise",
        share: 0.15,
        deal_share: 0.25,
        monthly_price: 2400.0,
        monthly_churn: 0.010,
        deal_probability: 1.0,
        sales_cycle_days: (30, 60),
        usage_sigma: 0.15,
        tickets_per_month: 1.5,
    },
];

impl Plan {
    fn sales_cycle(&self, rng: &mut SmallRng) -> TimeDelta {
        days(rng.gen_range(self.sales_cycle_days.0..=self.sales_cycle_days.1))
    }
    fn annual_value(&self, rng: &mut SmallRng) -> f64 {
        lognormal(rng, self.monthly_price * 12.0, 0.3)
    }
}

struct Customer {
    id: String,
    acquired_on: NaiveDate,
    churned_on: Option<NaiveDate>,
    region: &'static Region,
    plan: &'static Plan,
}

impl Customer {
    /// A customer is not a customer any more on its churn day.
    fn is_active(&self, day: NaiveDate) -> bool {
        self.acquired_on <= day && self.churned_on.is_none_or(|churned| day < churned)
    }
}

/// The customer list (the only large thing held in memory) and the window.
struct Business {
    seed: u64,
    start: NaiveDate,
    end: NaiveDate,
    customers: Vec<Customer>,
    /// New customers per window week; deals and spend are scaled from it.
    new_per_week: Vec<u32>,
}

const DAYS_PER_MONTH: f64 = 30.44;
const EMEA_STRAIN_DAYS: i64 = 56;
const SAME_WEEK_CHURNERS: usize = 5;

impl Business {
    fn new(opts: &DemoOptions) -> Business {
        let mut rng = stream_rng(opts.seed, 1);
        let weeks = opts.weeks as usize;
        let start = opts.end - days(7 * weeks as i64);
        let total = opts.customers as usize;
        let base_count = if weeks == 0 {
            total
        } else {
            (total as f64 * 0.3).round() as usize
        };
        let new_count = total - base_count;

        // Cumulative rounding makes the weekly counts add up to exactly `new_count`.
        let weights: Vec<f64> = (0..weeks)
            .map(|w| {
                acquisition_weight(start + days(7 * w as i64), w, weeks) * rng.gen_range(0.85..1.15)
            })
            .collect();
        let weight_sum: f64 = weights.iter().sum();
        let (mut cumulative, mut assigned) = (0.0, 0usize);
        let mut new_per_week = Vec::with_capacity(weeks);
        for weight in &weights {
            cumulative += weight;
            let target = (cumulative / weight_sum * new_count as f64).round() as usize;
            new_per_week.push((target - assigned) as u32);
            assigned = target;
        }

        let mut customers = Vec::with_capacity(total);
        let mut new_customer =
            |rng: &mut SmallRng, acquired_on: NaiveDate, lifetime_from: NaiveDate| {
                let plan = pick(rng, &PLANS, |p| p.share);
                let region = pick(rng, &REGIONS, |r| r.share);
                // Constant monthly hazard -> exponential lifetime in days.
                let hazard = -(1.0 - plan.monthly_churn).ln() / DAYS_PER_MONTH;
                let lifetime: f64 = rng.sample::<f64, _>(Exp1) / hazard;
                let churn = lifetime_from + days(lifetime as i64);
                let churned_on = (churn < opts.end).then_some(churn);
                customers.push(Customer {
                    id: String::new(),
                    acquired_on,
                    churned_on,
                    region,
                    plan,
                });
            };
        // The installed base: acquired up to three years earlier, all still customers at `start`.
        for _ in 0..base_count {
            let acquired_on = start - days(rng.gen_range(1..=3 * 365));
            new_customer(&mut rng, acquired_on, start.max(acquired_on + days(14)));
        }
        for (week, &count) in new_per_week.iter().enumerate() {
            for _ in 0..count {
                let acquired_on = start + days(7 * week as i64 + rng.gen_range(0..7));
                // Nobody leaves before the first billing period is over...
                new_customer(&mut rng, acquired_on, acquired_on + days(14));
            }
        }
        // ...except a handful who sign up and cancel within the same week.
        let handful = SAME_WEEK_CHURNERS.min(new_count);
        for i in rand::seq::index::sample(&mut rng, new_count, handful) {
            let customer = &mut customers[base_count + i];
            let rest_of_week = 6 - customer.acquired_on.weekday().num_days_from_monday() as i64;
            let churn = customer.acquired_on + days(rng.gen_range(0..=rest_of_week));
            customer.churned_on = Some(churn.min(opts.end - days(1)));
        }
        customers.sort_by_key(|c| c.acquired_on);
        for (n, customer) in customers.iter_mut().enumerate() {
            customer.id = format!("C{:05}", n + 1);
        }
        Business {
            seed: opts.seed,
            start,
            end: opts.end,
            customers,
            new_per_week,
        }
    }

    fn total_days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// Customers acquired on or before `day` (the list is sorted by acquisition).
    fn known_on(&self, day: NaiveDate) -> &[Customer] {
        &self.customers[..self.customers.partition_point(|c| c.acquired_on <= day)]
    }

    /// With probability `chance`, a random current customer of `region` (None when a few draws
    /// miss): links deals and activities to accounts without scanning the whole list.
    fn maybe_customer(
        &self,
        rng: &mut SmallRng,
        chance: f64,
        day: NaiveDate,
        region: &Region,
    ) -> Option<&Customer> {
        let known = self.known_on(day);
        if known.is_empty() || !rng.gen_bool(chance) {
            return None;
        }
        (0..8)
            .map(|_| &known[rng.gen_range(0..known.len())])
            .find(|c| c.is_active(day) && c.region == region)
    }

    /// 0 until eight weeks before `end`, then rising linearly to 1: how badly EMEA support is failing.
    fn emea_strain(&self, region: &Region, day: NaiveDate) -> f64 {
        let days_left = (self.end - day).num_days();
        if region.name != "EMEA" || days_left >= EMEA_STRAIN_DAYS {
            return 0.0;
        }
        (EMEA_STRAIN_DAYS - days_left) as f64 / EMEA_STRAIN_DAYS as f64
    }
}

/// Relative acquisition intensity of a week: growth, seasonality, holidays.
fn acquisition_weight(week_start: NaiveDate, week: usize, weeks: usize) -> f64 {
    let growth = 1.0 + 0.6 * week as f64 / weeks as f64;
    // Peaks in early March, lowest at the end of August.
    let season = 1.0 + 0.15 * (2.0 * PI * (week_start.ordinal() as f64 - 60.0) / 365.25).cos();
    let (month, day) = (week_start.month(), week_start.day());
    let holidays = if (month == 12 && day >= 20) || (month == 1 && day <= 3) {
        0.55
    } else {
        1.0
    };
    growth * season * holidays
}

fn days(n: i64) -> TimeDelta {
    TimeDelta::days(n)
}

/// Independent stream per file, so changing one file's logic leaves the others' bytes alone.
fn stream_rng(seed: u64, stream: u64) -> SmallRng {
    SmallRng::seed_from_u64(seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

fn pick<'a, T>(rng: &mut SmallRng, items: &'a [T], weight: impl Fn(&T) -> f64) -> &'a T {
    let total: f64 = items.iter().map(&weight).sum();
    let mut draw = rng.gen_range(0.0..total);
    for item in items {
        draw -= weight(item);
        if draw < 0.0 {
            return item;
        }
    }
    &items[items.len() - 1] // only reached through floating-point rounding
}

fn poisson(rng: &mut SmallRng, lambda: f64) -> u64 {
    match Poisson::new(lambda) {
        Ok(dist) => dist.sample(rng) as u64,
        Err(_) => 0, // lambda <= 0: nothing happens
    }
}

fn lognormal(rng: &mut SmallRng, median: f64, sigma: f64) -> f64 {
    median * (sigma * rng.sample::<f64, _>(StandardNormal)).exp()
}

/// Two decimals, '.' separator, never "-0.00".
fn money(value: f64) -> String {
    let cents = (value * 100.0).round();
    if cents == 0.0 {
        return "0.00".to_string();
    }
    format!("{:.2}", cents / 100.0)
}

fn timestamp(at: NaiveDateTime) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A CSV file being streamed, with its row count and error context.
struct Table {
    name: &'static str,
    path: PathBuf,
    writer: csv::Writer<File>,
    rows: u64,
}

impl Table {
    fn create(dir: &Path, name: &'static str, header: &str) -> Result<Table> {
        let path = dir.join(name);
        let mut writer = csv::Writer::from_path(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        writer
            .write_record(header.split(','))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Table {
            name,
            path,
            writer,
            rows: 0,
        })
    }

    fn row(&mut self, fields: &[&str]) -> Result<()> {
        self.writer
            .write_record(fields)
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.rows += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<(String, u64)> {
        self.writer
            .flush()
            .with_context(|| format!("writing {}", self.path.display()))?;
        Ok((self.name.to_string(), self.rows))
    }
}

fn write_customers(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut out = Table::create(
        dir,
        "customers.csv",
        "customer_id,acquired_on,churned_on,region,plan",
    )?;
    for c in &biz.customers {
        let churned = c.churned_on.map(|d| d.to_string()).unwrap_or_default();
        out.row(&[
            &c.id,
            &c.acquired_on.to_string(),
            &churned,
            c.region.name,
            c.plan.name,
        ])?;
    }
    out.finish()
}

struct Deal<'a> {
    created_on: NaiveDate,
    closed_on: Option<NaiveDate>,
    stage: &'static str,
    amount: Option<f64>,
    customer_id: &'a str,
    owner: &'static str,
    /// The deal's own segment cells: a prospect's region and the plan
    /// quoted (empty on a customer's deal, which takes its customer's).
    region: &'static str,
    plan: &'static str,
}

fn write_deals(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 2);
    let mut deals = Vec::new();
    // Won deals are the sales-led new customers; pipeline from before the window is not in the export.
    for c in biz.customers.iter().filter(|c| c.acquired_on >= biz.start) {
        if !rng.gen_bool(c.plan.deal_probability) {
            continue;
        }
        let created_on = c.acquired_on - c.plan.sales_cycle(&mut rng);
        let (amount, owner) = (c.plan.annual_value(&mut rng), c.region.random_rep(&mut rng));
        if created_on >= biz.start {
            let (closed_on, stage) = (Some(c.acquired_on), "won");
            deals.push(Deal {
                created_on,
                closed_on,
                stage,
                amount: Some(amount),
                customer_id: &c.id,
                owner,
                region: "",
                plan: "",
            });
        }
    }
    // For every expected win about three deals are lost (win rate ~25 %). Wins whose close falls
    // after `end` are still open; those that closed are already listed above as customers.
    let mean_deal_probability: f64 = PLANS.iter().map(|p| p.share * p.deal_probability).sum();
    for (week, &new) in biz.new_per_week.iter().enumerate() {
        let expected_wins = new as f64 * mean_deal_probability;
        for (lambda, would_win) in [(3.0 * expected_wins, false), (expected_wins, true)] {
            for _ in 0..poisson(&mut rng, lambda) {
                let created_on = biz.start + days(7 * week as i64 + rng.gen_range(0..7));
                let plan = pick(&mut rng, &PLANS, |p| p.deal_share);
                let region = pick(&mut rng, &REGIONS, |r| r.share);
                let closes = created_on + plan.sales_cycle(&mut rng);
                let open = closes >= biz.end;
                if would_win && !open {
                    continue;
                }
                // Mostly prospects; some are upsell deals with an existing customer.
                let customer = biz.maybe_customer(&mut rng, 0.15, created_on, region);
                let amount = (!rng.gen_bool(0.03)).then(|| plan.annual_value(&mut rng));
                deals.push(Deal {
                    created_on,
                    closed_on: (!open).then_some(closes),
                    stage: if open { "open" } else { "lost" },
                    amount,
                    customer_id: customer.map_or("", |c| &c.id),
                    owner: region.random_rep(&mut rng),
                    region: if customer.is_some() { "" } else { region.name },
                    plan: if customer.is_some() { "" } else { plan.name },
                });
            }
        }
    }
    deals.sort_by_key(|d| d.created_on);

    let header = "deal_id,created_on,stage,closed_on,amount,customer_id,owner,region,plan";
    let mut out = Table::create(dir, "deals.csv", header)?;
    for (n, deal) in deals.iter().enumerate() {
        let closed = deal.closed_on.map(|d| d.to_string()).unwrap_or_default();
        let amount = deal.amount.map(money).unwrap_or_default();
        let id = format!("D{:05}", n + 1);
        out.row(&[
            &id,
            &deal.created_on.to_string(),
            deal.stage,
            &closed,
            &amount,
            deal.customer_id,
            deal.owner,
            deal.region,
            deal.plan,
        ])?;
    }
    out.finish()
}

fn write_orders(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 3);
    let mut out = Table::create(
        dir,
        "orders.csv",
        "order_id,customer_id,ordered_on,amount,cost",
    )?;
    let mut order =
        |rng: &mut SmallRng, customer_id: &str, day: NaiveDate, amount: f64| -> Result<()> {
            let (amount, cost) = if rng.gen_bool(0.02) {
                (-amount * rng.gen_range(0.3..1.0), String::new()) // refund: no cost to book
            } else if rng.gen_bool(0.04) {
                (amount, String::new()) // cost not known yet (some rows lack it in every real export)
            } else {
                (amount, money(amount * rng.gen_range(0.55..0.70)))
            };
            let id = format!("O{:06}", out.rows + 1);
            out.row(&[&id, customer_id, &day.to_string(), &money(amount), &cost])
        };
    let mut unknown = 0;
    for offset in 0..biz.total_days() {
        let day = biz.start + days(offset);
        for c in biz.known_on(day).iter().filter(|c| c.is_active(day)) {
            let price = c.plan.monthly_price;
            // Monthly invoice on the acquisition anniversary; bigger plans have usage on top.
            if (day - c.acquired_on).num_days() % 30 == 0 {
                let usage = lognormal(&mut rng, 1.0, c.plan.usage_sigma);
                order(&mut rng, &c.id, day, price * usage)?;
            }
            if rng.gen_bool(0.01) {
                let add_on = lognormal(&mut rng, 0.35 * price, 0.5);
                order(&mut rng, &c.id, day, add_on)?;
            }
        }
        // Orders of customers deleted from the CRM: ids past the end of customers.csv.
        if offset % 91 == 45 {
            unknown += 1;
            let id = format!("C{:05}", biz.customers.len() + 1000 + unknown);
            let amount = lognormal(&mut rng, 250.0, 0.3);
            order(&mut rng, &id, day, amount)?;
        }
    }
    out.finish()
}

fn write_tickets(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 4);
    let header = "ticket_id,opened_at,first_response_at,resolved_at,customer_id,channel";
    let mut out = Table::create(dir, "tickets.csv", header)?;
    // The snapshot is taken at `end`: anything later has not happened yet.
    let cutoff = biz.end.and_time(NaiveTime::MIN);
    let mut ticket =
        |rng: &mut SmallRng, day: NaiveDate, customer: Option<&Customer>| -> Result<()> {
            let strain = customer.map_or(0.0, |c| biz.emea_strain(c.region, day));
            let channels = [
                ("email", 0.5, 1.0),
                ("chat", 0.3, 0.4),
                ("phone", 0.2, 0.25),
            ];
            let &(channel, _, speed) = pick(rng, &channels, |c| c.1);
            let opened =
                day.and_time(NaiveTime::MIN) + TimeDelta::minutes(rng.gen_range(6 * 60..22 * 60));
            let after_hours =
                |hours: f64| opened + TimeDelta::minutes((hours * 60.0).round().max(1.0) as i64);
            // Median first response 4.5 h for email, 7.5 times slower at the height of the EMEA strain.
            let responded = !rng.gen_bool(0.015 + 0.06 * strain);
            let response_hours = lognormal(rng, 4.5 * speed * (1.0 + 6.5 * strain), 0.8);
            let resolved = responded && !rng.gen_bool(0.03 + 0.20 * strain);
            let resolve_hours = response_hours + lognormal(rng, 18.0, 1.0);
            let first_response =
                Some(after_hours(response_hours)).filter(|t| responded && *t < cutoff);
            let resolution = Some(after_hours(resolve_hours)).filter(|t| resolved && *t < cutoff);
            let id = format!("T{:06}", out.rows + 1);
            out.row(&[
                &id,
                &timestamp(opened),
                &first_response.map(timestamp).unwrap_or_default(),
                &resolution.map(timestamp).unwrap_or_default(),
                customer.map_or("", |c| &c.id),
                channel,
            ])
        };
    for offset in 0..biz.total_days() {
        let day = biz.start + days(offset);
        for c in biz.known_on(day).iter().filter(|c| c.is_active(day)) {
            if rng.gen_bool(c.plan.tickets_per_month / DAYS_PER_MONTH) {
                ticket(&mut rng, day, Some(c))?;
            }
        }
        // Prospects asking on chat before they buy: no customer id.
        if rng.gen_bool(0.4) {
            ticket(&mut rng, day, None)?;
        }
    }
    out.finish()
}

const PROMOTER_COMMENTS: &[&str] = &[
    "Love the new dashboard",
    "Great onboarding experience",
    "Support solved my issue in minutes",
    "The weekly reports save me hours",
    "Easy to use and reliable",
    "Our whole team adopted it in a day",
];
const PASSIVE_COMMENTS: &[&str] = &[
    "Does the job, a bit pricey",
    "Good product but the mobile app is slow",
    "Export options could be better",
    "Solid, though setup took a while",
    "Fine overall, missing a calendar sync",
];
const DETRACTOR_COMMENTS: &[&str] = &[
    "Too many bugs after the last update",
    "Billing was wrong twice this quarter",
    "Hard to find anything in the menus",
    "Nobody called back as promised",
];
const SUPPORT_COMPLAINTS: &[&str] = &[
    "Support took three days to answer",
    "Still waiting for a reply to my ticket",
    "Tickets stay open for weeks now",
];
/// Exactly one of each, so the report's escaping gets exercised.
const SCRIPT_COMMENT: &str = "Nice tool <script>alert(1)</script>";
const QUOTED_COMMENT: &str = "Great, but the \"smart\" filters are confusing";

fn write_surveys(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 5);
    let header = "response_id,answered_on,kind,score,customer_id,comment";
    let mut out = Table::create(dir, "surveys.csv", header)?;
    for offset in 0..biz.total_days() {
        let day = biz.start + days(offset);
        for c in biz.known_on(day).iter().filter(|c| c.is_active(day)) {
            // About 0.06 answers per customer per week: 50-120 responses a week as the base grows.
            if !rng.gen_bool(0.0085) {
                continue;
            }
            // Baseline 55 % promoters / 15 % detractors (NPS 40); EMEA sours with its support.
            let strain = biz.emea_strain(c.region, day);
            let promoter = 0.55 - 0.30 * strain;
            let detractor = 0.15 + 0.35 * strain;
            let mood = rng.gen_range(0.0..1.0);
            let (kind, score, comments) = match (rng.gen_bool(0.7), mood) {
                (true, m) if m < promoter => ("nps", rng.gen_range(9..=10), PROMOTER_COMMENTS),
                (true, m) if m < 1.0 - detractor => ("nps", rng.gen_range(7..=8), PASSIVE_COMMENTS),
                (true, _) => (
                    "nps",
                    [0, 2, 3, 4, 5, 5, 6, 6, 6][rng.gen_range(0..9)],
                    DETRACTOR_COMMENTS,
                ),
                (false, m) if m < promoter => (
                    "csat",
                    if rng.gen_bool(0.7) { 5 } else { 4 },
                    PROMOTER_COMMENTS,
                ),
                (false, m) if m < 1.0 - detractor => {
                    ("csat", rng.gen_range(3..=4), PASSIVE_COMMENTS)
                }
                (false, _) => ("csat", rng.gen_range(1..=3), DETRACTOR_COMMENTS),
            };
            let is_detractor = comments == DETRACTOR_COMMENTS;
            let comments = if is_detractor && rng.gen_bool(0.2 + 0.7 * strain) {
                SUPPORT_COMPLAINTS
            } else {
                comments
            };
            let comment = match out.rows {
                6 => SCRIPT_COMMENT,
                18 => QUOTED_COMMENT,
                _ if rng.gen_bool(0.3) => comments[rng.gen_range(0..comments.len())],
                _ => "",
            };
            let id = format!("R{:06}", out.rows + 1);
            out.row(&[
                &id,
                &day.to_string(),
                kind,
                &score.to_string(),
                &c.id,
                comment,
            ])?;
        }
    }
    out.finish()
}

fn write_spend(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 6);
    let mut out = Table::create(dir, "spend.csv", "spend_id,spent_on,category,amount,region")?;
    for (week, &new) in biz.new_per_week.iter().enumerate() {
        let monday = (biz.start + days(7 * week as i64)).to_string();
        let mut row = |rng: &mut SmallRng, category: &str, amount: f64, region: &str| {
            let id = format!("S{:05}", out.rows + 1);
            out.row(&[
                &id,
                &monday,
                category,
                &money(amount * rng.gen_range(0.85..1.15)),
                region,
            ])
        };
        for region in &REGIONS {
            // Campaigns follow the acquisition they buy; sales cost is mostly rep salaries.
            row(
                &mut rng,
                "marketing",
                900.0 * new as f64 * region.share + 400.0,
                region.name,
            )?;
            row(
                &mut rng,
                "sales",
                2000.0 * region.reps.len() as f64,
                region.name,
            )?;
        }
        row(&mut rng, "crm", 1150.0, "")?;
        row(&mut rng, "other", 450.0, "")?;
    }
    out.finish()
}

fn write_activities(dir: &Path, biz: &Business) -> Result<(String, u64)> {
    let mut rng = stream_rng(biz.seed, 7);
    let mut out = Table::create(
        dir,
        "activities.csv",
        "activity_id,occurred_on,kind,owner,customer_id",
    )?;
    // (kind, per rep per working day, share about an existing customer)
    let daily = [
        ("call", 6.0, 0.5),
        ("meeting", 1.2, 0.5),
        ("proposal_sent", 0.4, 0.3),
        ("letter_sent", 0.8, 0.0),
        ("brochure_sent", 0.6, 0.0),
        ("profile_created", 1.5, 0.0),
        ("referral", 0.15, 1.0),
    ];
    let mut activity = |day: NaiveDate, kind: &str, owner: &str, customer: Option<&Customer>| {
        let id = format!("A{:06}", out.rows + 1);
        out.row(&[
            &id,
            &day.to_string(),
            kind,
            owner,
            customer.map_or("", |c| &c.id),
        ])
    };
    for offset in 0..biz.total_days() {
        let day = biz.start + days(offset);
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        for region in &REGIONS {
            for &rep in region.reps {
                for (kind, rate, about_customer) in daily {
                    for _ in 0..poisson(&mut rng, rate) {
                        let customer = biz.maybe_customer(&mut rng, about_customer, day, region);
                        activity(day, kind, rep, customer)?;
                    }
                }
            }
            // A seminar in every region on the first Thursday of the month.
            if day.weekday() == Weekday::Thu && day.day() <= 7 {
                let host = region.random_rep(&mut rng);
                for _ in 0..rng.gen_range(10..=30) {
                    let customer = biz.maybe_customer(&mut rng, 0.2, day, region);
                    activity(day, "seminar_attendee", host, customer)?;
                }
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;

    const FILES: [(&str, &str); 7] = [
        (
            "customers.csv",
            "customer_id,acquired_on,churned_on,region,plan",
        ),
        (
            "deals.csv",
            "deal_id,created_on,stage,closed_on,amount,customer_id,owner,region,plan",
        ),
        ("orders.csv", "order_id,customer_id,ordered_on,amount,cost"),
        (
            "tickets.csv",
            "ticket_id,opened_at,first_response_at,resolved_at,customer_id,channel",
        ),
        (
            "surveys.csv",
            "response_id,answered_on,kind,score,customer_id,comment",
        ),
        ("spend.csv", "spend_id,spent_on,category,amount,region"),
        (
            "activities.csv",
            "activity_id,occurred_on,kind,owner,customer_id",
        ),
    ];

    fn options(seed: u64) -> DemoOptions {
        let end = NaiveDate::from_ymd_opt(2026, 11, 23).expect("valid date"); // a Monday
        DemoOptions {
            weeks: 52,
            seed,
            end,
            customers: 1500,
        }
    }

    fn unique_dir(label: &str) -> PathBuf {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        std::env::temp_dir().join(format!(
            "scorecard-demogen-{label}-{}-{n}",
            std::process::id()
        ))
    }

    /// One shared sample, generated once for all the checks below.
    fn sample() -> &'static (PathBuf, DemoOptions, DemoSummary) {
        static SAMPLE: OnceLock<(PathBuf, DemoOptions, DemoSummary)> = OnceLock::new();
        SAMPLE.get_or_init(|| {
            let dir = unique_dir("sample");
            let opts = options(7);
            let summary = generate(&dir, &opts).expect("generate sample");
            (dir, opts, summary)
        })
    }

    /// (header, rows) of one file of the sample, for column lookup by name.
    fn read(name: &str) -> (csv::StringRecord, Vec<csv::StringRecord>) {
        let mut reader = csv::Reader::from_path(sample().0.join(name)).expect("open csv");
        let header = reader.headers().expect("header").clone();
        let rows = reader
            .records()
            .collect::<Result<Vec<_>, _>>()
            .expect("rows");
        (header, rows)
    }

    fn col(header: &csv::StringRecord, name: &str) -> usize {
        header
            .iter()
            .position(|h| h == name)
            .expect("column exists")
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").expect("date")
    }

    fn instant(text: &str) -> NaiveDateTime {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("rfc3339")
            .naive_utc()
    }

    fn window() -> (NaiveDate, NaiveDate) {
        let opts = &sample().1;
        (opts.end - days(7 * opts.weeks as i64), opts.end)
    }

    #[test]
    fn same_seed_gives_identical_bytes_and_another_seed_does_not() {
        let (first, second, other) = (unique_dir("a"), unique_dir("b"), unique_dir("c"));
        generate(&first, &options(11)).expect("first run");
        generate(&second, &options(11)).expect("second run");
        generate(&other, &options(12)).expect("other seed");
        for (name, _) in FILES {
            let bytes = |dir: &Path| fs::read(dir.join(name)).expect("read output");
            assert!(
                bytes(&first) == bytes(&second),
                "{name} differs between identical runs"
            );
            assert!(bytes(&first) != bytes(&other), "{name} ignores the seed");
        }
        for dir in [first, second, other] {
            let _ = fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn tiny_or_empty_options_still_write_every_file() {
        let end = NaiveDate::from_ymd_opt(2026, 3, 4).expect("valid date"); // a Wednesday
        for (weeks, customers) in [(0, 10), (3, 0), (1, 1), (2, 40)] {
            let dir = unique_dir("tiny");
            let opts = DemoOptions {
                weeks,
                seed: 1,
                end,
                customers,
            };
            let summary = generate(&dir, &opts).expect("generate");
            assert_eq!(summary.files.len(), FILES.len());
            assert_eq!(summary.files[0].1, u64::from(customers));
            let _ = fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn every_file_has_its_header_and_the_summary_counts_rows() {
        let (dir, opts, summary) = sample();
        let names: Vec<&str> = summary
            .files
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(names, FILES.map(|(name, _)| name));
        for ((name, header), (_, rows)) in FILES.iter().zip(&summary.files) {
            let text = fs::read_to_string(dir.join(name)).expect("read output");
            assert_eq!(text.lines().next(), Some(*header), "{name}");
            assert_eq!(read(name).1.len() as u64, *rows, "{name}");
            assert!(*rows > 0, "{name} is empty");
        }
        assert_eq!(summary.files[0].1, opts.customers as u64);
    }

    #[test]
    fn all_dates_fall_inside_the_window() {
        let (start, end) = window();
        let dated = [
            ("deals.csv", "created_on"),
            ("deals.csv", "closed_on"),
            ("orders.csv", "ordered_on"),
            ("surveys.csv", "answered_on"),
            ("spend.csv", "spent_on"),
            ("activities.csv", "occurred_on"),
            ("customers.csv", "churned_on"),
        ];
        for (file, column) in dated {
            let (header, rows) = read(file);
            for row in rows
                .iter()
                .map(|r| &r[col(&header, column)])
                .filter(|v| !v.is_empty())
            {
                assert!((start..end).contains(&date(row)), "{file} {column} {row}");
            }
        }
        let (header, rows) = read("customers.csv");
        assert!(rows
            .iter()
            .all(|r| date(&r[col(&header, "acquired_on")]) < end));
        assert!(
            rows.iter()
                .any(|r| date(&r[col(&header, "acquired_on")]) < start),
            "no installed base"
        );
        let (header, rows) = read("tickets.csv");
        let (from, to) = (start.and_time(NaiveTime::MIN), end.and_time(NaiveTime::MIN));
        for column in ["opened_at", "first_response_at", "resolved_at"] {
            for value in rows
                .iter()
                .map(|r| &r[col(&header, column)])
                .filter(|v| !v.is_empty())
            {
                assert!(
                    (from..to).contains(&instant(value)),
                    "tickets {column} {value}"
                );
            }
        }
    }

    #[test]
    fn closing_churn_and_response_rules_hold() {
        let (header, rows) = read("customers.csv");
        let mut same_week = 0;
        for row in &rows {
            let acquired = date(&row[col(&header, "acquired_on")]);
            if let Some(churned) = Some(&row[col(&header, "churned_on")])
                .filter(|v| !v.is_empty())
                .map(date)
            {
                assert!(churned >= acquired, "{row:?}");
                same_week += usize::from(churned.iso_week() == acquired.iso_week());
            }
        }
        assert!(
            (1..=10).contains(&same_week),
            "{same_week} same-week churners"
        );

        let (header, rows) = read("deals.csv");
        let (mut won, mut lost, mut open) = (0, 0, 0);
        for row in &rows {
            let (stage, closed) = (&row[col(&header, "stage")], &row[col(&header, "closed_on")]);
            match stage {
                "open" => open += usize::from(closed.is_empty()),
                "won" | "lost" => {
                    assert!(
                        date(closed) >= date(&row[col(&header, "created_on")]),
                        "{row:?}"
                    );
                    *if stage == "won" { &mut won } else { &mut lost } += 1;
                }
                other => panic!("unexpected stage {other}"),
            }
        }
        let win_rate = 100.0 * won as f64 / (won + lost) as f64;
        assert!((20.0..=30.0).contains(&win_rate), "win rate {win_rate}");
        assert!(open > 10, "only {open} open deals");

        let (header, rows) = read("tickets.csv");
        for row in &rows {
            let opened = instant(&row[col(&header, "opened_at")]);
            for column in ["first_response_at", "resolved_at"] {
                let value = &row[col(&header, column)];
                assert!(value.is_empty() || instant(value) >= opened, "{row:?}");
            }
        }
    }

    #[test]
    fn survey_scores_are_in_range_and_comments_exercise_escaping() {
        let (header, rows) = read("surveys.csv");
        let (mut promoters, mut detractors, mut nps_count) = (0, 0, 0);
        for row in &rows {
            let score: i32 = row[col(&header, "score")].parse().expect("integer score");
            match &row[col(&header, "kind")] {
                "nps" => {
                    assert!((0..=10).contains(&score));
                    nps_count += 1;
                    promoters += i32::from(score >= 9);
                    detractors += i32::from(score <= 6);
                }
                "csat" => assert!((1..=5).contains(&score)),
                other => panic!("unexpected kind {other}"),
            }
        }
        let nps = 100.0 * f64::from(promoters - detractors) / nps_count as f64;
        assert!((30.0..=45.0).contains(&nps), "overall NPS {nps}");
        let comments: Vec<&str> = rows.iter().map(|r| &r[col(&header, "comment")]).collect();
        assert_eq!(
            comments
                .iter()
                .filter(|c| c.contains("<script>alert(1)</script>"))
                .count(),
            1
        );
        assert_eq!(
            comments
                .iter()
                .filter(|c| c.contains('"') && c.contains(','))
                .count(),
            1
        );
        let commented =
            comments.iter().filter(|c| !c.is_empty()).count() as f64 / rows.len() as f64;
        assert!(
            (0.25..=0.35).contains(&commented),
            "comment share {commented}"
        );
    }

    #[test]
    fn orders_have_refunds_unknown_customers_and_missing_costs() {
        let (header, rows) = read("orders.csv");
        let (_, customers) = read("customers.csv");
        let known: std::collections::BTreeSet<&str> = customers.iter().map(|r| &r[0]).collect();
        let amount =
            |r: &csv::StringRecord| r[col(&header, "amount")].parse::<f64>().expect("amount");
        let refunds = rows.iter().filter(|r| amount(r) < 0.0).count() as f64 / rows.len() as f64;
        assert!((0.01..=0.03).contains(&refunds), "refund share {refunds}");
        assert!(rows
            .iter()
            .any(|r| !known.contains(&r[col(&header, "customer_id")])));
        assert!(rows.iter().any(|r| r[col(&header, "cost")].is_empty()));
    }

    #[test]
    fn emea_first_response_gets_clearly_worse_at_the_end() {
        let (_, end) = window();
        let (header, customers) = read("customers.csv");
        let emea: std::collections::BTreeSet<&str> = customers
            .iter()
            .filter(|r| &r[col(&header, "region")] == "EMEA")
            .map(|r| &r[0])
            .collect();
        let (header, tickets) = read("tickets.csv");
        let mean_response = |from_days: i64, to_days: i64| {
            let (from, to) = (
                (end - days(from_days)).and_time(NaiveTime::MIN),
                (end - days(to_days)).and_time(NaiveTime::MIN),
            );
            let hours: Vec<f64> = tickets
                .iter()
                .filter(|r| {
                    emea.contains(&r[col(&header, "customer_id")])
                        && !r[col(&header, "first_response_at")].is_empty()
                })
                .map(|r| {
                    (
                        instant(&r[col(&header, "opened_at")]),
                        instant(&r[col(&header, "first_response_at")]),
                    )
                })
                .filter(|(opened, _)| (from..to).contains(opened))
                .map(|(opened, answered)| (answered - opened).num_minutes() as f64 / 60.0)
                .collect();
            assert!(hours.len() > 30, "too few EMEA tickets: {}", hours.len());
            hours.iter().sum::<f64>() / hours.len() as f64
        };
        let (before, recent) = (mean_response(140, 84), mean_response(28, 0));
        assert!(
            before < 6.0 && recent > 3.0 * before,
            "before {before:.1} h, recent {recent:.1} h"
        );
    }
}
