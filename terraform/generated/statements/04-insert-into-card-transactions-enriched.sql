-- Fraud detection, shared by the local and the Confluent Cloud variants: one INSERT statement,
-- so that Confluent Cloud (one statement per submission) runs it unchanged.
--
-- 1. Look back at the same customer's transactions in arrival order. A customer's transactions
--    share a Kafka partition (key = user_id), so arrival order is offset order. One window of the
--    last 20 before this one, so state stays bounded: the previous transaction
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
--    is reported as suppressed:<reason> and the measurements stay. Consumers never
--    recompute the rules.

INSERT INTO `card-transactions-enriched` (`key`, `user_id`, `transaction_id`, `timestamp`, `lat`, `lng`, `amount`, `received_at`, `prev_transaction_id`, `prev_timestamp`, `prev_lat`, `prev_lng`, `prev_amount`, `first_name`, `last_name`, `max_speed`, `distance_km`, `elapsed_seconds`, `speed_kmh`, `is_fraud`, `status`, `reason`, `reasons`, `velocity_max_transactions`, `velocity_window_minutes`, `spend_factor`, `average_amount`, `usual_hour_start`, `usual_hour_end`, `local_hour`, `score`, `outcome`, `card_token`, `card_bin`, `merchant_id`, `merchant_category_code`, `merchant_country`, `channel`, `device_id`, `ip_address`)
WITH
-- Each kind's entries, a versioned table of their own: a kind's temporal join then holds only
-- that kind's values, not every list's.
card_token_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 11) = 'card_token:'
),
merchant_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 9) = 'merchant:'
),
mcc_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 4) = 'mcc:'
),
country_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 8) = 'country:'
),
device_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 7) = 'device:'
),
ip_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 3) = 'ip:'
),
customer_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 9) = 'customer:'
),
bin_entries AS (
  SELECT * FROM `list-memberships` WHERE SUBSTRING(DECODE(`key`, 'UTF-8') FROM 1 FOR 4) = 'bin:'
),

transactions AS (
  SELECT
    `key` AS customer_key, DECODE(`key`, 'UTF-8') AS user_id,
    transaction_id, `timestamp`, lat, lng, amount, `card_token`, `card_bin`, `merchant_id`, `merchant_category_code`, `merchant_country`, `channel`, `device_id`, `ip_address`,
    `$rowtime` AS received_at
  FROM `card-transactions` -- scan start
  -- The event-time clock's ticks (transactions/clock.py) move the watermark; they are not transactions.
  WHERE DECODE(`key`, 'UTF-8') <> ''
),

-- The counters: per (key, window) pair a window of its own, partitioned by the key and ordered by
-- record time: this transaction and the key's transactions within the window's length before it.
-- A transaction without the key (an older producer's) has no counter on it (NULL): no rule fires.
-- On the transaction as it came, before anything widens it: a window keeps each of its rows for
-- the window's length. (Record time is the broker's, so a customer's transactions, all in one
-- partition, leave these windows in arrival order.)
card_1h_counted AS (
  SELECT
    c.*,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(*) OVER w END AS card_1h_count,
    CASE WHEN c.`card_token` IS NOT NULL THEN SUM(amount) OVER w END AS card_1h_amount,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT user_id) OVER w END AS card_1h_customers,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT merchant_country) OVER w END AS card_1h_countries,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT device_id) OVER w END AS card_1h_devices
  FROM transactions AS c
  WINDOW w AS (
    PARTITION BY c.`card_token` ORDER BY c.received_at
    RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW
  )
),
card_24h_counted AS (
  SELECT
    c.*,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(*) OVER w END AS card_24h_count,
    CASE WHEN c.`card_token` IS NOT NULL THEN SUM(amount) OVER w END AS card_24h_amount,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT user_id) OVER w END AS card_24h_customers,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT merchant_country) OVER w END AS card_24h_countries,
    CASE WHEN c.`card_token` IS NOT NULL THEN COUNT(DISTINCT device_id) OVER w END AS card_24h_devices
  FROM card_1h_counted AS c
  WINDOW w AS (
    PARTITION BY c.`card_token` ORDER BY c.received_at
    RANGE BETWEEN INTERVAL '24' HOUR PRECEDING AND CURRENT ROW
  )
),
device_24h_counted AS (
  SELECT
    c.*,
    CASE WHEN c.`device_id` IS NOT NULL THEN COUNT(*) OVER w END AS device_24h_count,
    CASE WHEN c.`device_id` IS NOT NULL THEN SUM(amount) OVER w END AS device_24h_amount,
    CASE WHEN c.`device_id` IS NOT NULL THEN COUNT(DISTINCT user_id) OVER w END AS device_24h_customers,
    CASE WHEN c.`device_id` IS NOT NULL THEN COUNT(DISTINCT merchant_country) OVER w END AS device_24h_countries
  FROM card_24h_counted AS c
  WINDOW w AS (
    PARTITION BY c.`device_id` ORDER BY c.received_at
    RANGE BETWEEN INTERVAL '24' HOUR PRECEDING AND CURRENT ROW
  )
),
merchant_10min_counted AS (
  SELECT
    c.*,
    CASE WHEN c.`merchant_id` IS NOT NULL THEN COUNT(*) OVER w END AS merchant_10min_count,
    CASE WHEN c.`merchant_id` IS NOT NULL THEN SUM(amount) OVER w END AS merchant_10min_amount,
    CASE WHEN c.`merchant_id` IS NOT NULL THEN COUNT(DISTINCT user_id) OVER w END AS merchant_10min_customers,
    CASE WHEN c.`merchant_id` IS NOT NULL THEN COUNT(DISTINCT merchant_country) OVER w END AS merchant_10min_countries,
    CASE WHEN c.`merchant_id` IS NOT NULL THEN COUNT(DISTINCT device_id) OVER w END AS merchant_10min_devices
  FROM device_24h_counted AS c
  WINDOW w AS (
    PARTITION BY c.`merchant_id` ORDER BY c.received_at
    RANGE BETWEEN INTERVAL '10' MINUTE PRECEDING AND CURRENT ROW
  )
),

