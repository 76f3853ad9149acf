-- Confluent Cloud for Apache Flink. Terraform creates the three topics and registers their value
-- schemas (the repo's .avsc files), so Confluent Cloud infers a table per topic: the raw UTF-8
-- key becomes a `key` BYTES column, the value's fields become columns, and the Kafka record
-- time is the system column `$rowtime`. These statements shape the inferred tables for the
-- detection query; Terraform runs each once, in this order, before the INSERT.
--
-- Event time is `$rowtime` (the topics use LogAppendTime, so it is the broker's clock), as in
-- the local variant. The watermark follows it with no delay (1 ms for records sharing a
-- timestamp) in place of Confluent Cloud's default strategy, which waits for a number of
-- records per partition before its first watermark.

ALTER TABLE `{{ topics.card_transactions }}`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;

-- The temporal join needs users-config as a versioned table: upsert mode with the Kafka key as
-- primary key (tombstones delete). Confluent Cloud infers exactly that for a compacted topic
-- (changelog.mode upsert, which requires a primary key: the key column), so no statement sets it;
-- a second ADD PRIMARY KEY would be refused. Check once on a real account: SHOW CREATE TABLE
-- `users-config` shows PRIMARY KEY (`key`) and 'changelog.mode' = 'upsert'.
ALTER TABLE `{{ topics.users_config }}`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;

-- The lists' entries (list-memberships, compacted): the versioned table of the lists' temporal
-- joins, inferred like users-config, with the same watermark.
ALTER TABLE `{{ topics.list_memberships }}`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;
