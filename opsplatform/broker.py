"""kombu's filesystem transport, with messages that appear whole.

The stock transport creates a message file under its final name and then writes
into it, so a consumer listing the folder at that moment can take the empty or
half-written file and fail to decode it (a JSONDecodeError that stops the worker).
Here a message is written under a name no consumer looks for (``.part``) and then
renamed into place; a rename within one folder is atomic, so a consumer sees
either no message or all of it. Everything else is kombu's own transport.

``opsplatform.celery`` registers this class for the ``filesystem://`` scheme.
"""

import contextlib
import os
import uuid
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put ``payload`` onto ``queue``: write a temporary file, then rename it to its message name."""
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = f"{final}.part"
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