-- One window per customer, in arrival order: this transaction and up to 20 before it.
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
  FROM merchant_10min_counted AS t
  -- ROWS (not RANGE) frames emit each row at once instead of on a timer after the next watermark.
  WINDOW h AS (
    PARTITION BY customer_key ORDER BY received_at
    ROWS BETWEEN 20 PRECEDING AND CURRENT ROW
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
    CAST(`timestamp` - prev_timestamp AS DOUBLE) / 1000 AS elapsed_seconds,
    ENCODE('card_token:' || p.`card_token`, 'UTF-8') AS card_token_list_key,
    ENCODE('merchant:' || p.`merchant_id`, 'UTF-8') AS merchant_list_key,
    ENCODE('mcc:' || p.`merchant_category_code`, 'UTF-8') AS mcc_list_key,
    ENCODE('country:' || p.`merchant_country`, 'UTF-8') AS country_list_key,
    ENCODE('device:' || p.`device_id`, 'UTF-8') AS device_list_key,
    ENCODE('ip:' || p.`ip_address`, 'UTF-8') AS ip_list_key,
    ENCODE('customer:' || p.`user_id`, 'UTF-8') AS customer_list_key,
    ENCODE('bin:' || SUBSTRING(p.`card_bin` FROM 1 FOR 6), 'UTF-8') AS bin_list_key
  FROM paired_transactions AS p
),

measured_transactions AS (
  SELECT
    t.*,
    c.first_name, c.last_name, c.max_speed,
    c.velocity_max_transactions, c.velocity_window_minutes, c.spend_factor,
    c.usual_hour_start, c.usual_hour_end, c.travel_notices, c.counter_rules,
    c.weight_speed_above_limit, c.weight_non_positive_elapsed_time, c.weight_velocity_exceeded, c.weight_spend_deviation, c.weight_unusual_hour, c.review_from, c.decline_from, 
    CASE WHEN t.prior_count >= 3 THEN t.prior_amount_sum / t.prior_count END AS average_amount,
    per_customer.velocity_reference_timestamp, per_customer.local_hour
  FROM with_distance AS t
  LEFT JOIN `users-config` FOR SYSTEM_TIME AS OF t.received_at AS c
    ON t.customer_key = c.`key`
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
    m.customer_key, m.user_id, m.transaction_id, m.`timestamp`, m.lat, m.lng, m.amount, m.`card_token`, m.`card_bin`, m.`merchant_id`, m.`merchant_category_code`, m.`merchant_country`, m.`channel`, m.`device_id`, m.`ip_address`,
    m.received_at, m.prev_transaction_id, m.prev_timestamp, m.prev_lat, m.prev_lng, m.prev_amount,
    m.distance_km, m.elapsed_seconds, m.first_name, m.last_name, m.max_speed,
    m.velocity_max_transactions, m.velocity_window_minutes, m.spend_factor,
    m.usual_hour_start, m.usual_hour_end, m.travel_notices,
    m.weight_speed_above_limit, m.weight_non_positive_elapsed_time, m.weight_velocity_exceeded, m.weight_spend_deviation, m.weight_unusual_hour, m.review_from, m.decline_from, 
    m.average_amount, m.velocity_reference_timestamp, m.local_hour, m.counter_rules, m.card_1h_count, m.card_1h_amount, m.card_1h_customers, m.card_1h_countries, m.card_1h_devices, m.card_24h_count, m.card_24h_amount, m.card_24h_customers, m.card_24h_countries, m.card_24h_devices, m.device_24h_count, m.device_24h_amount, m.device_24h_customers, m.device_24h_countries, m.merchant_10min_count, m.merchant_10min_amount, m.merchant_10min_customers, m.merchant_10min_countries, m.merchant_10min_devices,
    card_token_lists.memberships AS card_token_memberships,
    merchant_lists.memberships AS merchant_memberships,
    mcc_lists.memberships AS mcc_memberships,
    country_lists.memberships AS country_memberships,
    device_lists.memberships AS device_memberships,
    ip_lists.memberships AS ip_memberships,
    customer_lists.memberships AS customer_memberships,
    bin_lists.memberships AS bin_memberships
  FROM measured_transactions AS m
  LEFT JOIN card_token_entries FOR SYSTEM_TIME AS OF m.received_at AS card_token_lists
    ON card_token_lists.`key` = m.card_token_list_key
  LEFT JOIN merchant_entries FOR SYSTEM_TIME AS OF m.received_at AS merchant_lists
    ON merchant_lists.`key` = m.merchant_list_key
  LEFT JOIN mcc_entries FOR SYSTEM_TIME AS OF m.received_at AS mcc_lists
    ON mcc_lists.`key` = m.mcc_list_key
  LEFT JOIN country_entries FOR SYSTEM_TIME AS OF m.received_at AS country_lists
    ON country_lists.`key` = m.country_list_key
  LEFT JOIN device_entries FOR SYSTEM_TIME AS OF m.received_at AS device_lists
    ON device_lists.`key` = m.device_list_key
  LEFT JOIN ip_entries FOR SYSTEM_TIME AS OF m.received_at AS ip_lists
    ON ip_lists.`key` = m.ip_list_key
  LEFT JOIN customer_entries FOR SYSTEM_TIME AS OF m.received_at AS customer_lists
    ON customer_lists.`key` = m.customer_list_key
  LEFT JOIN bin_entries FOR SYSTEM_TIME AS OF m.received_at AS bin_lists
    ON bin_lists.`key` = m.bin_list_key
),

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

