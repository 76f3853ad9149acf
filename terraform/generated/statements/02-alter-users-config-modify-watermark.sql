ALTER TABLE `users-config`
  MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '0.001' SECOND;
