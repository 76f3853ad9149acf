from django.core.management.base import BaseCommand

from cloud import terraform


class Command(BaseCommand):
    help = ("Write terraform/generated/ (topics, configs, schema files and the Confluent Cloud Flink "
            "statements) from the project. Run after changing sql/, a schema or a topic setting.")

    def handle(self, *args, **options):
        for path in terraform.write_generated_files():
            self.stdout.write(f"wrote {path.relative_to(terraform.TERRAFORM_DIR.parent)}")
