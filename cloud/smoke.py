"""`make cloud-smoke` (scripts/cloud-smoke.sh, `manage.py cloud_smoke`): on a real account, what
the offline tests cannot show. Each inferred table as Confluent Cloud shows it (SHOW CREATE TABLE,
through the statement API) against what the statements expect of it, then one transaction to its
verdict, timed."""

import re

from fraudsite.topics import KEY_COLUMN, TOPICS, USERS_CONFIG, VERDICTS

WATERMARK = "WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND"


def expected_tables():
    """{topic name: [what its SHOW CREATE TABLE must contain]}: the raw key as `key` BYTES (except
    the verdicts, whose value repeats user_id), every value field, the watermark the ALTERs set on
    the inputs, and users-config inferred as the versioned upsert table keyed on `key`."""
    expected = {}
    for topic in TOPICS:
        fragments = ["`key` VARBINARY"] + [f"`{name}`" for name in topic.field_names]
        if topic is not VERDICTS:
            fragments.append(WATERMARK)
        if topic is USERS_CONFIG:
            fragments += ["PRIMARY KEY (`key`) NOT ENFORCED", "'changelog.mode' = 'upsert'"]
        expected[topic.name] = fragments
    assert KEY_COLUMN not in USERS_CONFIG.field_names  # the key is only in the key: `key` carries it
    return expected


def _normal(text):
    return re.sub(r"\s+", " ", text).strip()


def missing(show_create_table, fragments):
    """The fragments that SHOW CREATE TABLE's text lacks (whitespace-insensitive), in order."""
    text = _normal(show_create_table)
    return [fragment for fragment in fragments if _normal(fragment) not in text]


def check_tables(client, say):
    """SHOW CREATE TABLE of each table through the statement API; returns the tables that differ."""
    differing = []
    for number, (table, fragments) in enumerate(expected_tables().items(), start=1):
        name = f"fraudsite-smoke-show-{number}"
        client.run(name, f"SHOW CREATE TABLE `{table}`;", timeout=300, keep=True)
        try:
            text = "\n".join(str(cell) for row in client.results(name) for cell in row)
        finally:
            client.delete(name)
        lacking = missing(text, fragments)
        say(f"SHOW CREATE TABLE `{table}`: " + ("as the statements expect" if not lacking else
                                                 "DIFFERS, lacks " + "; ".join(lacking)))
        if lacking:
            differing.append(table)
            say(text)
    return differing
