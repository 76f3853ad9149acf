-- Fraud detection, shared by the local and the Confluent Cloud variants: one INSERT statement,
-- so that Confluent Cloud (one statement per submission) runs it unchanged.
--
-- 1. Look back at the same customer's transactions in arrival order. A customer's transactions
--    share a Kafka partition (key = user_id), so arrival order is offset order. One window of the
--    last {{ history_rows }} before this one, so state stays bounded: the previous transaction
--    (impossible travel) and the history (velocity, spend deviation).
-- 2. Join the customer's settings as they were at the transaction's record time (event-time
--    temporal join against the versioned users-config table): a later threshold change does
--    not rewrite earlier verdicts, and state stays bounded by the number of customers.
-- 3. Join the lists' entries of the transaction's values (card token, merchant, device, ...) as
--    they were at its record time, one event-time temporal join per kind of value against the
--    versioned list-memberships table: an entry applies from its start to its expiry by record
--    time, with nobody acting, and state stays bounded by the entries.
-- 4. Count, per (key, window) pair the job keeps (COUNTER_WINDOWS), the transactions of the same
--    key (card, device, merchant, ...) in the window of record time ending with this one: every
--    aggregate of the menu in fraudsite/detection_counters.py, for the counter rules that the
--    customer's record carries (rules are data: a change reaches the job as a threshold does).
-- 5. Decide, once, here: every signal that fired, every block list the transaction is on and
--    every counter rule that fired is a reason, and any fraud reason makes the verdict FRAUD,
--    unless one of the customer's travel notices or an allow list suppresses it: then the reason
--    is reported as {{ suppressed_prefix }}<reason> and the measurements stay. Consumers never
--    recompute the rules.

INSERT INTO {{ tables.card_transactions_enriched }} ({{ enriched_columns }})
WITH
-- Each kind's entries, a versioned table of their own: a kind's temporal join then holds only
-- that kind's values, not every list's.
{% for kind in list_kinds %}{{ kind.name }}_entries AS (
  SELECT * FROM {{ tables.list_memberships }} WHERE {{ kind.entries_filter }}
),
{% endfor %}
transactions AS (
  SELECT
    {{ customer_key }} AS customer_key, {{ user_id }} AS user_id,
    transaction_id, `timestamp`, lat, lng, amount,{% for name in context_columns %} `{{ name }}`,{% endfor %}
    {{ record_time }} AS received_at{% if processing_time %}, {{ processing_time }} AS arrival{% endif %}
  FROM {{ tables.card_transactions }}{% if scan_start_marker %} {{ scan_start_marker }}{% endif %}
  -- The event-time clock's ticks (transactions/clock.py) move the watermark; they are not transactions.
  WHERE {{ user_id }} <> '{{ tick_user_id }}'
),

-- The counters: per (key, window) pair a window of its own, partitioned by the key and ordered by
-- record time: this transaction and the key's transactions within the window's length before it.
-- A transaction without the key (an older producer's) has no counter on it (NULL): no rule fires.
-- On the transaction as it came, before anything widens it: a window keeps each of its rows for
-- the window's length. (Record time is the broker's, so a customer's transactions, all in one
-- partition, leave these windows in arrival order.)
{% for window in counter_windows %}{{ window.name }}_counted AS (
  SELECT
    c.*{% for aggregate in window.aggregates %},
    CASE WHEN c.`{{ window.column }}` IS NOT NULL THEN {{ aggregate.expression }} OVER w END AS {{ window.name }}_{{ aggregate.name }}{% endfor %}
  FROM {{ window.source }} AS c
  WINDOW w AS (
    PARTITION BY c.`{{ window.column }}` ORDER BY c.received_at
    RANGE BETWEEN {{ window.interval }} PRECEDING AND CURRENT ROW
  )
),
{% endfor %}
-- One window per customer, in arrival order: this transaction and up to {{ history_rows }} before it.
-- Flink 2.2's streaming OVER needs every aggregate of a SELECT on the same frame (and LAG takes
-- none), so the previous transaction is picked out of the same window as the history, not out of a
-- second one: a window operator and a keyed exchange fewer.
with_history AS (
  SELECT
    t.*,
    COUNT(*) OVER h - 1 AS prior_count,
    SUM(amount) OVER h - amount AS prior_amount_sum,
    -- The window's transactions, oldest first, one entry each: `timestamp`|lat|lng|amount|transaction_id,
    -- entries separated by ','. Neither separator can occur in an entry: numbers print as digits,
    -- '.', '-' and 'E', and the transaction id, which a producer may write with any character, is
    -- in base64. Doubles print exactly (the shortest form that parses back to the same double).
    LISTAGG(CAST(`timestamp` AS STRING) || '|' || CAST(lat AS STRING) || '|' || CAST(lng AS STRING)
      || '|' || CAST(amount AS STRING) || '|' || TO_BASE64(transaction_id), ',') OVER h AS recent_transactions
  FROM {{ counted_transactions }} AS t
  -- ROWS (not RANGE) frames emit each row at once instead of on a timer after the next watermark.
  WINDOW h AS (
    PARTITION BY customer_key ORDER BY {% if processing_time %}arrival{% else %}received_at{% endif %}
    ROWS BETWEEN {{ history_rows }} PRECEDING AND CURRENT ROW
  )
),

