ALTER TABLE `card-transactions`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;
