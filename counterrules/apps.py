from django.apps import AppConfig


class CounterRulesConfig(AppConfig):
    name = "counterrules"
    verbose_name = "Counter rules"