-- The previous transaction's fields, parsed from its entry once per transaction (an UNNEST, which
-- the planner cannot inline: see measured_transactions).
paired_transactions AS (
  SELECT
    h.*,
    p.id AS prev_transaction_id, p.ts AS prev_timestamp, p.lat AS prev_lat, p.lng AS prev_lng, p.amount AS prev_amount
  FROM with_history AS h
  CROSS JOIN UNNEST(ARRAY[ROW(
    CASE WHEN h.prior_count >= 1 THEN SPLIT_INDEX(h.recent_transactions, ',', CAST(h.prior_count - 1 AS INT)) END
  )]) AS e (previous_entry)
  CROSS JOIN UNNEST(ARRAY[ROW(
    FROM_BASE64(SPLIT_INDEX(e.previous_entry, '|', 4)),
    CAST(SPLIT_INDEX(e.previous_entry, '|', 0) AS BIGINT),
    CAST(SPLIT_INDEX(e.previous_entry, '|', 1) AS DOUBLE),
    CAST(SPLIT_INDEX(e.previous_entry, '|', 2) AS DOUBLE),
    CAST(SPLIT_INDEX(e.previous_entry, '|', 3) AS DOUBLE)
  )]) AS p (id, ts, lat, lng, amount)
),

with_distance AS (
  SELECT
    p.*,
    -- Haversine great-circle distance, R = 6371 km (LEAST guards rounding just above 1).
    2 * 6371 * ASIN(SQRT(LEAST(1.0,
        POWER(SIN(RADIANS(lat - prev_lat) / 2), 2)
        + COS(RADIANS(prev_lat)) * COS(RADIANS(lat))
          * POWER(SIN(RADIANS(lng - prev_lng) / 2), 2)))) AS distance_km,
    CAST(`timestamp` - prev_timestamp AS DOUBLE) / 1000 AS elapsed_seconds{% for kind in list_kinds %},
    {{ kind.lookup }} AS {{ kind.name }}_list_key{% endfor %}
  FROM paired_transactions AS p
),

measured_transactions AS (
  SELECT
    t.*,
    c.first_name, c.last_name, c.max_speed,
    c.velocity_max_transactions, c.velocity_window_minutes, c.spend_factor,
    c.usual_hour_start, c.usual_hour_end, c.travel_notices, c.counter_rules,
    {% for name in scoring_fields %}c.{{ name }}, {% endfor %}
    CASE WHEN t.prior_count >= {{ spend_min_history }} THEN t.prior_amount_sum / t.prior_count END AS average_amount,
    per_customer.velocity_reference_timestamp, per_customer.local_hour
  FROM with_distance AS t
  LEFT JOIN {{ tables.users_config }} FOR SYSTEM_TIME AS OF t.received_at AS c
    ON t.customer_key = c.{{ customer_key }}
  -- What needs the customer's settings, computed once per transaction: Flink 2.2 copies an
  -- expression into every later expression that uses it, and these are the costly ones. (The
  -- distance and elapsed time are computed before the join for the same reason.)
  CROSS JOIN UNNEST(ARRAY[ROW(
    -- More than N transactions within M minutes: this one and the N before it, the N-th
    -- previous no further than M minutes away.
    CASE WHEN c.velocity_max_transactions IS NOT NULL AND t.prior_count >= c.velocity_max_transactions
      THEN CAST(SPLIT_INDEX(SPLIT_INDEX(t.recent_transactions, ',', CAST(t.prior_count - c.velocity_max_transactions AS INT)), '|', 0) AS BIGINT)
    END,
    CASE WHEN c.usual_hour_start IS NOT NULL THEN CAST(SUBSTRING(CONVERT_TZ(
      DATE_FORMAT(TO_TIMESTAMP_LTZ(t.`timestamp`, 3), 'yyyy-MM-dd HH:mm:ss'), 'UTC', c.time_zone) FROM 12 FOR 2) AS INT)
    END
  )]) AS per_customer (velocity_reference_timestamp, local_hour)
),

