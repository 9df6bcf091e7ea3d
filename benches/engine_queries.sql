-- The grouped queries of src/kpi/engine.rs (compute: customers_into ..
-- activities_into), as the cold run of benches/kpi_bench.sh issues them
-- (2023-W01 .. 2025-W52, segments region and plan), timed by the sqlite3 shell:
--   sqlite3 STORE.db < benches/engine_queries.sql
-- (run it on a copy of the store: it creates a temp table only). Each query's
-- result is counted, not printed. Day numbers are days since 0001-01-01:
-- 738521 = 2023-01-02, 739613 = 2025-12-29 (end of 2025-W52, exclusive).
.timer on
PRAGMA cache_size = -65536;
PRAGMA temp_store = MEMORY;
CREATE TEMP TABLE run_segments (attr TEXT PRIMARY KEY);
INSERT INTO run_segments VALUES (''), ('region'), ('plan');
.print customers
SELECT count(*), sum(n) FROM (SELECT c.acquired_day, c.churned_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, count(*) AS n
 FROM customers c CROSS JOIN temp.run_segments s
 LEFT JOIN customer_attributes a ON a.customer_id = c.customer_id AND a.name = s.attr
 WHERE c.acquired_day < 739613 GROUP BY c.acquired_day, c.churned_day, s.attr, seg);
.print orders
SELECT count(*) FROM (SELECT o.ordered_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, count(*), sum(o.amount),
   sum(CASE WHEN o.cost IS NOT NULL THEN o.amount END), sum(o.cost), count(o.cost)
 FROM orders o CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = o.customer_id AND a.name = s.attr
 WHERE o.ordered_day >= 738521 AND o.ordered_day < 739613 GROUP BY o.ordered_day, s.attr, seg);
.print deals
SELECT count(*) FROM (SELECT d.created_day, d.closed_day, d.stage, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, count(*), sum(COALESCE(d.amount, 0))
 FROM deals d CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = d.customer_id AND a.name = s.attr
 WHERE (d.created_day >= 738521 AND d.created_day < 739613) OR (d.closed_day >= 738521 AND d.closed_day < 739613)
 GROUP BY d.created_day, d.closed_day, d.stage, s.attr, seg);
.print tickets
SELECT count(*) FROM (SELECT t.opened_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, t.first_response_at - t.opened_at AS response,
   count(*), count(t.resolved_at), sum(t.resolved_at - t.opened_at)
 FROM tickets t CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = t.customer_id AND a.name = s.attr
 WHERE t.opened_day >= 738521 AND t.opened_day < 739613 GROUP BY t.opened_day, s.attr, seg, response);
.print surveys
SELECT count(*) FROM (SELECT v.answered_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, v.kind, v.score, count(*)
 FROM surveys v CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = v.customer_id AND a.name = s.attr
 WHERE v.answered_day >= 738521 AND v.answered_day < 739613 GROUP BY v.answered_day, s.attr, seg, v.kind, v.score);
.print spend
SELECT count(*) FROM (SELECT x.spent_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, x.category, sum(x.amount)
 FROM spend x CROSS JOIN temp.run_segments s LEFT JOIN spend_attributes a ON a.spend_id = x.spend_id AND a.name = s.attr
 WHERE x.spent_day >= 738521 AND x.spent_day < 739613 GROUP BY x.spent_day, s.attr, seg, x.category);
.print activities
SELECT count(*) FROM (SELECT x.occurred_day, s.attr, CASE WHEN s.attr = '' THEN '' ELSE COALESCE(NULLIF(a.value, ''), '(none)') END AS seg, x.kind, COALESCE(x.owner, ''), count(*)
 FROM activities x CROSS JOIN temp.run_segments s LEFT JOIN customer_attributes a ON a.customer_id = x.customer_id AND a.name = s.attr
 WHERE x.occurred_day >= 738521 AND x.occurred_day < 739613 GROUP BY x.occurred_day, s.attr, seg, x.kind, x.owner);
