-- Replay on Confluent Cloud (users/replay.py through fraudsite/flink_client.py): the cloud
-- detection statement, unchanged, over the tables Confluent Cloud infers from one replay's own
-- topics (created, with their value schemas registered, by the replay). The transactions topic
-- holds the stored transactions in their original arrival order, each with its original record
-- time as its Kafka timestamp; the compacted users-config topic holds the candidate thresholds,
-- stamped before the first transaction, so it is inferred as the versioned (upsert) table.
-- Both are read from the start up to the end they had when the statement started, so the INSERT
-- completes; then the watermarks of the timing model, as on the live tables.
ALTER TABLE `{{ topics.card_transactions }}`
  SET ('scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');

ALTER TABLE `{{ topics.users_config }}`
  SET ('scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');

ALTER TABLE `{{ topics.list_memberships }}`
  SET ('scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset');

{% include "cloud/tables.sql" %}
