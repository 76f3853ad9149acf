-- Impossible-travel detection, shared by the local and the Confluent Cloud variants: one
-- INSERT statement, so that Confluent Cloud (one statement per submission) runs it unchanged.
--
-- 1. Pair each transaction with the same customer's previous one. A customer's transactions
--    share a Kafka partition (key = user_id), so arrival order is offset order; a two-row
--    window keeps two rows of state per customer.
-- 2. Join the customer's settings as they were at the transaction's record time (event-time
--    temporal join against the versioned users-config table): a later limit change does not
--    rewrite earlier verdicts, and state stays bounded by the number of customers.
-- 3. Decide, once, here: consumers never recompute the rule.

INSERT INTO {{ tables.card_transactions_enriched }} ({{ enriched_columns }})
WITH transactions AS (
  SELECT
    {{ customer_key }} AS customer_key, {{ user_id }} AS user_id,
    transaction_id, `timestamp`, lat, lng, amount,
    {{ record_time }} AS received_at{% if processing_time %}, {{ processing_time }} AS arrival{% endif %}
  FROM {{ tables.card_transactions }}
),

paired_transactions AS (
  SELECT
    t.*,
    CASE WHEN COUNT(*) OVER w = 2 THEN FIRST_VALUE(transaction_id) OVER w END AS prev_transaction_id,
    CASE WHEN COUNT(*) OVER w = 2 THEN FIRST_VALUE(`timestamp`) OVER w END AS prev_timestamp,
    CASE WHEN COUNT(*) OVER w = 2 THEN FIRST_VALUE(lat) OVER w END AS prev_lat,
    CASE WHEN COUNT(*) OVER w = 2 THEN FIRST_VALUE(lng) OVER w END AS prev_lng,
    CASE WHEN COUNT(*) OVER w = 2 THEN FIRST_VALUE(amount) OVER w END AS prev_amount
  FROM transactions AS t
  -- A two-row frame: the previous transaction and this one. ROWS (not RANGE) emits each row at
  -- once instead of on a timer after the next watermark.
  WINDOW w AS (
    PARTITION BY customer_key ORDER BY {% if processing_time %}arrival{% else %}received_at{% endif %}
    ROWS BETWEEN 1 PRECEDING AND CURRENT ROW
  )
),

measured_transactions AS (
  SELECT
    t.*,
    c.first_name, c.last_name, c.max_speed,
    -- Haversine great-circle distance, R = 6371 km (LEAST guards rounding just above 1).
    2 * 6371 * ASIN(SQRT(LEAST(1.0,
        POWER(SIN(RADIANS(t.lat - t.prev_lat) / 2), 2)
        + COS(RADIANS(t.prev_lat)) * COS(RADIANS(t.lat))
          * POWER(SIN(RADIANS(t.lng - t.prev_lng) / 2), 2)))) AS distance_km,
    CAST(t.`timestamp` - t.prev_timestamp AS DOUBLE) / 1000 AS elapsed_seconds
  FROM paired_transactions AS t
  LEFT JOIN {{ tables.users_config }} FOR SYSTEM_TIME AS OF t.received_at AS c
    ON t.customer_key = c.{{ customer_key }}
),

classified_transactions AS (
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
    END AS reason
  FROM measured_transactions AS m
)

SELECT
  {% if enriched_key %}customer_key,{% endif %}
  user_id, transaction_id, `timestamp`, lat, lng, amount,
  {{ epoch_millis_of_received_at }} AS received_at,
  prev_transaction_id, prev_timestamp, prev_lat, prev_lng, prev_amount,
  first_name, last_name, max_speed,
  CASE WHEN prev_transaction_id IS NULL THEN CAST(NULL AS DOUBLE) ELSE distance_km END,
  CASE WHEN prev_transaction_id IS NULL THEN CAST(NULL AS DOUBLE) ELSE elapsed_seconds END,
  speed_kmh,
  reason IN ('speed_above_limit', 'non_positive_elapsed_time') AS is_fraud,
  CASE
    WHEN reason = 'unknown_customer' THEN 'UNKNOWN_CUSTOMER'
    WHEN reason IN ('speed_above_limit', 'non_positive_elapsed_time') THEN 'FRAUD'
    ELSE 'VALID'
  END AS status,
  reason
FROM classified_transactions;