-- Lists: per entry of the transaction's values (each kind's at most 4, a slot each: a Flink SQL
-- array has no filter or loop without a UDF), whether it is in force at the record time (and, for a
-- BIN prefix, whether the BIN starts with it). Per kind, in an UNNEST of its own (computed once, and
-- a small generated class each): the block lists' reasons and the sum of their weights, and what
-- the allow lists suppress.
list_matches AS (
  SELECT
    s.*,
    CONCAT_WS(',', NULLIF(card_token_match.blocks, ''), NULLIF(merchant_match.blocks, ''), NULLIF(mcc_match.blocks, ''), NULLIF(country_match.blocks, ''), NULLIF(device_match.blocks, ''), NULLIF(ip_match.blocks, ''), NULLIF(customer_match.blocks, ''), NULLIF(bin_match.blocks, '')) AS list_reasons,
    0E0 + card_token_match.weight + merchant_match.weight + mcc_match.weight + country_match.weight + device_match.weight + ip_match.weight + customer_match.weight + bin_match.weight AS list_weight,
    CONCAT_WS(',', NULLIF(card_token_match.allowed, ''), NULLIF(merchant_match.allowed, ''), NULLIF(mcc_match.allowed, ''), NULLIF(country_match.allowed, ''), NULLIF(device_match.allowed, ''), NULLIF(ip_match.allowed, ''), NULLIF(customer_match.allowed, ''), NULLIF(bin_match.allowed, '')) AS list_allowed
  FROM signals AS s
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[1].starts_at, 3)
        AND (s.card_token_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[1].ends_at, 3)) AND s.card_token_memberships[1].effect = 'block'
        THEN 'list:' || s.card_token_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[2].starts_at, 3)
        AND (s.card_token_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[2].ends_at, 3)) AND s.card_token_memberships[2].effect = 'block'
        THEN 'list:' || s.card_token_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[3].starts_at, 3)
        AND (s.card_token_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[3].ends_at, 3)) AND s.card_token_memberships[3].effect = 'block'
        THEN 'list:' || s.card_token_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[4].starts_at, 3)
        AND (s.card_token_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[4].ends_at, 3)) AND s.card_token_memberships[4].effect = 'block'
        THEN 'list:' || s.card_token_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.card_token_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[1].starts_at, 3)
        AND (s.card_token_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[1].ends_at, 3)) AND s.card_token_memberships[1].effect = 'block'
        THEN s.card_token_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.card_token_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[2].starts_at, 3)
        AND (s.card_token_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[2].ends_at, 3)) AND s.card_token_memberships[2].effect = 'block'
        THEN s.card_token_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.card_token_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[3].starts_at, 3)
        AND (s.card_token_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[3].ends_at, 3)) AND s.card_token_memberships[3].effect = 'block'
        THEN s.card_token_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.card_token_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[4].starts_at, 3)
        AND (s.card_token_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[4].ends_at, 3)) AND s.card_token_memberships[4].effect = 'block'
        THEN s.card_token_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[1].starts_at, 3)
        AND (s.card_token_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[1].ends_at, 3)) AND s.card_token_memberships[1].effect = 'allow'
        THEN s.card_token_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[2].starts_at, 3)
        AND (s.card_token_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[2].ends_at, 3)) AND s.card_token_memberships[2].effect = 'allow'
        THEN s.card_token_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[3].starts_at, 3)
        AND (s.card_token_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[3].ends_at, 3)) AND s.card_token_memberships[3].effect = 'allow'
        THEN s.card_token_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.card_token_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.card_token_memberships[4].starts_at, 3)
        AND (s.card_token_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.card_token_memberships[4].ends_at, 3)) AND s.card_token_memberships[4].effect = 'allow'
        THEN s.card_token_memberships[4].suppresses END)
  )]) AS card_token_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[1].starts_at, 3)
        AND (s.merchant_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[1].ends_at, 3)) AND s.merchant_memberships[1].effect = 'block'
        THEN 'list:' || s.merchant_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[2].starts_at, 3)
        AND (s.merchant_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[2].ends_at, 3)) AND s.merchant_memberships[2].effect = 'block'
        THEN 'list:' || s.merchant_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[3].starts_at, 3)
        AND (s.merchant_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[3].ends_at, 3)) AND s.merchant_memberships[3].effect = 'block'
        THEN 'list:' || s.merchant_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[4].starts_at, 3)
        AND (s.merchant_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[4].ends_at, 3)) AND s.merchant_memberships[4].effect = 'block'
        THEN 'list:' || s.merchant_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.merchant_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[1].starts_at, 3)
        AND (s.merchant_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[1].ends_at, 3)) AND s.merchant_memberships[1].effect = 'block'
        THEN s.merchant_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.merchant_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[2].starts_at, 3)
        AND (s.merchant_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[2].ends_at, 3)) AND s.merchant_memberships[2].effect = 'block'
        THEN s.merchant_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.merchant_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[3].starts_at, 3)
        AND (s.merchant_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[3].ends_at, 3)) AND s.merchant_memberships[3].effect = 'block'
        THEN s.merchant_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.merchant_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[4].starts_at, 3)
        AND (s.merchant_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[4].ends_at, 3)) AND s.merchant_memberships[4].effect = 'block'
        THEN s.merchant_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[1].starts_at, 3)
        AND (s.merchant_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[1].ends_at, 3)) AND s.merchant_memberships[1].effect = 'allow'
        THEN s.merchant_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[2].starts_at, 3)
        AND (s.merchant_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[2].ends_at, 3)) AND s.merchant_memberships[2].effect = 'allow'
        THEN s.merchant_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[3].starts_at, 3)
        AND (s.merchant_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[3].ends_at, 3)) AND s.merchant_memberships[3].effect = 'allow'
        THEN s.merchant_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.merchant_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.merchant_memberships[4].starts_at, 3)
        AND (s.merchant_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.merchant_memberships[4].ends_at, 3)) AND s.merchant_memberships[4].effect = 'allow'
        THEN s.merchant_memberships[4].suppresses END)
  )]) AS merchant_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[1].starts_at, 3)
        AND (s.mcc_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[1].ends_at, 3)) AND s.mcc_memberships[1].effect = 'block'
        THEN 'list:' || s.mcc_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[2].starts_at, 3)
        AND (s.mcc_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[2].ends_at, 3)) AND s.mcc_memberships[2].effect = 'block'
        THEN 'list:' || s.mcc_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[3].starts_at, 3)
        AND (s.mcc_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[3].ends_at, 3)) AND s.mcc_memberships[3].effect = 'block'
        THEN 'list:' || s.mcc_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[4].starts_at, 3)
        AND (s.mcc_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[4].ends_at, 3)) AND s.mcc_memberships[4].effect = 'block'
        THEN 'list:' || s.mcc_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.mcc_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[1].starts_at, 3)
        AND (s.mcc_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[1].ends_at, 3)) AND s.mcc_memberships[1].effect = 'block'
        THEN s.mcc_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.mcc_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[2].starts_at, 3)
        AND (s.mcc_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[2].ends_at, 3)) AND s.mcc_memberships[2].effect = 'block'
        THEN s.mcc_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.mcc_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[3].starts_at, 3)
        AND (s.mcc_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[3].ends_at, 3)) AND s.mcc_memberships[3].effect = 'block'
        THEN s.mcc_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.mcc_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[4].starts_at, 3)
        AND (s.mcc_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[4].ends_at, 3)) AND s.mcc_memberships[4].effect = 'block'
        THEN s.mcc_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[1].starts_at, 3)
        AND (s.mcc_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[1].ends_at, 3)) AND s.mcc_memberships[1].effect = 'allow'
        THEN s.mcc_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[2].starts_at, 3)
        AND (s.mcc_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[2].ends_at, 3)) AND s.mcc_memberships[2].effect = 'allow'
        THEN s.mcc_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[3].starts_at, 3)
        AND (s.mcc_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[3].ends_at, 3)) AND s.mcc_memberships[3].effect = 'allow'
        THEN s.mcc_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.mcc_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.mcc_memberships[4].starts_at, 3)
        AND (s.mcc_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.mcc_memberships[4].ends_at, 3)) AND s.mcc_memberships[4].effect = 'allow'
        THEN s.mcc_memberships[4].suppresses END)
  )]) AS mcc_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.country_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[1].starts_at, 3)
        AND (s.country_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[1].ends_at, 3)) AND s.country_memberships[1].effect = 'block'
        THEN 'list:' || s.country_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[2].starts_at, 3)
        AND (s.country_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[2].ends_at, 3)) AND s.country_memberships[2].effect = 'block'
        THEN 'list:' || s.country_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[3].starts_at, 3)
        AND (s.country_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[3].ends_at, 3)) AND s.country_memberships[3].effect = 'block'
        THEN 'list:' || s.country_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[4].starts_at, 3)
        AND (s.country_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[4].ends_at, 3)) AND s.country_memberships[4].effect = 'block'
        THEN 'list:' || s.country_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.country_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[1].starts_at, 3)
        AND (s.country_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[1].ends_at, 3)) AND s.country_memberships[1].effect = 'block'
        THEN s.country_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.country_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[2].starts_at, 3)
        AND (s.country_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[2].ends_at, 3)) AND s.country_memberships[2].effect = 'block'
        THEN s.country_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.country_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[3].starts_at, 3)
        AND (s.country_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[3].ends_at, 3)) AND s.country_memberships[3].effect = 'block'
        THEN s.country_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.country_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[4].starts_at, 3)
        AND (s.country_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[4].ends_at, 3)) AND s.country_memberships[4].effect = 'block'
        THEN s.country_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.country_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[1].starts_at, 3)
        AND (s.country_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[1].ends_at, 3)) AND s.country_memberships[1].effect = 'allow'
        THEN s.country_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[2].starts_at, 3)
        AND (s.country_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[2].ends_at, 3)) AND s.country_memberships[2].effect = 'allow'
        THEN s.country_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[3].starts_at, 3)
        AND (s.country_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[3].ends_at, 3)) AND s.country_memberships[3].effect = 'allow'
        THEN s.country_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.country_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.country_memberships[4].starts_at, 3)
        AND (s.country_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.country_memberships[4].ends_at, 3)) AND s.country_memberships[4].effect = 'allow'
        THEN s.country_memberships[4].suppresses END)
  )]) AS country_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.device_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[1].starts_at, 3)
        AND (s.device_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[1].ends_at, 3)) AND s.device_memberships[1].effect = 'block'
        THEN 'list:' || s.device_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[2].starts_at, 3)
        AND (s.device_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[2].ends_at, 3)) AND s.device_memberships[2].effect = 'block'
        THEN 'list:' || s.device_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[3].starts_at, 3)
        AND (s.device_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[3].ends_at, 3)) AND s.device_memberships[3].effect = 'block'
        THEN 'list:' || s.device_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[4].starts_at, 3)
        AND (s.device_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[4].ends_at, 3)) AND s.device_memberships[4].effect = 'block'
        THEN 'list:' || s.device_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.device_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[1].starts_at, 3)
        AND (s.device_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[1].ends_at, 3)) AND s.device_memberships[1].effect = 'block'
        THEN s.device_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.device_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[2].starts_at, 3)
        AND (s.device_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[2].ends_at, 3)) AND s.device_memberships[2].effect = 'block'
        THEN s.device_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.device_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[3].starts_at, 3)
        AND (s.device_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[3].ends_at, 3)) AND s.device_memberships[3].effect = 'block'
        THEN s.device_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.device_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[4].starts_at, 3)
        AND (s.device_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[4].ends_at, 3)) AND s.device_memberships[4].effect = 'block'
        THEN s.device_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.device_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[1].starts_at, 3)
        AND (s.device_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[1].ends_at, 3)) AND s.device_memberships[1].effect = 'allow'
        THEN s.device_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[2].starts_at, 3)
        AND (s.device_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[2].ends_at, 3)) AND s.device_memberships[2].effect = 'allow'
        THEN s.device_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[3].starts_at, 3)
        AND (s.device_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[3].ends_at, 3)) AND s.device_memberships[3].effect = 'allow'
        THEN s.device_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.device_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.device_memberships[4].starts_at, 3)
        AND (s.device_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.device_memberships[4].ends_at, 3)) AND s.device_memberships[4].effect = 'allow'
        THEN s.device_memberships[4].suppresses END)
  )]) AS device_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.ip_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[1].starts_at, 3)
        AND (s.ip_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[1].ends_at, 3)) AND s.ip_memberships[1].effect = 'block'
        THEN 'list:' || s.ip_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[2].starts_at, 3)
        AND (s.ip_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[2].ends_at, 3)) AND s.ip_memberships[2].effect = 'block'
        THEN 'list:' || s.ip_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[3].starts_at, 3)
        AND (s.ip_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[3].ends_at, 3)) AND s.ip_memberships[3].effect = 'block'
        THEN 'list:' || s.ip_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[4].starts_at, 3)
        AND (s.ip_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[4].ends_at, 3)) AND s.ip_memberships[4].effect = 'block'
        THEN 'list:' || s.ip_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.ip_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[1].starts_at, 3)
        AND (s.ip_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[1].ends_at, 3)) AND s.ip_memberships[1].effect = 'block'
        THEN s.ip_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.ip_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[2].starts_at, 3)
        AND (s.ip_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[2].ends_at, 3)) AND s.ip_memberships[2].effect = 'block'
        THEN s.ip_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.ip_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[3].starts_at, 3)
        AND (s.ip_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[3].ends_at, 3)) AND s.ip_memberships[3].effect = 'block'
        THEN s.ip_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.ip_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[4].starts_at, 3)
        AND (s.ip_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[4].ends_at, 3)) AND s.ip_memberships[4].effect = 'block'
        THEN s.ip_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.ip_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[1].starts_at, 3)
        AND (s.ip_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[1].ends_at, 3)) AND s.ip_memberships[1].effect = 'allow'
        THEN s.ip_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[2].starts_at, 3)
        AND (s.ip_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[2].ends_at, 3)) AND s.ip_memberships[2].effect = 'allow'
        THEN s.ip_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[3].starts_at, 3)
        AND (s.ip_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[3].ends_at, 3)) AND s.ip_memberships[3].effect = 'allow'
        THEN s.ip_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.ip_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.ip_memberships[4].starts_at, 3)
        AND (s.ip_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.ip_memberships[4].ends_at, 3)) AND s.ip_memberships[4].effect = 'allow'
        THEN s.ip_memberships[4].suppresses END)
  )]) AS ip_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.customer_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[1].starts_at, 3)
        AND (s.customer_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[1].ends_at, 3)) AND s.customer_memberships[1].effect = 'block'
        THEN 'list:' || s.customer_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[2].starts_at, 3)
        AND (s.customer_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[2].ends_at, 3)) AND s.customer_memberships[2].effect = 'block'
        THEN 'list:' || s.customer_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[3].starts_at, 3)
        AND (s.customer_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[3].ends_at, 3)) AND s.customer_memberships[3].effect = 'block'
        THEN 'list:' || s.customer_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[4].starts_at, 3)
        AND (s.customer_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[4].ends_at, 3)) AND s.customer_memberships[4].effect = 'block'
        THEN 'list:' || s.customer_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.customer_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[1].starts_at, 3)
        AND (s.customer_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[1].ends_at, 3)) AND s.customer_memberships[1].effect = 'block'
        THEN s.customer_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.customer_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[2].starts_at, 3)
        AND (s.customer_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[2].ends_at, 3)) AND s.customer_memberships[2].effect = 'block'
        THEN s.customer_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.customer_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[3].starts_at, 3)
        AND (s.customer_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[3].ends_at, 3)) AND s.customer_memberships[3].effect = 'block'
        THEN s.customer_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.customer_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[4].starts_at, 3)
        AND (s.customer_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[4].ends_at, 3)) AND s.customer_memberships[4].effect = 'block'
        THEN s.customer_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.customer_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[1].starts_at, 3)
        AND (s.customer_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[1].ends_at, 3)) AND s.customer_memberships[1].effect = 'allow'
        THEN s.customer_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[2].starts_at, 3)
        AND (s.customer_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[2].ends_at, 3)) AND s.customer_memberships[2].effect = 'allow'
        THEN s.customer_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[3].starts_at, 3)
        AND (s.customer_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[3].ends_at, 3)) AND s.customer_memberships[3].effect = 'allow'
        THEN s.customer_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.customer_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.customer_memberships[4].starts_at, 3)
        AND (s.customer_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.customer_memberships[4].ends_at, 3)) AND s.customer_memberships[4].effect = 'allow'
        THEN s.customer_memberships[4].suppresses END)
  )]) AS customer_match (blocks, weight, allowed)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.bin_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[1].starts_at, 3)
        AND (s.bin_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[1].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[1].`value`)) = s.bin_memberships[1].`value` AND s.bin_memberships[1].effect = 'block'
        THEN 'list:' || s.bin_memberships[1].`list` END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[2].starts_at, 3)
        AND (s.bin_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[2].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[2].`value`)) = s.bin_memberships[2].`value` AND s.bin_memberships[2].effect = 'block'
        THEN 'list:' || s.bin_memberships[2].`list` END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[3].starts_at, 3)
        AND (s.bin_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[3].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[3].`value`)) = s.bin_memberships[3].`value` AND s.bin_memberships[3].effect = 'block'
        THEN 'list:' || s.bin_memberships[3].`list` END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[4].starts_at, 3)
        AND (s.bin_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[4].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[4].`value`)) = s.bin_memberships[4].`value` AND s.bin_memberships[4].effect = 'block'
        THEN 'list:' || s.bin_memberships[4].`list` END),
    0E0
      + CASE WHEN CARDINALITY(s.bin_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[1].starts_at, 3)
        AND (s.bin_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[1].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[1].`value`)) = s.bin_memberships[1].`value` AND s.bin_memberships[1].effect = 'block'
        THEN s.bin_memberships[1].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.bin_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[2].starts_at, 3)
        AND (s.bin_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[2].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[2].`value`)) = s.bin_memberships[2].`value` AND s.bin_memberships[2].effect = 'block'
        THEN s.bin_memberships[2].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.bin_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[3].starts_at, 3)
        AND (s.bin_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[3].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[3].`value`)) = s.bin_memberships[3].`value` AND s.bin_memberships[3].effect = 'block'
        THEN s.bin_memberships[3].weight ELSE 0E0 END
      + CASE WHEN CARDINALITY(s.bin_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[4].starts_at, 3)
        AND (s.bin_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[4].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[4].`value`)) = s.bin_memberships[4].`value` AND s.bin_memberships[4].effect = 'block'
        THEN s.bin_memberships[4].weight ELSE 0E0 END,
    CONCAT_WS(',',
      CASE WHEN CARDINALITY(s.bin_memberships) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[1].starts_at, 3)
        AND (s.bin_memberships[1].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[1].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[1].`value`)) = s.bin_memberships[1].`value` AND s.bin_memberships[1].effect = 'allow'
        THEN s.bin_memberships[1].suppresses END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[2].starts_at, 3)
        AND (s.bin_memberships[2].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[2].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[2].`value`)) = s.bin_memberships[2].`value` AND s.bin_memberships[2].effect = 'allow'
        THEN s.bin_memberships[2].suppresses END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[3].starts_at, 3)
        AND (s.bin_memberships[3].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[3].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[3].`value`)) = s.bin_memberships[3].`value` AND s.bin_memberships[3].effect = 'allow'
        THEN s.bin_memberships[3].suppresses END,
      CASE WHEN CARDINALITY(s.bin_memberships) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.bin_memberships[4].starts_at, 3)
        AND (s.bin_memberships[4].ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.bin_memberships[4].ends_at, 3))
        AND SUBSTRING(s.`card_bin` FROM 1 FOR CHAR_LENGTH(s.bin_memberships[4].`value`)) = s.bin_memberships[4].`value` AND s.bin_memberships[4].effect = 'allow'
        THEN s.bin_memberships[4].suppresses END)
  )]) AS bin_match (blocks, weight, allowed)
),

