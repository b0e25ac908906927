"""Session policies: remember me, re-authentication, new-device
alerts; new audit kinds. Existing sessions stay remembered (persistent) and
get their network filled in, so the first sign-in after the deploy does not
mail every user about a "new" device."""

from django.db import migrations, models


def fill_networks(apps, schema_editor):
    from tokens_app.devices import network_of

    LoginSession = apps.get_model("tokens_app", "LoginSession")
    rows = LoginSession.objects.exclude(ip_address__isnull=True).only("pk", "ip_address")
    for session in rows.iterator(chunk_size=2000):
        LoginSession.objects.filter(pk=session.pk).update(network=network_of(session.ip_address))


class Migration(migrations.Migration):
    dependencies = [
        ("tokens_app", "0002_loginsession_rotated_by"),
    ]

    operations = [
        migrations.AddField(
            model_name="loginsession",
            name="persistent",
            field=models.BooleanField(default=True, verbose_name="remembered"),
        ),
        migrations.AddField(
            model_name="loginsession",
            name="auth_time",
            field=models.DateTimeField(blank=True, null=True, verbose_name="password last confirmed"),
        ),
        migrations.AddField(
            model_name="loginsession",
            name="network",
            field=models.CharField(blank=True, max_length=64, verbose_name="network"),
        ),
        migrations.AddField(
            model_name="loginsession",
            name="reported_at",
            field=models.DateTimeField(blank=True, null=True, verbose_name="reported"),
        ),
        migrations.AlterField(
            model_name="auditevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("login", "Login"),
                    ("login_failed", "Failed login"),
                    ("logout", "Logout"),
                    ("revoked", "All sessions ended"),
                    ("session_revoked", "Session ended"),
                    ("refresh_reused", "Refresh token reuse detected"),
                    ("refresh_grace", "Previous refresh token answered (rotation grace)"),
                    ("password_reset_requested", "Password reset requested"),
                    ("throttled", "Throttled"),
                    ("lockout_cleared", "Lockout cleared"),
                    ("reauthenticated", "Password confirmed"),
                    ("new_device_alert", "New-device alert sent"),
                    ("session_reported", "Sign-in reported as not the owner"),
                ],
                db_index=True,
                max_length=32,
            ),
        ),
        migrations.RunPython(fill_networks, migrations.RunPython.noop),
    ]