-- The entries of the transaction's values on the lists, as they were at its record time. Only the
-- columns read from here on: each join buffers its rows until the watermark passes them, and the
-- window's entries (recent_transactions, read for velocity above) are most of a row's bytes.
listed_transactions AS (
  SELECT
    m.customer_key, m.user_id, m.transaction_id, m.`timestamp`, m.lat, m.lng, m.amount,{% for name in context_columns %} m.`{{ name }}`,{% endfor %}
    m.received_at, m.prev_transaction_id, m.prev_timestamp, m.prev_lat, m.prev_lng, m.prev_amount,
    m.distance_km, m.elapsed_seconds, m.first_name, m.last_name, m.max_speed,
    m.velocity_max_transactions, m.velocity_window_minutes, m.spend_factor,
    m.usual_hour_start, m.usual_hour_end, m.travel_notices,
    {% for name in scoring_fields %}m.{{ name }}, {% endfor %}
    m.average_amount, m.velocity_reference_timestamp, m.local_hour, m.counter_rules{% for counter in counters %}, m.{{ counter.column }}{% endfor %}{% for kind in list_kinds %},
    {{ kind.name }}_lists.memberships AS {{ kind.name }}_memberships{% endfor %}
  FROM measured_transactions AS m
{% for kind in list_kinds %}  LEFT JOIN {{ kind.name }}_entries FOR SYSTEM_TIME AS OF m.received_at AS {{ kind.name }}_lists
    ON {{ kind.name }}_lists.{{ list_key }} = m.{{ kind.name }}_list_key
{% endfor %}),

signals AS (
  SELECT
    m.*,
    CASE
      WHEN m.prev_transaction_id IS NULL THEN CAST(NULL AS DOUBLE)
      WHEN m.elapsed_seconds > 0 THEN m.distance_km / (m.elapsed_seconds / 3600)
      WHEN m.distance_km = 0 THEN 0.0
      ELSE CAST(NULL AS DOUBLE)  -- different places, no time between them
    END AS speed_kmh,
    CASE
      WHEN m.max_speed IS NULL THEN 'unknown_customer'
      WHEN m.prev_transaction_id IS NULL THEN 'no_history'
      WHEN m.elapsed_seconds <= 0 AND m.distance_km > 0 THEN 'non_positive_elapsed_time'
      WHEN m.elapsed_seconds > 0 AND m.distance_km / (m.elapsed_seconds / 3600) > m.max_speed
        THEN 'speed_above_limit'
      ELSE 'within_limit'
    END AS travel_reason,
    CASE WHEN ABS(m.`timestamp` - m.velocity_reference_timestamp) <= m.velocity_window_minutes * 60000
      THEN 'velocity_exceeded' END AS velocity_reason,
    CASE WHEN m.spend_factor IS NOT NULL AND m.amount > m.spend_factor * m.average_amount
      THEN 'spend_deviation' END AS spend_reason,
    CASE
      WHEN m.usual_hour_start < m.usual_hour_end
        AND (m.local_hour < m.usual_hour_start OR m.local_hour >= m.usual_hour_end) THEN 'unusual_hour'
      WHEN m.usual_hour_start > m.usual_hour_end
        AND m.local_hour < m.usual_hour_start AND m.local_hour >= m.usual_hour_end THEN 'unusual_hour'
    END AS hour_reason
  FROM listed_transactions AS m
),

