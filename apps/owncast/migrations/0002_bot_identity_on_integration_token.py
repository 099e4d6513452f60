"""The bot chat identity of an integration token lives on the token
(IntegrationToken.chat_identity, the integrations app's), not on the Owncast link.

A token whose link held a bot and whose own field is empty takes the link's bot, so its
messages keep their author; where both hold one, the token's stays (the chat API's bot)
and the link's keeps its messages as any identity with no token holder does.
"""

from django.db import migrations


def move_bots_to_tokens(apps, schema_editor):
    TokenLink = apps.get_model("owncast", "TokenLink")
    IntegrationToken = apps.get_model("integrations", "IntegrationToken")
    links = TokenLink.objects.filter(chat_identity__isnull=False)
    for link in links.iterator():
        IntegrationToken.objects.filter(pk=link.token_id, chat_identity__isnull=True).update(
            chat_identity_id=link.chat_identity_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("owncast", "0001_token_links_and_stream_settings"),
        ("integrations", "0003_integration_token_chat_identity"),
    ]

    operations = [
        migrations.RunPython(move_bots_to_tokens, migrations.RunPython.noop),
        migrations.RemoveField(model_name="tokenlink", name="chat_identity"),
    ]
