"""Create (or reset) the local admin user with a generated password, and print it."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from people.models import Workspace


class Command(BaseCommand):
    help = "Create or reset the 'admin' superuser with a new generated password and print it."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--workspace", default="demo", help="workspace slug the user joins when it exists"
        )

    def handle(self, *args, username: str, workspace: str, **options):
        user_model = get_user_model()
        password = secrets.token_urlsafe(12)
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = user.is_active = True
        user.set_password(password)
        user.save()
        ws = Workspace.objects.filter(slug=workspace).first()
        if ws is not None:
            ws.members.add(user)
        verb = "created" if created else "reset"
        self.stdout.write(f"Admin user {verb}: username: {username} password: {password}")
