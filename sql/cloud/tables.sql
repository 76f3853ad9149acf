-- Confluent Cloud for Apache Flink: tables over the topics Terraform creates, values in the
-- Schema Registry's Avro (avro-registry). Event time is the system column $rowtime (the Kafka
-- record time), as in the local variant. Confluent Cloud has no processing time, so pairing
-- orders by $rowtime too, under Confluent Cloud's default watermark strategy.

CREATE TABLE IF NOT EXISTS `{{ topics.card_transactions }}` (
{% include "columns/card_transactions.sql" %}
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'append',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'except-key'
);

CREATE TABLE IF NOT EXISTS `{{ topics.users_config }}` (
{% include "columns/users_config.sql" %},
  PRIMARY KEY (user_id) NOT ENFORCED
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'upsert',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'except-key',
  'kafka.cleanup-policy' = 'compact'
);

CREATE TABLE IF NOT EXISTS `{{ topics.card_transactions_enriched }}` (
{% include "columns/card_transactions_enriched.sql" %}
) DISTRIBUTED BY HASH(user_id) INTO {{ partitions }} BUCKETS WITH (
  'changelog.mode' = 'append',
  'key.format' = 'raw',
  'value.format' = 'avro-registry',
  'value.fields-include' = 'all'
);
