{% block settings %}-- Local open-source Flink: the topics as tables, values in plain Avro, keys as the raw UTF-8
-- user_id. The physical columns are generated from the topics' .avsc files (fraudsite/topics.py).
--
-- Event time is the Kafka record time (the topics use LogAppendTime, so it is the broker's
-- clock), never the client-supplied `timestamp`: a skewed client clock can then neither drag
-- the watermark ahead nor make anyone's later transactions late.
--
-- The watermark is 1 ms behind the newest record time. The broker's clock never goes back
-- within a partition, but it stamps a whole produce request with one millisecond: a watermark
-- equal to that millisecond, emitted between two records of the request, would put the rest at
-- the watermark, where the temporal join holds them (Flink 2.2) or drops them as late (from
-- FLINK-39719). One millisecond behind, no record can ever be at or behind the watermark.
-- What moves the watermark past the last transaction of a quiet period is the event-time clock
-- (transactions/clock.py): a tick to every partition every EVENT_TIME_TICK_MS, filtered out by
-- the detection query. So card_transactions never goes idle, and has no idle timeout: an idle
-- partition's late return is the one way a row could fall behind a watermark.
-- users_config is quiet for hours: after 200 ms without a record it stops holding the
-- watermark back. A customer change read later than a transaction of the same millisecond
-- applies from the next transaction on, as it would a millisecond later.
SET 'pipeline.auto-watermark-interval' = '{{ watermark_interval_ms }} ms';
-- Records cross three network hops (source, two windows, join); each hop's buffer is sent when
-- full or after this long (Flink's default, 100 ms, would add up to 300 ms to a quiet verdict).
SET 'execution.buffer-timeout.interval' = '{{ buffer_timeout_ms }} ms';
SET 'table.local-time-zone' = 'UTC';
-- Chained operators hand records on without copying them (the SQL operators never keep a record
-- they were handed): TaskManager CPU per transaction -15 % (bench/RESULTS.md).
SET 'pipeline.object-reuse' = 'true';{% endblock %}

CREATE TABLE card_transactions (
{{ columns.card_transactions }},
  received_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  arrival AS PROCTIME(),
  WATERMARK FOR received_at AS received_at - INTERVAL '0.001' SECOND
) WITH (
  'connector' = 'kafka',
{% block card_transactions_watermarks %}  -- A watermark right after each record rather than on the periodic timer: a transaction is
  -- released by the next tick at once (at most one watermark per millisecond goes out).
  'scan.watermark.emit.strategy' = 'on-event',
{% endblock %}  'topic' = '{{ topics.card_transactions }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
{% block card_transactions_reading %}  'properties.group.id' = '{{ detection_group }}',
  'properties.auto.offset.reset' = 'earliest',
  'scan.startup.mode' = 'group-offsets',
{% endblock %}  'key.format' = 'raw',
  'key.fields' = 'user_id',
  'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TABLE users_config (
{{ columns.users_config }},
  updated_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  PRIMARY KEY (user_id) NOT ENFORCED,
  WATERMARK FOR updated_at AS updated_at - INTERVAL '0.001' SECOND
) WITH (
  'connector' = 'upsert-kafka',
{% block users_config_reading %}  'scan.watermark.idle-timeout' = '200 ms',
{% endblock %}  'topic' = '{{ topics.users_config }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'key.format' = 'raw',
  'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY'
);

-- The lists' entries, one record per looked-up value ("<kind>:<value>"): the versioned table of
-- the lists' temporal joins. Quiet like users_config, and idle after 200 ms the same way.
CREATE TABLE list_memberships (
{{ columns.list_memberships }},
  updated_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  PRIMARY KEY (list_key) NOT ENFORCED,
  WATERMARK FOR updated_at AS updated_at - INTERVAL '0.001' SECOND
) WITH (
  'connector' = 'upsert-kafka',
{% block list_memberships_reading %}  'scan.watermark.idle-timeout' = '200 ms',
{% endblock %}  'topic' = '{{ topics.list_memberships }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'key.format' = 'raw',
  'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TABLE card_transactions_enriched (
{{ columns.card_transactions_enriched }}
) WITH (
  'connector' = 'kafka',
  'topic' = '{{ topics.card_transactions_enriched }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'key.format' = 'raw',
  'key.fields' = 'user_id',
  'value.format' = 'avro',
  'value.fields-include' = 'ALL',
  'sink.delivery-guarantee' = 'at-least-once'
);
