"""Create an API key (and the workspace if it does not exist); print the key and nothing else."""

from django.core.management.base import BaseCommand

from people.models import ApiKey, Workspace
from people.workspaces import api_key_create, workspace_create


class Command(BaseCommand):
    help = "Create an API key for a workspace (created when missing) and print it."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="workspace slug")
        parser.add_argument(
            "--public", action="store_true", help="a public key (browser SDK: ingest only)"
        )
        parser.add_argument("--name", default="", help="a label for the key")

    def handle(self, *args, workspace: str, public: bool, name: str, **options):
        ws = Workspace.objects.filter(slug=workspace).first() or workspace_create(slug=workspace)
        kind = ApiKey.Kind.PUBLIC if public else ApiKey.Kind.SECRET
        new = api_key_create(workspace=ws, kind=kind, name=name)
        self.stdout.write(new.raw_key)
