  user_id STRING NOT NULL,
  first_name STRING NOT NULL,
  last_name STRING NOT NULL,
  max_speed DOUBLE NOT NULL