from rest_framework.renderers import BaseRenderer


class CSVRenderer(BaseRenderer):
    """Selected by ``?format=csv``. Views stream the CSV body themselves and answer
    errors as JSON (see ``CsvExportMixin``); this renderer only names the format."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        return str(data or "").encode(self.charset)
