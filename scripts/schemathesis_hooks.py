"""schemathesis hooks for scripts/schemathesis.

Bytes of a tus upload travel as `application/offset+octet-stream`: raw bytes, serialised as
`application/octet-stream` is.
"""

import schemathesis

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")
