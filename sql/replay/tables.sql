-- Replay (users/replay.py): the detection query over stored history, with candidate thresholds.
-- The same columns as the local variant, read from topics written for one replay: the stored
-- transactions in their original arrival order, each with its original record time as the Kafka
-- CreateTime, and the candidate users-config records, stamped before the first transaction. Both
-- are bounded (read up to the end offsets they had when the job started), so the job finishes.
--
-- Streaming mode over bounded input (Flink 2.2 cannot run this query in batch mode: its
-- event-time temporal join has no batch plan, see README "Replay"); the job finishes when the
-- input ends, and the final watermark releases every transaction still held by the join.
-- Pairing follows read order (`arrival`), as in the live job, where read order is offset order:
-- one partition written in the original order gives the same neighbours, including transactions
-- that shared a broker millisecond. The temporal join uses the original record times, so the
-- same thresholds apply as would have at that moment.
SET 'execution.runtime-mode' = '{{ runtime_mode }}';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.object-reuse' = 'true';

CREATE TABLE card_transactions (
{{ columns.card_transactions }},
  received_at TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  arrival AS PROCTIME(),
  WATERMARK FOR received_at AS received_at - INTERVAL '0.001' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '{{ topics.card_transactions }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
  'key.format' = 'raw',
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
  'topic' = '{{ topics.users_config }}',
  'properties.bootstrap.servers' = '{{ bootstrap_servers }}',
  'scan.bounded.mode' = 'latest-offset',
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