-- What is suppressed here, as one string of codes between commas: the signals that a travel notice
-- of the customer (as of the transaction's record time) suppresses, when it is in force at the
-- record time and the transaction is inside its region (haversine, as above), '*signal' for a notice
-- of every signal; and what the allow lists the transaction is on suppress, '*' for every
-- reason. Notices are checked only when a fraud reason fired, and once per transaction (in an
-- UNNEST, as above). A Flink SQL array cannot be filtered without a UDF, so each of the at most
-- 10 notices in force is a slot of its own.
suppressions AS (
  SELECT
    s.*,
    CASE WHEN s.travel_reason IN ('speed_above_limit', 'non_positive_elapsed_time') THEN s.travel_reason END
      AS travel_fraud_reason,
    n.suppressing,
    LOCATE(',*,', n.suppressing) > 0 OR LOCATE(',list:*,', n.suppressing) > 0
      AS every_list_suppressed,
    LOCATE(',*,', n.suppressing) > 0 OR LOCATE(',*signal,', n.suppressing) > 0
      AS every_signal_suppressed,
    LOCATE(',*,', n.suppressing) > 0 OR LOCATE(',rule:*,', n.suppressing) > 0
      AS every_rule_suppressed
  FROM list_matches AS s
  CROSS JOIN UNNEST(ARRAY[ROW(
    ',' || CONCAT_WS(',', NULLIF(s.list_allowed, ''), CASE WHEN s.travel_reason IN ('speed_above_limit', 'non_positive_elapsed_time')
      OR s.velocity_reason IS NOT NULL
      OR s.spend_reason IS NOT NULL
      OR s.hour_reason IS NOT NULL
      OR s.list_reasons <> '' THEN CONCAT_WS(',',
      -- Per slot: the notice's signal ('*signal' for every signal) when it applies here, else NULL.
      CASE WHEN CARDINALITY(s.travel_notices) >= 1
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[1].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[1].ends_at, 3)
        AND (s.travel_notices[1].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[1].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[1].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[1].center_lng) / 2), 2))))
          <= s.travel_notices[1].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[1].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 2
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[2].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[2].ends_at, 3)
        AND (s.travel_notices[2].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[2].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[2].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[2].center_lng) / 2), 2))))
          <= s.travel_notices[2].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[2].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 3
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[3].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[3].ends_at, 3)
        AND (s.travel_notices[3].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[3].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[3].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[3].center_lng) / 2), 2))))
          <= s.travel_notices[3].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[3].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 4
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[4].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[4].ends_at, 3)
        AND (s.travel_notices[4].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[4].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[4].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[4].center_lng) / 2), 2))))
          <= s.travel_notices[4].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[4].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 5
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[5].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[5].ends_at, 3)
        AND (s.travel_notices[5].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[5].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[5].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[5].center_lng) / 2), 2))))
          <= s.travel_notices[5].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[5].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 6
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[6].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[6].ends_at, 3)
        AND (s.travel_notices[6].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[6].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[6].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[6].center_lng) / 2), 2))))
          <= s.travel_notices[6].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[6].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 7
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[7].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[7].ends_at, 3)
        AND (s.travel_notices[7].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[7].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[7].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[7].center_lng) / 2), 2))))
          <= s.travel_notices[7].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[7].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 8
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[8].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[8].ends_at, 3)
        AND (s.travel_notices[8].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[8].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[8].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[8].center_lng) / 2), 2))))
          <= s.travel_notices[8].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[8].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 9
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[9].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[9].ends_at, 3)
        AND (s.travel_notices[9].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[9].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[9].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[9].center_lng) / 2), 2))))
          <= s.travel_notices[9].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[9].`signal`, ''), '*signal') END,
      CASE WHEN CARDINALITY(s.travel_notices) >= 10
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.travel_notices[10].starts_at, 3)
        AND s.received_at < TO_TIMESTAMP_LTZ(s.travel_notices[10].ends_at, 3)
        AND (s.travel_notices[10].radius_km IS NULL OR 2 * 6371 * ASIN(SQRT(LEAST(1.0,
            POWER(SIN(RADIANS(s.lat - s.travel_notices[10].center_lat) / 2), 2)
            + COS(RADIANS(s.travel_notices[10].center_lat)) * COS(RADIANS(s.lat))
              * POWER(SIN(RADIANS(s.lng - s.travel_notices[10].center_lng) / 2), 2))))
          <= s.travel_notices[10].radius_km)
        THEN COALESCE(NULLIF(s.travel_notices[10].`signal`, ''), '*signal') END
    ) END) || ','
  )]) AS n (suppressing)
),