-- Lists: per entry of the transaction's values (each kind's at most {{ max_list_memberships }}, a slot each: a Flink SQL
-- array has no filter or loop without a UDF), whether it is in force at the record time (and, for a
-- BIN prefix, whether the BIN starts with it). Per kind, in an UNNEST of its own (computed once, and
-- a small generated class each): the block lists' reasons and the sum of their weights, and what
-- the allow lists suppress.
list_matches AS (
  SELECT
    s.*,
    CONCAT_WS(','{% for kind in list_kinds %}, NULLIF({{ kind.name }}_match.blocks, ''){% endfor %}) AS list_reasons,
    0E0{% for kind in list_kinds %} + {{ kind.name }}_match.weight{% endfor %} AS list_weight,
    CONCAT_WS(','{% for kind in list_kinds %}, NULLIF({{ kind.name }}_match.allowed, ''){% endfor %}) AS list_allowed
  FROM signals AS s
{% for kind in list_kinds %}  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(','{% for slot in kind.slots %},
      CASE WHEN {% include "detection/list_entry_in_force.sql" %} AND s.{{ slot.entry }}.effect = 'block'
        THEN '{{ list_reason_prefix }}' || s.{{ slot.entry }}.`list` END{% endfor %}),
    0E0{% for slot in kind.slots %}
      + CASE WHEN {% include "detection/list_entry_in_force.sql" %} AND s.{{ slot.entry }}.effect = 'block'
        THEN s.{{ slot.entry }}.weight ELSE 0E0 END{% endfor %},
    CONCAT_WS(','{% for slot in kind.slots %},
      CASE WHEN {% include "detection/list_entry_in_force.sql" %} AND s.{{ slot.entry }}.effect = 'allow'
        THEN s.{{ slot.entry }}.suppresses END{% endfor %})
  )]) AS {{ kind.name }}_match (blocks, weight, allowed)
{% endfor %}),

-- What is suppressed here, as one string of codes between commas: the signals that a travel notice
-- of the customer (as of the transaction's record time) suppresses, when it is in force at the
-- record time and the transaction is inside its region (haversine, as above), '{{ every_signal }}' for a notice
-- of every signal; and what the allow lists the transaction is on suppress, '{{ every_reason }}' for every
-- reason. Notices are checked only when a fraud reason fired, and once per transaction (in an
-- UNNEST, as above). A Flink SQL array cannot be filtered without a UDF, so each of the at most
-- {{ notice_slots|length }} notices in force is a slot of its own.
suppressions AS (
  SELECT
    s.*,
    CASE WHEN s.travel_reason IN ('speed_above_limit', 'non_positive_elapsed_time') THEN s.travel_reason END
      AS travel_fraud_reason,
    n.suppressing,
    LOCATE(',{{ every_reason }},', n.suppressing) > 0 OR LOCATE(',{{ every_list }},', n.suppressing) > 0
      AS every_list_suppressed,
    LOCATE(',{{ every_reason }},', n.suppressing) > 0 OR LOCATE(',{{ every_signal }},', n.suppressing) > 0
      AS every_signal_suppressed,
    LOCATE(',{{ every_reason }},', n.suppressing) > 0 OR LOCATE(',{{ every_rule }},', n.suppressing) > 0
      AS every_rule_suppressed
  FROM list_matches AS s
  CROSS JOIN UNNEST(ARRAY[ROW(
    ',' || CONCAT_WS(',', NULLIF(s.list_allowed, ''), CASE WHEN s.travel_reason IN ('speed_above_limit', 'non_positive_elapsed_time'){% for signal in further_signals %}
      OR s.{{ signal.name }}_reason IS NOT NULL{% endfor %}
      OR s.list_reasons <> '' THEN CONCAT_WS(',',
      -- Per slot: the notice's signal ('{{ every_signal }}' for every signal) when it applies here, else NULL.
{% for i in notice_slots %}      CASE WHEN CARDINALITY(s.travel_notices) >= {{ i }}
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[{{ i }}].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[{{ i }}].ends_at, 3)
        AND (s.travel_notices[{{ i }}].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[{{ i }}].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[{{ i }}].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[{{ i }}].center_lng) / 2), 2))))
          <= s.travel_notices[{{ i }}].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[{{ i }}].`signal`, ''), '{{ every_signal }}') END{% if not forloop.last %},{% endif %}
{% endfor %}    ) END) || ','
  )]) AS n (suppressing)
),

