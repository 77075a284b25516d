"""How the Matrix adapter gets a session: a configured access token (one bound to a device:
the encryption keys are the device's), else the login saved by an earlier run (same device,
so the crypto store's keys stay valid), else a password login whose token and device id are
saved for the next run."""

from __future__ import annotations

import nio
from twisted.logger import Logger

from kojibot.adapters.matrix.niocalls import LoginFailed, nio_call
from kojibot.adapters.matrix.saved import SavedSession
from kojibot.config import MatrixSettings

log = Logger(namespace="kojibot.matrix")


async def log_in(client: nio.AsyncClient, settings: MatrixSettings, saved: SavedSession) -> None:
    """Make *client* logged in; LoginFailed (one line, no secret in it) if refused."""
    me = settings.user_id
    if settings.access_token:
        client.access_token = settings.access_token
        who = await nio_call(client.whoami())
        if isinstance(who, nio.WhoamiError):
            client.access_token = ""
            raise LoginFailed(f"the configured access token was refused: {who.message}")
        if not who.device_id:
            client.access_token = ""
            raise LoginFailed("the configured access token belongs to no device (as tokens "
                              "from Synapse's admin API do) and the bot needs one for its "
                              "keys: use a token from a login (see README)")
        client.restore_login(who.user_id, who.device_id, settings.access_token)
        return
    credentials = saved.credentials()
    if credentials:
        client.restore_login(me, *credentials)
        log.info("reusing the saved login of {user} (device {device})", user=me,
                 device=credentials[0])
        return
    response = await nio_call(client.login(password=settings.password,
                                           device_name=settings.device_name))
    if isinstance(response, nio.LoginError):
        raise LoginFailed(f"login as {me} failed: {response.message}")
    saved.save_credentials(response.device_id, response.access_token)
    log.info("logged in as {user} (device {device}); login saved in {path}",
             user=me, device=response.device_id, path=str(saved.login_path))
