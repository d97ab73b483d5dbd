"""Mail in the embedded default (SPEC §1): without SMTP settings Django's file-based backend
writes each message to the mail folder (``CDP_MAIL_DIR``, ``var/mail``), a flow's email action
succeeds there, and the admin's "Sent mail" page lists the folder's messages newest first and
shows one on click. (pytest-django swaps the backend for its in-memory one; these tests put
the file backend back, as settings choose it with no ``EMAIL_HOST``.)"""

import os

import pytest
from django.core.mail import send_mail

from events.ingestion import events_ingest
from flows.models import FlowRun, FlowStepLog
from flows.services import flow_activate, flow_create
from tests.factories import DefinitionFactory, PersonFactory, event, props
from tests.flows.conftest import END, chain, start
from tests.people.test_admin import login, make_staff

FILE_BACKEND = "cdp.mail.FolderEmailBackend"  # the default without EMAIL_HOST


@pytest.fixture
def mail_folder(settings, tmp_path):
    settings.EMAIL_BACKEND = FILE_BACKEND
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")
    return tmp_path / "mail"


def test_a_flow_email_is_written_to_the_mail_folder_and_listed_in_the_admin(
    workspace, mail_folder, admin_client, django_capture_on_commit_callbacks
):
    """A person entering a flow with an email action gets the email as a file in the mail
    folder; the flow logs it sent; the admin lists it (time, to, subject) and shows it."""
    DefinitionFactory(
        workspace=workspace, definition_id="c_ticket_searched", properties=props(destination="text")
    )
    flow = flow_activate(
        flow=flow_create(
            workspace=workspace,
            spec=chain(
                start(),
                (
                    "mail",
                    "action",
                    {
                        "action": "email",
                        "to": "person",
                        "subject": "Trip to {{ event.destination }}",
                        "body": "Hi {{ person.firstName }}, Rome is waiting.",
                    },
                ),
                END,
            ),
        )
    )
    ann = PersonFactory(
        workspace=workspace, standard={"firstName": "Ann"}, identifiers={"email": "ann@example.com"}
    )
    with django_capture_on_commit_callbacks(execute=True):
        events_ingest(
            workspace=workspace,
            origin="api",
            events=[event("c_ticket_searched", ann, properties={"destination": "Rome"})],
        )
    run = FlowRun.objects.get(flow=flow)
    assert run.state == FlowRun.State.FINISHED
    assert FlowStepLog.objects.get(run=run, element__key="mail").outcome == "sent"
    (file,) = mail_folder.glob("*.log")
    assert "Subject: Trip to Rome" in file.read_text()

    page = admin_client.get("/admin/cdp/sentmail/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "ann@example.com" in html
    assert "Trip to Rome" in html
    (mail,) = page.context["mails"]
    assert mail.sent_at is not None
    shown = admin_client.get(f"/admin/cdp/sentmail/{mail.id}/").content.decode()
    assert "Hi Ann, Rome is waiting." in shown


def test_sent_mail_is_listed_newest_first(db, mail_folder, admin_client):
    """Each message sent is its own entry; the newest is on top."""
    for n in range(3):
        send_mail(f"Message {n}", "body", None, [f"p{n}@example.com"])
    html = admin_client.get("/admin/cdp/sentmail/").content.decode()
    assert html.index("Message 2") < html.index("Message 1") < html.index("Message 0")
    assert "3 newest messages shown" in html


def test_sent_mail_page_refuses_unknown_names_and_users_without_the_permission(
    workspace, mail_folder, admin_client
):
    """A name that is not a message of the folder (or tries to leave it) is a 404; a
    marketer without ``cdp.view_sentmail`` may not read people's mail."""
    send_mail("Hello", "body", None, ["ann@example.com"])
    assert admin_client.get("/admin/cdp/sentmail/..%2Fcdp.0/").status_code == 404
    assert admin_client.get("/admin/cdp/sentmail/nothing.0/").status_code == 404
    marketer = login(make_staff("mia", workspace))
    assert marketer.get("/admin/cdp/sentmail/").status_code == 403


def test_admin_index_says_where_mail_goes(admin_client, mail_folder, settings):
    """The "Background work" box says mail is written to the folder (linking the page), or
    that it leaves by SMTP."""
    html = admin_client.get("/admin/").content.decode()
    assert f"written to the folder <code>{mail_folder}</code>" in html
    assert 'href="/admin/cdp/sentmail/"' in html
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "smtp.example.com"
    html = admin_client.get("/admin/").content.decode()
    assert "sent by SMTP through smtp.example.com" in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)  # the live server's requests commit
def test_an_admin_finds_sent_mail_by_clicks(browser, live_server, mail_folder):
    """From the admin index: the "Background work" box's Sent mail link, then a subject,
    shows the message (CSP on: no script errors)."""
    from django.contrib.auth.models import User

    User.objects.create_superuser(username="root", password="pw-root-123")
    send_mail("Your ticket to Rome", "Hi Ann, Rome is waiting.", None, ["ann@example.com"])
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "pw-root-123")
    page.click("input[type=submit]")
    page.click("#cdp-mail-status a")
    page.wait_for_selector("#cdp-sent-mail")
    row = page.locator("#cdp-sent-mail tbody tr").first
    assert "ann@example.com" in row.text_content()
    row.locator("a", has_text="Your ticket to Rome").click()
    page.wait_for_selector("#cdp-mail-body")
    assert page.locator("#cdp-mail-body").text_content().strip() == "Hi Ann, Rome is waiting."
    if path := os.environ.get("CDP_MAIL_SCREENSHOT"):
        page.screenshot(path=path, full_page=True)
    assert not errors