-- The counter rules of the customer's record (at most {{ rule_slots|length }}, a slot each): each slot's counter, then
-- per slot whether it fired (its counter compared with its threshold) and whether an allow list
-- suppresses it (naming it, {{ every_rule }} or every reason): the reasons left, the suppressed ones and
-- the weight of those left.
rule_matches AS (
  SELECT
    p.*, r.rule_reasons, r.suppressed_rule_reasons, r.rule_weight
  FROM suppressions AS p
  CROSS JOIN UNNEST(ARRAY[ROW({% for i in rule_slots %}
    CASE WHEN CARDINALITY(p.counter_rules) >= {{ i }} THEN CASE p.counter_rules[{{ i }}].counter{% for counter in counters %}
      WHEN '{{ counter.name }}' THEN CAST(p.{{ counter.column }} AS DOUBLE){% endfor %}
    END END{% if not forloop.last %},{% endif %}{% endfor %}
  )]) AS v ({% for i in rule_slots %}counter_{{ i }}{% if not forloop.last %}, {% endif %}{% endfor %})
  CROSS JOIN UNNEST(ARRAY[ROW({% for i in rule_slots %}
    CASE WHEN p.counter_rules[{{ i }}].comparison = '>' THEN v.counter_{{ i }} > p.counter_rules[{{ i }}].threshold
      ELSE v.counter_{{ i }} >= p.counter_rules[{{ i }}].threshold END,
    p.every_rule_suppressed OR LOCATE(',{{ rule_reason_prefix }}' || p.counter_rules[{{ i }}].name || ',', p.suppressing) > 0{% if not forloop.last %},{% endif %}{% endfor %}
  )]) AS f ({% for i in rule_slots %}fired_{{ i }}, suppressed_{{ i }}{% if not forloop.last %}, {% endif %}{% endfor %})
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(','{% for i in rule_slots %},
      CASE WHEN f.fired_{{ i }} AND NOT f.suppressed_{{ i }} THEN '{{ rule_reason_prefix }}' || p.counter_rules[{{ i }}].name END{% endfor %}),
    CONCAT_WS(','{% for i in rule_slots %},
      CASE WHEN f.fired_{{ i }} AND f.suppressed_{{ i }} THEN '{{ suppressed_prefix }}{{ rule_reason_prefix }}' || p.counter_rules[{{ i }}].name END{% endfor %}),
    0E0{% for i in rule_slots %}
      + CASE WHEN f.fired_{{ i }} AND NOT f.suppressed_{{ i }} THEN p.counter_rules[{{ i }}].weight ELSE 0E0 END{% endfor %}
  )]) AS r (rule_reasons, suppressed_rule_reasons, rule_weight)
),

-- Whether each fraud reason fired and is suppressed: a signal's by a notice or an allow list naming
-- it, or covering every signal; the block lists' by an allow list of {{ every_list }} or every reason.
suppressed_signals AS (
  SELECT
    p.*,
    p.travel_fraud_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.travel_fraud_reason || ',', p.suppressing) > 0) AS travel_suppressed{% for signal in further_signals %},
    p.{{ signal.name }}_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.{{ signal.name }}_reason || ',', p.suppressing) > 0) AS {{ signal.name }}_suppressed{% endfor %},
    p.list_reasons <> '' AND p.every_list_suppressed AS lists_suppressed
  FROM rule_matches AS p
),

