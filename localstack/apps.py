from django.apps import AppConfig


class LocalstackConfig(AppConfig):
    name = "localstack"
    verbose_name = "Local Kafka and Flink stack"
