-- Local open-source Flink: the three topics as tables, values in plain Avro matching the repo's
-- .avsc files field by field (a test checks this), keys as the raw UTF-8 user_id.
--
-- Event time is the Kafka record time (the topics use LogAppendTime, so it is the broker's
-- clock), never the client-supplied `timestamp`: a skewed client clock can then neither drag
-- the watermark ahead nor make anyone's later transactions late. The watermark has no
-- out-of-orderness delay because broker time is monotonic per partition.

-- A quiet users-config topic (or an empty partition) must not hold the watermark back: inputs
-- with no records for this long stop counting towards it.
SET 'table.exec.source.idle-timeout' = '500 ms';
SET 'pipeline.auto-watermark-interval' = '50 ms';
SET 'table.local-time-zone' = 'UTC';

CREATE TABLE card_transactions (
{% include "columns/card_transactions.sql" %},
  received_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  arrival AS PROCTIME(),
  WATERMARK FOR received_at AS received_at
) WITH (
  'connector' = 'kafka',
  'topic' = '{{ topics.card_transactions }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'properties.group.id' = 'fraudsite-detection',
  'properties.auto.offset.reset' = 'earliest',
  'scan.startup.mode' = 'group-offsets',
  'key.format' = 'raw',
  'key.fields' = 'user_id',
  'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TABLE users_config (
{% include "columns/users_config.sql" %},
  updated_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  PRIMARY KEY (user_id) NOT ENFORCED,
  WATERMARK FOR updated_at AS updated_at
) WITH (
  'connector' = 'upsert-kafka',
  'topic' = '{{ topics.users_config }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'key.format' = 'raw',
  'value.format' = 'avro',
  'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TABLE card_transactions_enriched (
{% include "columns/card_transactions_enriched.sql" %}
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
