ALTER TABLE `list-memberships`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;