-- The counter rules of the customer's record (at most 8, a slot each): each slot's counter, then
-- per slot whether it fired (its counter compared with its threshold) and whether an allow list
-- suppresses it (naming it, rule:* or every reason): the reasons left, the suppressed ones and
-- the weight of those left.
rule_matches AS (
  SELECT
    p.*, r.rule_reasons, r.suppressed_rule_reasons, r.rule_weight
  FROM suppressions AS p
  CROSS JOIN UNNEST(ARRAY[ROW(
    CASE WHEN CARDINALITY(p.counter_rules) >= 1 THEN CASE p.counter_rules[1].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 2 THEN CASE p.counter_rules[2].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 3 THEN CASE p.counter_rules[3].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 4 THEN CASE p.counter_rules[4].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 5 THEN CASE p.counter_rules[5].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 6 THEN CASE p.counter_rules[6].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 7 THEN CASE p.counter_rules[7].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END,
    CASE WHEN CARDINALITY(p.counter_rules) >= 8 THEN CASE p.counter_rules[8].counter
      WHEN 'card:1h:count' THEN CAST(p.card_1h_count AS DOUBLE)
      WHEN 'card:1h:amount' THEN CAST(p.card_1h_amount AS DOUBLE)
      WHEN 'card:1h:customers' THEN CAST(p.card_1h_customers AS DOUBLE)
      WHEN 'card:1h:countries' THEN CAST(p.card_1h_countries AS DOUBLE)
      WHEN 'card:1h:devices' THEN CAST(p.card_1h_devices AS DOUBLE)
      WHEN 'card:24h:count' THEN CAST(p.card_24h_count AS DOUBLE)
      WHEN 'card:24h:amount' THEN CAST(p.card_24h_amount AS DOUBLE)
      WHEN 'card:24h:customers' THEN CAST(p.card_24h_customers AS DOUBLE)
      WHEN 'card:24h:countries' THEN CAST(p.card_24h_countries AS DOUBLE)
      WHEN 'card:24h:devices' THEN CAST(p.card_24h_devices AS DOUBLE)
      WHEN 'device:24h:count' THEN CAST(p.device_24h_count AS DOUBLE)
      WHEN 'device:24h:amount' THEN CAST(p.device_24h_amount AS DOUBLE)
      WHEN 'device:24h:customers' THEN CAST(p.device_24h_customers AS DOUBLE)
      WHEN 'device:24h:countries' THEN CAST(p.device_24h_countries AS DOUBLE)
      WHEN 'merchant:10min:count' THEN CAST(p.merchant_10min_count AS DOUBLE)
      WHEN 'merchant:10min:amount' THEN CAST(p.merchant_10min_amount AS DOUBLE)
      WHEN 'merchant:10min:customers' THEN CAST(p.merchant_10min_customers AS DOUBLE)
      WHEN 'merchant:10min:countries' THEN CAST(p.merchant_10min_countries AS DOUBLE)
      WHEN 'merchant:10min:devices' THEN CAST(p.merchant_10min_devices AS DOUBLE)
    END END
  )]) AS v (counter_1, counter_2, counter_3, counter_4, counter_5, counter_6, counter_7, counter_8)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CASE WHEN p.counter_rules[1].comparison = '>' THEN v.counter_1 > p.counter_rules[1].threshold
      ELSE v.counter_1 >= p.counter_rules[1].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[1].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[2].comparison = '>' THEN v.counter_2 > p.counter_rules[2].threshold
      ELSE v.counter_2 >= p.counter_rules[2].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[2].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[3].comparison = '>' THEN v.counter_3 > p.counter_rules[3].threshold
      ELSE v.counter_3 >= p.counter_rules[3].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[3].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[4].comparison = '>' THEN v.counter_4 > p.counter_rules[4].threshold
      ELSE v.counter_4 >= p.counter_rules[4].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[4].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[5].comparison = '>' THEN v.counter_5 > p.counter_rules[5].threshold
      ELSE v.counter_5 >= p.counter_rules[5].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[5].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[6].comparison = '>' THEN v.counter_6 > p.counter_rules[6].threshold
      ELSE v.counter_6 >= p.counter_rules[6].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[6].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[7].comparison = '>' THEN v.counter_7 > p.counter_rules[7].threshold
      ELSE v.counter_7 >= p.counter_rules[7].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[7].name || ',', p.suppressing) > 0,
    CASE WHEN p.counter_rules[8].comparison = '>' THEN v.counter_8 > p.counter_rules[8].threshold
      ELSE v.counter_8 >= p.counter_rules[8].threshold END,
    p.every_rule_suppressed OR LOCATE(',rule:' || p.counter_rules[8].name || ',', p.suppressing) > 0
  )]) AS f (fired_1, suppressed_1, fired_2, suppressed_2, fired_3, suppressed_3, fired_4, suppressed_4, fired_5, suppressed_5, fired_6, suppressed_6, fired_7, suppressed_7, fired_8, suppressed_8)
  CROSS JOIN UNNEST(ARRAY[ROW(
    CONCAT_WS(',',
      CASE WHEN f.fired_1 AND NOT f.suppressed_1 THEN 'rule:' || p.counter_rules[1].name END,
      CASE WHEN f.fired_2 AND NOT f.suppressed_2 THEN 'rule:' || p.counter_rules[2].name END,
      CASE WHEN f.fired_3 AND NOT f.suppressed_3 THEN 'rule:' || p.counter_rules[3].name END,
      CASE WHEN f.fired_4 AND NOT f.suppressed_4 THEN 'rule:' || p.counter_rules[4].name END,
      CASE WHEN f.fired_5 AND NOT f.suppressed_5 THEN 'rule:' || p.counter_rules[5].name END,
      CASE WHEN f.fired_6 AND NOT f.suppressed_6 THEN 'rule:' || p.counter_rules[6].name END,
      CASE WHEN f.fired_7 AND NOT f.suppressed_7 THEN 'rule:' || p.counter_rules[7].name END,
      CASE WHEN f.fired_8 AND NOT f.suppressed_8 THEN 'rule:' || p.counter_rules[8].name END),
    CONCAT_WS(',',
      CASE WHEN f.fired_1 AND f.suppressed_1 THEN 'suppressed:rule:' || p.counter_rules[1].name END,
      CASE WHEN f.fired_2 AND f.suppressed_2 THEN 'suppressed:rule:' || p.counter_rules[2].name END,
      CASE WHEN f.fired_3 AND f.suppressed_3 THEN 'suppressed:rule:' || p.counter_rules[3].name END,
      CASE WHEN f.fired_4 AND f.suppressed_4 THEN 'suppressed:rule:' || p.counter_rules[4].name END,
      CASE WHEN f.fired_5 AND f.suppressed_5 THEN 'suppressed:rule:' || p.counter_rules[5].name END,
      CASE WHEN f.fired_6 AND f.suppressed_6 THEN 'suppressed:rule:' || p.counter_rules[6].name END,
      CASE WHEN f.fired_7 AND f.suppressed_7 THEN 'suppressed:rule:' || p.counter_rules[7].name END,
      CASE WHEN f.fired_8 AND f.suppressed_8 THEN 'suppressed:rule:' || p.counter_rules[8].name END),
    0E0
      + CASE WHEN f.fired_1 AND NOT f.suppressed_1 THEN p.counter_rules[1].weight ELSE 0E0 END
      + CASE WHEN f.fired_2 AND NOT f.suppressed_2 THEN p.counter_rules[2].weight ELSE 0E0 END
      + CASE WHEN f.fired_3 AND NOT f.suppressed_3 THEN p.counter_rules[3].weight ELSE 0E0 END
      + CASE WHEN f.fired_4 AND NOT f.suppressed_4 THEN p.counter_rules[4].weight ELSE 0E0 END
      + CASE WHEN f.fired_5 AND NOT f.suppressed_5 THEN p.counter_rules[5].weight ELSE 0E0 END
      + CASE WHEN f.fired_6 AND NOT f.suppressed_6 THEN p.counter_rules[6].weight ELSE 0E0 END
      + CASE WHEN f.fired_7 AND NOT f.suppressed_7 THEN p.counter_rules[7].weight ELSE 0E0 END
      + CASE WHEN f.fired_8 AND NOT f.suppressed_8 THEN p.counter_rules[8].weight ELSE 0E0 END
  )]) AS r (rule_reasons, suppressed_rule_reasons, rule_weight)
),

