{% extends "local/tables.sql" %}
{% block settings %}-- Replay (users/replay.py): the detection query over stored history, with candidate thresholds.
-- The same columns as the local variant, read from topics written for one replay: the stored
-- transactions in their original arrival order, each with its original record time as the Kafka
-- CreateTime, and the candidate users-config records and the lists' entries, stamped before the
-- first transaction. All are bounded (read up to the end offsets they had when the job started), so the job finishes.
--
-- Streaming mode over bounded input (Flink 2.2 cannot run this query in batch mode: its
-- event-time temporal join has no batch plan, see the README's "Proposals, replay and
-- approval"); the job finishes when the input ends, and the final watermark releases every
-- transaction still held by the join.
-- Pairing follows read order (`arrival`), as in the live job, where read order is offset order:
-- one partition written in the original order gives the same neighbours, including transactions
-- that shared a broker millisecond. The temporal join uses the original record times, so the
-- same thresholds apply as would have at that moment.
SET 'execution.runtime-mode' = '{{ runtime_mode }}';
SET 'table.local-time-zone' = 'UTC';
SET 'pipeline.object-reuse' = 'true';
-- The tables are the local variant's (sql/local/tables.sql), read differently: from the
-- earliest offset up to the end offsets the topics had when the job started.{% endblock %}

{% block card_transactions_watermarks %}{% endblock %}

{% block card_transactions_reading %}  'scan.startup.mode' = 'earliest-offset',
  'scan.bounded.mode' = 'latest-offset',
{% endblock %}

{% block users_config_reading %}  'scan.bounded.mode' = 'latest-offset',
{% endblock %}

{% block list_memberships_reading %}  'scan.bounded.mode' = 'latest-offset',
{% endblock %}
