"""Publish a customer to users-config once the change that touched it has committed."""

from functools import partial

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from .models import Customer
from .publishing import publish_customer, publish_tombstone


@receiver(pre_save, sender=Customer)
def mark_pending(sender, instance, **kwargs):
    instance.sync_state = Customer.SyncState.PENDING


@receiver(post_save, sender=Customer)
def publish_after_commit(sender, instance, **kwargs):
    transaction.on_commit(partial(publish_customer, instance.pk))


@receiver(post_delete, sender=Customer)
def tombstone_after_commit(sender, instance, **kwargs):
    transaction.on_commit(partial(publish_tombstone, instance.user_id))
