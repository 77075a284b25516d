"""koji's own client library, adjusted to the 1.30 hub the fixture runs.

The 1.36 ClientSession logs out with a `session_id` argument 1.30 does not take; it
recovers, but the hub logs a traceback each time, and ClientSession.__del__ logs out
every session, which buries real errors in the hub log.
"""

from __future__ import annotations

import koji


class HubSession(koji.ClientSession):
    """koji.ClientSession whose logout speaks the 1.30 dialect."""

    def logout(self, session_id=None):
        if session_id is not None or not self.logged_in:
            return super().logout(session_id)
        handler, headers, request = self._prepCall("logout", (), {})
        try:
            self._sendCall(handler, headers, request)  # once: no retries, as koji does
        except koji.AuthExpired:
            pass
        self.setSession(None)
