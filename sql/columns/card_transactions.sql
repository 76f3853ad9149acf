  user_id STRING NOT NULL,
  `timestamp` BIGINT NOT NULL,
  transaction_id STRING NOT NULL,
  lat DOUBLE NOT NULL,
  lng DOUBLE NOT NULL,
  amount DOUBLE NOT NULL