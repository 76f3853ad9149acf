from django.apps import AppConfig


class LocalstackConfig(AppConfig):
    name = "localstack"
    verbose_name = "Local Kafka and Flink stack"

    def ready(self):
        # The replays' local Flink (fraudsite/flink_client.py) runs its scripts through the SQL client
        # this app fetches and starts; handed over here so that the client never imports the launcher.
        from fraudsite.flink_client import register_local_sql_client

        from .flink import run_sql_script

        register_local_sql_client(run_sql_script)
