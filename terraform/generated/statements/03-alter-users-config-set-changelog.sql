ALTER TABLE `users-config` SET ('changelog.mode' = 'upsert');
