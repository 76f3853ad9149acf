CARDINALITY(s.{{ slot.memberships }}) >= {{ slot.index }}
        AND s.received_at >= TO_TIMESTAMP_LTZ(s.{{ slot.entry }}.starts_at, 3)
        AND (s.{{ slot.entry }}.ends_at IS NULL OR s.received_at < TO_TIMESTAMP_LTZ(s.{{ slot.entry }}.ends_at, 3)){% if slot.prefix %}
        AND SUBSTRING(s.{{ slot.column }} FROM 1 FOR CHAR_LENGTH(s.{{ slot.entry }}.`value`)) = s.{{ slot.entry }}.`value`{% endif %}