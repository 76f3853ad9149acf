-- Confluent Cloud for Apache Flink: tables over the topics Terraform creates, values in the
-- Schema Registry's Avro (avro-registry). Event time is the system column $rowtime (the Kafka
-- record time), as in the local variant. Confluent Cloud has no processing time, so pairing
-- orders by $rowtime too, under Confluent Cloud's default watermark strategy.

CREATE TABLE IF NOT EXISTS `{{ topics.card_transactions }}` (
  user_id STRING NOT NULL,
  `timestamp` BIGINT NOT NULL,
  transaction_id STRING NOT NULL,
  lat DOUBLE NOT NULL,
  lng DOUBLE NOT NULL,
  amount DOUBLE NOT NULL
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'append',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'except-key'
);

CREATE TABLE IF NOT EXISTS `{{ topics.users_config }}` (
  user_id STRING NOT NULL,
  first_name STRING NOT NULL,
  last_name STRING NOT NULL,
  max_speed DOUBLE NOT NULL,
  PRIMARY KEY (user_id) NOT ENFORCED
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'upsert',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'except-key',
  'kafka.cleanup-policy' = 'compact'
);

CREATE TABLE IF NOT EXISTS `{{ topics.card_transactions_enriched }}` (
  user_id STRING NOT NULL,
  transaction_id STRING NOT NULL,
  `timestamp` BIGINT NOT NULL,
  lat DOUBLE NOT NULL,
  lng DOUBLE NOT NULL,
  amount DOUBLE NOT NULL,
  received_at BIGINT NOT NULL,
  prev_transaction_id STRING,
  prev_timestamp BIGINT,
  prev_lat DOUBLE,
  prev_lng DOUBLE,
  prev_amount DOUBLE,
  first_name STRING,
  last_name STRING,
  max_speed DOUBLE,
  distance_km DOUBLE,
  elapsed_seconds DOUBLE,
  speed_kmh DOUBLE,
  is_fraud BOOLEAN NOT NULL,
  status STRING NOT NULL,
  reason STRING NOT NULL
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'append',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'all'
);
