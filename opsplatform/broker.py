"""The development broker: kombu's filesystem transport, with messages written atomically.

kombu's filesystem transport creates a message file and then writes it; a worker
polling the folder can take the file in between, read it empty and stop with a
JSONDecodeError (celery/kombu#1551). Here a message is written under a name the
readers ignore and renamed into place when complete (``os.replace`` is atomic
within one folder). Selected in settings by ``CELERY_BROKER_TRANSPORT`` when
``CELERY_BROKER_URL`` is ``filesystem://``.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put a message on ``queue``: complete under a ``.part`` name, then renamed to its ``.msg`` name."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"  # readers take only names ending in "<queue>.msg"
        try:
            with open(partial, "wb") as file:
                file.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