classified_transactions AS (
  SELECT
    x.*,
    -- CONCAT_WS skips NULLs: '' when no fraud reason is left (none fired, or every one was suppressed).
    CONCAT_WS(',',
      CASE WHEN x.travel_suppressed THEN NULL ELSE x.travel_fraud_reason END{% for signal in further_signals %},
      CASE WHEN x.{{ signal.name }}_suppressed THEN NULL ELSE x.{{ signal.name }}_reason END{% endfor %},
      CASE WHEN x.lists_suppressed THEN NULL ELSE NULLIF(x.list_reasons, '') END,
      NULLIF(x.rule_reasons, '')) AS fraud_reasons,
    CONCAT_WS(',',
      CASE WHEN x.travel_suppressed THEN '{{ suppressed_prefix }}' || x.travel_fraud_reason END{% for signal in further_signals %},
      CASE WHEN x.{{ signal.name }}_suppressed THEN '{{ suppressed_prefix }}' || x.{{ signal.name }}_reason END{% endfor %},
      CASE WHEN x.lists_suppressed THEN '{{ suppressed_prefix }}' || REPLACE(x.list_reasons, ',', ',{{ suppressed_prefix }}') END,
      NULLIF(x.suppressed_rule_reasons, '')) AS suppressed_reasons,
    -- The score: the weights of the fraud reasons left (fired, not suppressed).
    CASE WHEN x.travel_fraud_reason = 'speed_above_limit' AND x.travel_suppressed IS NOT TRUE
      THEN x.weight_speed_above_limit ELSE 0 END
    + CASE WHEN x.travel_fraud_reason = 'non_positive_elapsed_time' AND x.travel_suppressed IS NOT TRUE
      THEN x.weight_non_positive_elapsed_time ELSE 0 END
{% for signal in further_signals %}    + CASE WHEN x.{{ signal.name }}_reason IS NOT NULL AND x.{{ signal.name }}_suppressed IS NOT TRUE THEN x.weight_{{ signal.reason }} ELSE 0 END
{% endfor %}    + CASE WHEN x.lists_suppressed THEN 0 ELSE x.list_weight END
    + x.rule_weight
      AS score
  FROM suppressed_signals AS x
)

-- One output per field of the verdict schema, in its order (INSERT matches by position; a test
-- compares these names with sql/card-transactions-enriched.avsc).
SELECT
  {% if enriched_key %}customer_key,{% endif %}
  user_id, transaction_id, `timestamp`, lat, lng, amount,
  {{ epoch_millis_of_received_at }} AS received_at,
  prev_transaction_id, prev_timestamp, prev_lat, prev_lng, prev_amount,
  first_name, last_name, max_speed,
  CASE WHEN prev_transaction_id IS NULL THEN CAST(NULL AS DOUBLE) ELSE distance_km END AS distance_km,
  CASE WHEN prev_transaction_id IS NULL THEN CAST(NULL AS DOUBLE) ELSE elapsed_seconds END AS elapsed_seconds,
  speed_kmh,
  fraud_reasons <> '' AS is_fraud,
  CASE
    WHEN travel_reason = 'unknown_customer' THEN 'UNKNOWN_CUSTOMER'
    WHEN fraud_reasons <> '' THEN 'FRAUD'
    ELSE 'VALID'
  END AS status,
  -- The reasons left first: a partly suppressed verdict is FRAUD for them.
  CASE
    WHEN fraud_reasons <> '' THEN SPLIT_INDEX(fraud_reasons, ',', 0)
    WHEN suppressed_reasons <> '' THEN SPLIT_INDEX(suppressed_reasons, ',', 0)
    ELSE travel_reason
  END AS reason,
  CASE
    WHEN fraud_reasons <> '' OR suppressed_reasons <> '' THEN CONCAT_WS(',', NULLIF(fraud_reasons, ''), NULLIF(suppressed_reasons, ''))
    ELSE travel_reason
  END AS reasons,
  velocity_max_transactions, velocity_window_minutes, spend_factor, average_amount,
  usual_hour_start, usual_hour_end, local_hour,
  CASE WHEN travel_reason = 'unknown_customer' THEN CAST(NULL AS DOUBLE) ELSE score END AS score,
  CASE
    WHEN travel_reason = 'unknown_customer' THEN 'review'
    WHEN score >= decline_from THEN 'decline'
    WHEN score >= review_from THEN 'review'
    ELSE 'approve'
  END AS outcome{% for name in context_columns %},
  `{{ name }}`{% endfor %}
FROM classified_transactions;