-- Whether each fraud reason fired and is suppressed: a signal's by a notice or an allow list naming
-- it, or covering every signal; the block lists' by an allow list of list:* or every reason.
suppressed_signals AS (
  SELECT
    p.*,
    p.travel_fraud_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.travel_fraud_reason || ',', p.suppressing) > 0) AS travel_suppressed,
    p.velocity_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.velocity_reason || ',', p.suppressing) > 0) AS velocity_suppressed,
    p.spend_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.spend_reason || ',', p.suppressing) > 0) AS spend_suppressed,
    p.hour_reason IS NOT NULL AND (p.every_signal_suppressed
      OR LOCATE(',' || p.hour_reason || ',', p.suppressing) > 0) AS hour_suppressed,
    p.list_reasons <> '' AND p.every_list_suppressed AS lists_suppressed
  FROM rule_matches AS p
),

classified_transactions AS (
  SELECT
    x.*,
    -- CONCAT_WS skips NULLs: '' when no fraud reason is left (none fired, or every one was suppressed).
    CONCAT_WS(',',
      CASE WHEN x.travel_suppressed THEN NULL ELSE x.travel_fraud_reason END,
      CASE WHEN x.velocity_suppressed THEN NULL ELSE x.velocity_reason END,
      CASE WHEN x.spend_suppressed THEN NULL ELSE x.spend_reason END,
      CASE WHEN x.hour_suppressed THEN NULL ELSE x.hour_reason END,
      CASE WHEN x.lists_suppressed THEN NULL ELSE NULLIF(x.list_reasons, '') END,
      NULLIF(x.rule_reasons, '')) AS fraud_reasons,
    CONCAT_WS(',',
      CASE WHEN x.travel_suppressed THEN 'suppressed:' || x.travel_fraud_reason END,
      CASE WHEN x.velocity_suppressed THEN 'suppressed:' || x.velocity_reason END,
      CASE WHEN x.spend_suppressed THEN 'suppressed:' || x.spend_reason END,
      CASE WHEN x.hour_suppressed THEN 'suppressed:' || x.hour_reason END,
      CASE WHEN x.lists_suppressed THEN 'suppressed:' || REPLACE(x.list_reasons, ',', ',suppressed:') END,
      NULLIF(x.suppressed_rule_reasons, '')) AS suppressed_reasons,
    -- The score: the weights of the fraud reasons left (fired, not suppressed).
    CASE WHEN x.travel_fraud_reason = 'speed_above_limit' AND x.travel_suppressed IS NOT TRUE
      THEN x.weight_speed_above_limit ELSE 0 END
    + CASE WHEN x.travel_fraud_reason = 'non_positive_elapsed_time' AND x.travel_suppressed IS NOT TRUE
      THEN x.weight_non_positive_elapsed_time ELSE 0 END
    + CASE WHEN x.velocity_reason IS NOT NULL AND x.velocity_suppressed IS NOT TRUE THEN x.weight_velocity_exceeded ELSE 0 END
    + CASE WHEN x.spend_reason IS NOT NULL AND x.spend_suppressed IS NOT TRUE THEN x.weight_spend_deviation ELSE 0 END
    + CASE WHEN x.hour_reason IS NOT NULL AND x.hour_suppressed IS NOT TRUE THEN x.weight_unusual_hour ELSE 0 END
    + CASE WHEN x.lists_suppressed THEN 0 ELSE x.list_weight END
    + x.rule_weight
      AS score
  FROM suppressed_signals AS x
)

-- One output per field of the verdict schema, in its order (INSERT matches by position; a test
-- compares these names with sql/card-transactions-enriched.avsc).
SELECT
  customer_key,
  user_id, transaction_id, `timestamp`, lat, lng, amount,
  CAST(TIMESTAMPDIFF(SECOND, TO_TIMESTAMP_LTZ(0, 3), received_at) AS BIGINT) * 1000 + EXTRACT(MILLISECOND FROM received_at) AS received_at,
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
  END AS outcome,
  `card_token`,
  `card_bin`,
  `merchant_id`,
  `merchant_category_code`,
  `merchant_country`,
  `channel`,
  `device_id`,
  `ip_address`
FROM classified_transactions;
