"""Load the demo workspace (skipped when it already has people), with a progress bar."""

from django.core.management.base import BaseCommand
from tqdm import tqdm

from events.demo import demo_load


class Command(BaseCommand):
    help = "Create the demo workspace with people and 90 days of events (once)."

    def add_arguments(self, parser):
        parser.add_argument("--slug", default="demo")
        parser.add_argument("--people", type=int, default=500)
        parser.add_argument("--events", type=int, default=20_000)
        parser.add_argument("--days", type=int, default=90)

    def handle(self, *args, slug, people, events, days, **options):
        with tqdm(
            total=events,
            desc="demo events",
            unit="ev",
            disable=options["verbosity"] == 0,
            file=self.stderr._out,
        ) as bar:
            workspace = demo_load(
                slug=slug, people=people, events=events, days=days, progress=bar.update
            )
        if workspace is None:
            self.stdout.write(f"Demo workspace {slug!r} already has data; nothing loaded.")
        else:
            self.stdout.write(
                f"Demo workspace {slug!r} loaded: {people} people, "
                f"{events} events over {days} days."
            )
